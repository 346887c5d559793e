"""A design's own Python middleware (`- python: "module:Class"`, DESIGN §8), a models file the
project's designs share (`[tool.dbtest.experiment] models = "models.yaml"`), and a
probabilistic test over a spec of a design without Python, end to end against dbtest's
local server (`dbtest._core.MockLlmServer`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dbtest import _core

KEY = "sk-local-test-key-1234"
SECRET = "Zorblax"
TICKETS = (
    "text,expected\n"
    f"{SECRET} was charged twice,billing\n"
    f"The app crashes when {SECRET} starts it,bug\n"
)
SCRIPT: dict[str, Any] = {
    "api_key": KEY,
    "rules": [
        # A request that still names the customer is answered wrong: a leak fails samples.
        {"match": SECRET, "reply": '{"category": "leaked"}'},
        {"match": "The reply to judge", "reply": '{"score": 5}'},
        {"match": "charged", "reply": '{"category": "billing"}'},
        {"match": "crashes", "reply": '{"category": "bug"}'},
    ],
}
MODELS = {
    "small": {"provider": "openai", "model": "mini", "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY",
              "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}},
    "big": {"provider": "openai", "model": "large", "base_url_env": "MOCK_URL", "api_key_env": "MOCK_KEY",
            "price": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}},
}

MIDDLEWARE = f'''
import asyncio
import threading


class Redact:
    """Replaces the customer's name in every message, changing the request in place."""

    def before_request(self, request):
        # A sync hook must not block the event loop: it runs on a thread without one.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise AssertionError("a sync hook ran on the event loop")
        for m in request["messages"]:
            m["content"] = m["content"].replace("{SECRET}", "[NAME]")


class RedactAsync:
    """The same, async, returning a new request."""

    async def before_request(self, request):
        # An async hook runs on the run's own loop (asyncio.run's, in the main thread).
        assert threading.current_thread() is threading.main_thread(), "not on the run's loop"
        await asyncio.sleep(0)
        messages = [dict(m, content=m["content"].replace("{SECRET}", "[NAME]")) for m in request["messages"]]
        return {{"messages": messages, "params": request["params"]}}


class Refuse:
    def before_request(self, request):
        raise ValueError("tickets may not leave the building")


class CheckReply:
    """An output check: a reply that is not JSON is refused."""

    async def after_response(self, request, reply):
        assert reply["json"] is not None, "the reply is not JSON"
        return reply["text"].upper()


class CheckReplySync:
    """The same, sync, changing the reply in place."""

    def after_response(self, request, reply):
        assert reply["json"] is not None, "the reply is not JSON"
        reply["text"] = reply["text"].upper()


class Nothing:
    pass
'''


def design(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "experiment": "ticket-triage",
        "dataset": {"path": "tickets.csv"},
        "models": MODELS,
        "prompt": {"user": "Ticket: {{ row.text }}"},
        "factors": {"model": ["small"]},
        "samples": 10,
        "concurrency": 4,
        "success": "json.category == row.expected",
        "middleware": [{"python": "mw:Redact"}],
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.fixture
def server() -> Iterator[Any]:
    srv = _core.MockLlmServer(json.dumps(SCRIPT))
    yield srv
    srv.close()


def dbtest(project: Path, server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MOCK_URL=server.url, MOCK_KEY=KEY)
    return subprocess.run([sys.executable, "-m", "dbtest", *args], check=False, cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


def project(tmp_path: Path, doc: dict[str, Any], pyproject: str = "[tool.dbtest]\n") -> Path:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "tickets.csv").write_text(TICKETS)
    (tmp_path / "mw.py").write_text(MIDDLEWARE)
    (tmp_path / "triage.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path


def samples(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("target", ["mw:Redact", "mw:RedactAsync"])
def test_a_python_middleware_changes_what_is_sent(tmp_path: Path, server: Any, target: str) -> None:
    p = project(tmp_path, design(middleware=[{"pii_mask": {"kinds": ["email"]}}, {"python": target}]))
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 0, done.stderr
    records = samples(p / "r")
    # Every sample was answered as a redacted request is: the server never saw the name.
    assert [r["outcome"] for r in records] == ["success"] * 10, records
    assert SECRET not in json.dumps(server.stats()["last_request"])
    assert "[NAME]" in json.dumps(server.stats()["last_request"])


USE_CASES = '''
import dbtest


@dbtest.use_case("triage.async")
async def triage(ctx):
    reply = await ctx.llm.chat("Ticket: " + ctx.row["text"])
    return {"ok": (reply.json or {}).get("category") == ctx.row["expected"]}


@dbtest.use_case("triage.sync")
def triage_sync(ctx):
    reply = ctx.llm.chat_sync("Ticket: " + ctx.row["text"])
    return {"ok": (reply.json or {}).get("category") == ctx.row["expected"]}
'''


@pytest.mark.parametrize("use_case", ["triage.async", "triage.sync"])
@pytest.mark.parametrize("target", ["mw:Redact", "mw:RedactAsync"])
def test_a_python_use_case_calls_through_python_middleware(tmp_path: Path, server: Any, use_case: str,
                                                           target: str) -> None:
    p = project(tmp_path, design(use_case=use_case, prompt=None, success="ok", middleware=[{"python": target}]),
                pyproject="[tool.dbtest.experiment]\npaths = [\"cases\"]\n")
    (p / "cases").mkdir()
    (p / "cases" / "usecase_triage.py").write_text(USE_CASES)
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in samples(p / "r")] == ["success"] * 10, samples(p / "r")
    assert SECRET not in json.dumps(server.stats()["last_request"])


def test_a_middleware_that_raises_fails_the_sample_and_sends_nothing(tmp_path: Path, server: Any) -> None:
    p = project(tmp_path, design(middleware=[{"python": "mw:Refuse"}]))
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 0, done.stderr
    records = samples(p / "r")
    assert {r["outcome"] for r in records} == {"failure"}
    assert all("tickets may not leave the building" in r["message"] for r in records), records[0]
    assert all("mw:Refuse" in r["message"] for r in records)
    assert server.stats()["total"] == 0


@pytest.mark.parametrize("target", ["mw:CheckReply", "mw:CheckReplySync"])
def test_an_output_check_refuses_a_reply_and_its_cost_counts(tmp_path: Path, target: str) -> None:
    script = dict(SCRIPT, rules=[{"match": "charged", "reply": "not json"},
                                 {"match": "crashes", "reply": '{"category": "bug"}'}])
    srv = _core.MockLlmServer(json.dumps(script))
    try:
        # The criterion reads the reply as the middleware rewrote it (upper case).
        doc = design(middleware=[{"python": "mw:Redact"}, {"python": target}],
                     success="json.CATEGORY == 'BUG'")
        p = project(tmp_path, doc)
        done = dbtest(p, srv, "experiment", "run", "triage.yaml", "--out", "r")
        assert done.returncode == 0, done.stderr
        for r in samples(p / "r"):
            if r["index"] % 2 == 0:
                assert r["outcome"] == "failure" and "the reply is not JSON" in r["message"], r
                assert r["cost_usd"] > 0, r
            else:
                assert r["outcome"] == "success", r
    finally:
        srv.close()


@pytest.mark.parametrize(("target", "expected"), [
    ("nomodule:Redact", "cannot import `nomodule`"),
    ("mw:Missing", "`mw` has no `Missing`"),
    ("mw:Nothing", "has neither before_request(request) nor after_response(request, reply)"),
])
def test_a_bad_target_is_a_usage_error_before_any_call(tmp_path: Path, server: Any, target: str,
                                                       expected: str) -> None:
    p = project(tmp_path, design(middleware=[{"python": target}]))
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 4, done.stdout + done.stderr
    assert f'triage.yaml: middleware python "{target}"' in done.stderr, done.stderr
    assert expected in done.stderr, done.stderr
    assert server.stats()["total"] == 0


def approve(p: Path, server: Any, run: str) -> dict[str, Any]:
    baseline = p / run / "baselines" / "model=small.yaml"
    done = dbtest(p, server, "experiment", "approve", str(baseline), "--by", "Ana")
    assert done.returncode == 0, done.stderr
    spec: dict[str, Any] = yaml.safe_load(next((p / "specs").glob("*.yaml")).read_text())
    return spec


def test_a_spec_of_a_design_with_python_middleware_verifies_through_it(tmp_path: Path, server: Any) -> None:
    p = project(tmp_path, design(samples=30, middleware=[{"python": "mw:RedactAsync"}]))
    assert dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r").returncode == 0
    approve(p, server, "r")
    before = server.stats()["total"]
    (p / "elsewhere").mkdir()
    env = dict(os.environ, MOCK_URL=server.url, MOCK_KEY=KEY)
    verify = subprocess.run([sys.executable, "-m", "dbtest", "experiment", "verify", "ticket-triage:v1"],
                            check=False, cwd=p / "elsewhere", env=env, capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert server.stats()["total"] > before
    assert SECRET not in json.dumps(server.stats()["last_request"])


SHARED = "[tool.dbtest.experiment]\nmodels = \"models.yaml\"\n"


def test_designs_share_a_models_file_and_the_spec_keeps_what_ran(tmp_path: Path, server: Any) -> None:
    # The design defines `local` itself; `small` and the judge's `big` come from the file.
    p = project(tmp_path, design(models={"local": MODELS["small"]}, samples=30, factors={"model": ["small", "local"]},
                                 judge={"model": "big", "rubric": "Reply as JSON {\"score\": n}",
                                        "pass_if": "score >= 4"}),
                pyproject=SHARED)
    (p / "models.yaml").write_text(yaml.safe_dump({"models": dict(MODELS, unused=MODELS["big"])}))
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 0, done.stderr
    assert {r["config_id"] for r in samples(p / "r")} == {"model=small", "model=local"}
    spec = approve(p, server, "r")
    # The spec keeps the models the run called (the shared ones it named, and its own), so
    # verify works after models.yaml changes.
    assert sorted(spec["ran_with"]["models"]) == ["big", "local", "small"]
    (p / "models.yaml").write_text("models: {}\n")
    verify = dbtest(p, server, "experiment", "verify", "ticket-triage:v1")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_use_case_naming_none_of_the_shared_models_needs_no_key(tmp_path: Path) -> None:
    # Its `model` factor names its own stand-ins; the models file's keys are not set.
    p = project(tmp_path, {"experiment": "stand-in", "use_case": "stand.in", "samples": 5,
                           "factors": {"model": ["tiny"]}},
                pyproject=SHARED + 'paths = ["cases"]\n')
    (p / "models.yaml").write_text(yaml.safe_dump({"models": MODELS}))
    (p / "cases").mkdir()
    (p / "cases" / "usecase_stand_in.py").write_text(
        "import dbtest\n\n\n@dbtest.use_case('stand.in')\ndef stand_in(ctx):\n    return ctx.factors['model'] == 'tiny'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("MOCK_URL", "MOCK_KEY")}
    done = subprocess.run([sys.executable, "-m", "dbtest", "experiment", "run", "triage.yaml", "--out", "r"],
                          check=False, cwd=p, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [r["outcome"] for r in samples(p / "r")] == ["success"] * 5


@pytest.mark.parametrize(("content", "expected"), [
    (None, "models.yaml: no such file"),
    ("models: [oops", "models.yaml: not valid YAML"),
    ("small: {provider: openai}\n", "needs a `models:` mapping"),
])
def test_a_missing_or_malformed_models_file_is_named(tmp_path: Path, server: Any, content: str | None,
                                                     expected: str) -> None:
    p = project(tmp_path, design(models=None), pyproject=SHARED)
    if content is not None:
        (p / "models.yaml").write_text(content)
    done = dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r")
    assert done.returncode == 4, done.stdout + done.stderr
    assert '[tool.dbtest.experiment] models = "models.yaml"' in done.stderr, done.stderr
    assert expected in done.stderr, done.stderr
    assert server.stats()["total"] == 0


PROBABILISTIC = '''
import dbtest

SEEN = []


@dbtest.probabilistic_test(spec="ticket-triage:v1")
def test_triage(sample):
    assert set(sample) >= {"text", "json", "row", "usage", "latency_ms", "cost_usd", "judge"}, sorted(sample)
    assert sample["usage"]["input_tokens"] > 0
    # A stricter check than the spec's: bug tickets must not be answered at all.
    assert sample["row"]["expected"] != "bug" or STRICT is False, "bug ticket answered"


STRICT = False
'''


@pytest.mark.parametrize("strict", [False, True])
def test_a_probabilistic_test_sees_every_sample_of_a_prompt_spec(tmp_path: Path, server: Any,
                                                                 strict: bool) -> None:
    doc = design(samples=40,
                 judge={"model": "big", "rubric": "Reply as JSON {\"score\": n}", "pass_if": "score >= 4"})
    p = project(tmp_path, doc, pyproject="[tool.dbtest]\npaths = [\"tests\"]\n")
    assert dbtest(p, server, "experiment", "run", "triage.yaml", "--out", "r").returncode == 0
    approve(p, server, "r")
    (p / "tests").mkdir()
    (p / "tests" / "test_triage.py").write_text(PROBABILISTIC.replace("STRICT = False", f"STRICT = {strict}"))
    done = dbtest(p, server, "unit", "--json", "report.json")
    report = json.loads((p / "report.json").read_text())
    [test] = report["tests"]
    if not strict:
        assert done.returncode == 0, done.stdout + done.stderr
        assert test["outcome"] == "passed", test
    else:
        # Half the samples fail the test's own check: the verdict fails.
        assert done.returncode == 1, done.stdout + done.stderr
        assert test["outcome"] == "failed", test
        assert "FAIL ticket-triage:v1" in test["message"], test["message"]
