"""`dbtest experiment` against models (DESIGN §8), end to end, with no Python use case: a
dataset, a Jinja2 prompt, two priced models, a rate limit, middleware and a judge, sent to
dbtest's local OpenAI-compatible server (`dbtest._core.MockLlmServer`) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dbtest import _core

KEY = "sk-local-test-key-1234"
TICKETS = (
    "text,expected\n"
    '"I was charged twice, write to a.b@example.com",billing\n'
    "The app crashes on start,bug\n"
    "Please refund order 4111 1111 1111 1111,billing\n"
)
SCRIPT: dict[str, Any] = {
    "api_key": KEY,
    "latency_ms": 2,
    "rules": [
        {"match": "The reply to judge", "reply": '{"score": 5}'},
        {"match": "charged", "reply": '{"category": "billing"}'},
        {"match": "crashes", "reply": '{"category": "bug"}'},
        {"match": "refund", "reply": "Sorry, I cannot tell."},
    ],
}


def design(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "experiment": "ticket-triage",
        "dataset": {"path": "tickets.csv", "security_level": "official"},
        "models": {
            "small": {"provider": "openai", "model": "mini", "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY",
                      "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6},
                      "rate_limit": {"requests_per_minute": 60000}},
            "big": {"provider": "openai", "model": "large", "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY",
                    "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}},
        },
        "prompt": {"system": "You triage support tickets; reply with JSON.", "user": "Ticket: {{ row.text }}"},
        "factors": {"model": ["small", "big"], "temperature": [0.0, 0.7]},
        "samples": 12,
        "success": "json.category == row.expected and judge",
        "judge": {"model": "big", "rubric": "Is the answer polite? Reply as JSON {\"score\": n}",
                  "pass_if": "score >= 4"},
        "middleware": [{"pii_mask": {"kinds": ["email", "card"]}}, {"audit_log": {"path": "audit.jsonl"}}],
    }
    doc.update(changes)
    return doc


@pytest.fixture
def server() -> Iterator[Any]:
    srv = _core.MockLlmServer(json.dumps(SCRIPT))
    yield srv
    srv.close()


def run(tmp_path: Path, server: Any, doc: dict[str, Any], *args: str, key: str = KEY,
        script: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tickets.csv").write_text(TICKETS)
    (tmp_path / "triage.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    env = dict(os.environ, MOCK_URL=server.url, MOCK_KEY=key)
    return subprocess.run([sys.executable, "-m", "dbtest", "experiment", "run", "triage.yaml", *args],
                          check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def samples(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_a_design_without_python_runs_end_to_end(tmp_path: Path, server: Any) -> None:
    done = run(tmp_path, server, design(), "--out", "r1")
    assert done.returncode == 0, done.stderr
    records = samples(tmp_path / "r1")
    assert len(records) == 4 * 12 and {r["outcome"] for r in records} <= {"success", "failure"}
    # Rows 0 and 1 are answered right and judged polite; row 2's reply is not JSON: a
    # failed sample that says why, not an error.
    for r in records:
        row = r["index"] % 3
        assert r["outcome"] == ("failure" if row == 2 else "success"), r
        assert r["data"]["row"]["expected"] in {"billing", "bug"}
        assert [c["role"] for c in r["calls"]] == ["answer", "judge"]
        assert r["cost_usd"] > 0 and r["tokens"] > 0
        if row == 2:
            assert "not JSON" in r["message"]
    summary = json.loads((tmp_path / "r1" / "summary.json").read_text())
    assert [c["successes"] for c in summary["configurations"]] == [8, 8, 8, 8]
    assert "Compared with the best configuration" in (tmp_path / "r1" / "SUMMARY.md").read_text()
    # pii_mask: the address and the card never left; the audit log has a line per attempt,
    # and no key appears in anything written.
    sent = json.dumps(server.stats()["last_request"])
    assert "example.com" not in sent and "4111" not in sent
    audit = (tmp_path / "r1" / "audit.jsonl").read_text().splitlines()
    assert len(audit) == 4 * 12 * 2
    for path in (tmp_path / "r1").rglob("*"):
        assert path.is_dir() or KEY not in path.read_text(), path
    assert KEY not in done.stdout + done.stderr


def test_a_recorded_run_replays_without_a_request(tmp_path: Path, server: Any) -> None:
    first = run(tmp_path, server, design(), "--out", "rec", "--cache", "record")
    assert first.returncode == 0, first.stderr
    sent = server.stats()["total"]
    again = run(tmp_path, server, design(), "--out", "rep", "--cache", "replay")
    assert again.returncode == 0, again.stderr
    assert server.stats()["total"] == sent, "replay sent requests"
    outcomes = lambda d: sorted((r["config_id"], r["index"], r["outcome"]) for r in samples(tmp_path / d))
    assert outcomes("rep") == outcomes("rec")
    assert all(c["cached"] for r in samples(tmp_path / "rep") for c in r["calls"])


def test_a_429_storm_loses_no_sample(tmp_path: Path) -> None:
    storm = dict(SCRIPT, faults=[{"status": 429, "retry_after_ms": 20, "every": 2},
                                 {"status": 503, "every": 5}])
    srv = _core.MockLlmServer(json.dumps(storm))
    try:
        done = run(tmp_path, srv, design(judge=None, success="json.category == row.expected"), "--out", "s")
        assert done.returncode == 0, done.stderr
        records = samples(tmp_path / "s")
        assert Counter(r["outcome"] for r in records) == {"success": 32, "failure": 16}
        retried = [a for r in records for c in r["calls"] for a in c["attempts"] if a["status"] in (429, 503)]
        assert retried, "the storm was not seen"
        # An attempt after a 429 waited at least the server's retry-after-ms.
        for r in records:
            for c in r["calls"]:
                for before, after in zip(c["attempts"], c["attempts"][1:]):
                    if before["status"] == 429:
                        assert after["wait_ms"] >= 20, c
    finally:
        srv.close()


def test_ctrl_c_stops_a_design_without_python_and_resume_finishes_it(tmp_path: Path) -> None:
    # Runs without Python's event loop (no `python:` middleware): Ctrl-C is the engine's.
    slow = _core.MockLlmServer(json.dumps(dict(SCRIPT, latency_ms=50)))
    try:
        doc = design(judge=None, success="json.category == row.expected", samples=60, concurrency=2,
                     factors={"model": ["small"]})
        (tmp_path / "tickets.csv").write_text(TICKETS)
        (tmp_path / "triage.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        env = dict(os.environ, MOCK_URL=slow.url, MOCK_KEY=KEY)
        command = [sys.executable, "-m", "dbtest", "experiment", "run", "triage.yaml"]
        proc = subprocess.Popen([*command, "--out", "i"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        log = tmp_path / "i" / "samples.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (log.exists() and len(log.read_text().splitlines()) >= 4):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, out + err
        assert "interrupted: finishing the calls in flight" in err
        assert "--resume i" in out
        first = samples(tmp_path / "i")
        assert 4 <= len(first) < 60
        summary = json.loads((tmp_path / "i" / "summary.json").read_text())
        assert summary["termination"] == "interrupted"

        again = subprocess.run([*command, "--resume", "i"], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stderr
        records = samples(tmp_path / "i")
        assert sorted(r["index"] for r in records) == list(range(60))
        assert records[: len(first)] == first
    finally:
        slow.close()


def test_a_wrong_key_stops_the_run_at_once_naming_the_variable(tmp_path: Path, server: Any) -> None:
    done = run(tmp_path, server, design(), "--out", "w", key="sk-wrong")
    assert done.returncode == 4, done.stderr
    assert "401" in done.stderr and "MOCK_KEY" in done.stderr
    assert "sk-wrong" not in done.stdout + done.stderr
    assert server.stats()["total"] < 20, "the run went on after a 401"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"prompt": {"user": "Ticket: {{ row.txt }}"}}, "`prompt.user` line 1"),
    ({"factors": {"model": ["small", "huge"]}}, "names \"huge\", which `models` does not define"),
    ({"judge": {"model": "judge", "rubric": "r", "pass_if": "score > 1"}}, "`judge.model` is `judge`"),
    ({"middleware": [{"pii_mask": {"kind": ["email"]}}]}, "kinds"),
    ({"budgets": {"cost_usd": 1.0}, "models": {"small": {"provider": "openai", "model": "m",
      "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY"}, "big": {"provider": "openai", "model": "m",
      "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY"}}}, "price"),
    ({"models": {"small": {"provider": "openai", "model": "m", "base_url_env": "MOCK_URL", "api_key": "sk-x"},
                 "big": {"provider": "openai", "model": "m", "base_url_env": "MOCK_URL"}}}, "api_key_env"),
])
def test_bad_input_is_refused_before_any_call(tmp_path: Path, server: Any, changes: dict[str, Any],
                                              expected: str) -> None:
    done = run(tmp_path, server, design(**changes), "--out", "bad")
    assert done.returncode == 4, done.stdout + done.stderr
    assert expected in done.stderr, done.stderr
    assert server.stats()["total"] == 0


def test_a_missing_variable_and_a_malformed_row_are_named(tmp_path: Path, server: Any) -> None:
    doc = design()
    doc["models"]["big"]["api_key_env"] = "NOT_SET_ANYWHERE"
    done = run(tmp_path, server, doc, "--out", "m")
    assert done.returncode == 4 and "NOT_SET_ANYWHERE" in done.stderr, done.stderr
    (tmp_path / "bad.csv").write_text("text,expected\nok,bug\none,two,three\n")
    done = run(tmp_path, server, design(dataset={"path": "bad.csv"}), "--out", "m2")
    assert done.returncode == 4 and "bad.csv:3:" in done.stderr, done.stderr
    assert server.stats()["total"] == 0


USE_CASES = '''
import dbtest


@dbtest.use_case("triage.async")
async def triage(ctx):
    reply = await ctx.llm.chat("Ticket: " + ctx.row["text"], temperature=0)
    return {"ok": (reply.json or {}).get("category") == ctx.row["expected"], "attempts": reply.attempts}


@dbtest.use_case("triage.sync")
def triage_sync(ctx):
    reply = ctx.llm.chat_sync([{"role": "user", "content": "Ticket: " + ctx.row["text"]}])
    return {"ok": (reply.json or {}).get("category") == ctx.row["expected"], "cost": reply.cost_usd}
'''


@pytest.mark.parametrize("use_case", ["triage.async", "triage.sync"])
def test_a_python_use_case_calls_models_through_ctx_llm(tmp_path: Path, server: Any, use_case: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.dbtest.experiment]\npaths = ["cases"]\n')
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "usecase_triage.py").write_text(USE_CASES)
    doc = design(use_case=use_case, prompt=None, judge=None, middleware=None, success="ok", samples=9)
    done = run(tmp_path, server, doc, "--out", "py")
    assert done.returncode == 0, done.stderr
    records = samples(tmp_path / "py")
    assert len(records) == 4 * 9
    for r in records:
        # ctx.row is the sample's row; rows 0 and 1 are answered right, row 2 is not JSON.
        assert r["outcome"] == ("failure" if r["index"] % 3 == 2 else "success"), r
        # Usage and cost counted by themselves, and the call kept in the sample log.
        assert r["tokens"] > 0 and r["cost_usd"] > 0
        assert [c["status"] for c in r["calls"]] == ["ok"]
    wrong = run(tmp_path, server, doc, "--out", "py-wrong", key="sk-nope")
    assert wrong.returncode == 4 and "MOCK_KEY" in wrong.stderr, wrong.stderr


def test_an_approved_model_design_verifies_the_same_way(tmp_path: Path, server: Any) -> None:
    # The spec keeps the baseline's models, dataset, prompt, judge and middleware: `verify`
    # samples through them (from another folder too), and --concurrency overrides.
    doc = design(factors={"model": ["small"]}, samples=30, concurrency=4)
    (tmp_path / "pyproject.toml").write_text("[tool.dbtest]\n")
    done = run(tmp_path, server, doc, "--out", "base")
    assert done.returncode == 0, done.stderr
    baseline = tmp_path / "base" / "baselines" / "model=small.yaml"
    env = dict(os.environ, MOCK_URL=server.url, MOCK_KEY=KEY)
    approve = subprocess.run([sys.executable, "-m", "dbtest", "experiment", "approve", str(baseline), "--by", "Ana"],
                             check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert approve.returncode == 0, approve.stderr
    spec = yaml.safe_load(next((tmp_path / "specs").glob("*.yaml")).read_text())
    assert spec["ran_with"]["concurrency"] == 4 and spec["ran_with"]["dataset"]["path"] == "tickets.csv"
    assert spec["ran_with"]["prompt"]["user"] == "Ticket: {{ row.text }}"
    before = server.stats()["total"]
    (tmp_path / "elsewhere").mkdir()
    verify = subprocess.run([sys.executable, "-m", "dbtest", "experiment", "verify", "ticket-triage:v1",
                             "--concurrency", "2", "--json", "v.json"],
                            check=False, cwd=tmp_path / "elsewhere", env=env, capture_output=True, text=True,
                            timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    verdict = json.loads((tmp_path / "elsewhere" / "v.json").read_text())
    assert verdict["verdict"] == "PASS", verdict
    assert server.stats()["total"] > before, "verify sent no request"
