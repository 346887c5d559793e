"""`dbtest experiment` end to end: run -> approve -> verify, the errors a user can make, and
resume, budgets and interruption. Each test copies tests/data/experiment into a temporary
folder and runs `python -m dbtest experiment ...` there."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parent / "data" / "experiment"
TIMEOUT_S = 60


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(DATA, root)
    return root


def dbtest(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COIN_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "dbtest", "experiment", *args],
        cwd=root, env=full_env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )


def design(root: Path, name: str = "d.yaml", **fields: Any) -> str:
    doc = {"experiment": "coin-exp", "use_case": "coin", "samples": 100, **fields}
    (root / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return name


def run_dir(root: Path, experiment: str = "coin-exp") -> Path:
    (found,) = sorted((root / "experiments" / experiment).iterdir())
    return found


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def log_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_run_approve_verify_pass_and_a_quality_drop_fails_early(project: Path) -> None:
    name = design(project, samples=200, concurrency=16, factors={"level": ["a", "b"]}, success="ok",
                  seed=11, budgets={"tokens": 100000})
    r = dbtest(project, "run", name)
    assert r.returncode == 0, r.stderr
    folder = run_dir(project)
    assert "model" not in r.stdout and "level=a" in r.stdout
    records = log_records(folder)
    assert len(records) == 400
    assert Counter(rec["config_id"] for rec in records) == {"level=a": 200, "level=b": 200}
    base = load(folder / "baselines" / "level=a.yaml")
    assert base["schema"] == "dbtest.baseline/1"
    for key in ("use_case", "experiment", "config_id", "factors", "generated_at", "samples_planned",
                "samples_run", "successes", "failures", "errors", "pass_rate", "wilson_low",
                "wilson_high", "confidence", "latency_ms", "tokens", "cost_usd", "termination",
                "content_sha256"):
        assert key in base, key
    assert (base["successes"], base["failures"], base["errors"]) == (180, 20, 0)
    assert base["termination"] == "completed"
    assert base["tokens"] == 2000
    assert set(base["latency_ms"]) == {"p50", "p90", "p95", "p99"}
    assert base["factors"] == {"level": "a"}
    summary = json.loads((folder / "summary.json").read_text())
    assert [c["config_id"] for c in summary["configurations"]] == ["level=a", "level=b"]
    assert sum(c["best"] for c in summary["configurations"]) == 1
    assert "★" in (folder / "SUMMARY.md").read_text()
    # The use case saw its factors, index and a reproducible seed.
    first = next(rec for rec in records if rec["config_id"] == "level=b" and rec["index"] == 3)
    assert first["data"]["factors"] == {"level": "b"} and first["data"]["index"] == 3
    assert first["seed"] == first["data"]["seed"]

    baseline = str((folder / "baselines" / "level=a.yaml").relative_to(project))
    r = dbtest(project, "approve", baseline)
    assert r.returncode == 4 and "--by NAME" in r.stderr
    r = dbtest(project, "approve", baseline, "--by", "ana", "--notes", "first")
    assert r.returncode == 0, r.stderr
    spec = load(project / "specs" / "coin.v1.yaml")
    assert list(spec) == ["schema", "spec_id", "use_case", "version", "factors", "success", "samples",
                          "confidence", "min_pass_rate", "threshold_origin", "baseline", "budgets",
                          "approved_by", "approved_at", "expires_at", "notes", "ran_with"]
    assert spec["spec_id"] == "coin:v1" and spec["samples"] == 200 and spec["success"] == "ok"
    assert spec["threshold_origin"] == "empirical" and 0.8 < spec["min_pass_rate"] < 0.9
    assert spec["baseline"]["path"] == baseline and spec["baseline"]["successes"] == 180
    assert spec["budgets"] == {"tokens": 100000}
    # A second approval is version 2.
    r = dbtest(project, "approve", baseline, "--by", "ana")
    assert r.returncode == 0 and (project / "specs" / "coin.v2.yaml").exists()

    r = dbtest(project, "verify", "coin:v1", "--json", "v.json")
    assert r.returncode == 0, r.stdout + r.stderr
    verdict = json.loads((project / "v.json").read_text())
    assert verdict["verdict"] == "PASS"
    for key in ("successes", "samples_run", "samples_planned", "threshold", "threshold_origin",
                "confidence", "interval", "termination"):
        assert key in verdict, key
    assert r.stdout.startswith("PASS coin:v1: ")
    for part in ("successes", "observed rate", "threshold", "(empirical", "confidence 0.95", "interval ["):
        assert part in r.stdout, part

    # A 30-point drop: FAIL, long before the 200 planned samples.
    r = dbtest(project, "verify", "coin:v1", "--json", "v.json", env={"COIN_TENTHS": "6"})
    assert r.returncode == 1, r.stdout + r.stderr
    verdict = json.loads((project / "v.json").read_text())
    assert verdict["verdict"] == "FAIL"
    assert verdict["termination"] == "failure_unrecoverable"
    assert verdict["samples_run"] < 120
    assert "failure unrecoverable" in r.stdout
    # Without :vN, the latest version.
    r = dbtest(project, "verify", "coin")
    assert r.returncode == 0 and "coin:v2" in r.stdout


def test_missing_expired_and_unapproved_specs(project: Path) -> None:
    r = dbtest(project, "verify", "coin:v3", "--json", "v.json")
    assert r.returncode == 6, r.stderr
    assert "INCONCLUSIVE coin:v3" in r.stdout and "no spec file specs/coin.v3.yaml" in r.stdout
    assert json.loads((project / "v.json").read_text())["termination"] == "spec_missing"

    name = design(project, samples=50, success="ok")
    assert dbtest(project, "run", name).returncode == 0
    baseline = str(run_dir(project) / "baselines" / "default.yaml")
    assert dbtest(project, "approve", baseline, "--by", "ana").returncode == 0
    path = project / "specs" / "coin.v1.yaml"
    spec = load(path)

    unapproved = {k: v for k, v in spec.items() if k != "approved_by"}
    path.write_text(yaml.safe_dump(unapproved, sort_keys=False))
    r = dbtest(project, "verify", "coin:v1")
    assert r.returncode == 4
    assert "not approved" in r.stderr and "coin.v1.yaml" in r.stderr

    path.write_text(yaml.safe_dump({**spec, "expires_at": "2020-01-01T00:00:00Z"}, sort_keys=False))
    r = dbtest(project, "verify", "coin:v1")
    assert r.returncode == 6 and "expired" in r.stdout

    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 86400))
    path.write_text(yaml.safe_dump({**spec, "expires_at": soon}, sort_keys=False))
    r = dbtest(project, "verify", "coin:v1")
    assert r.returncode == 0 and "warning: spec coin:v1 expires" in r.stderr

    # The baseline changed since approval: a warning, the verdict stands.
    Path(baseline).write_text(Path(baseline).read_text() + "# edited\n")
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    r = dbtest(project, "verify", "coin:v1")
    assert r.returncode == 0 and "baseline file changed" in r.stderr


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("experiment: x\nuse_case: coin\nsamples: 10\nfactors: {a: [1]\n", ["d.yaml", "not valid YAML", "line 5"]),
        ("experiment: x\nuse_case: coin\nsamples: 10\nbudgets: {tokenz: 5}\n",
         ["d.yaml", "`budgets.tokenz`", "time_s, tokens, cost_usd"]),
        ("experiment: x\nuse_case: coin\nsamples: 10\nconcurency: 2\n", ["d.yaml", "`concurency`", "concurrency"]),
        ("experiment: x\nuse_case: coin\nsamples: 0\n", ["d.yaml", "`samples`", "at least 1"]),
        ("experiment: x\nuse_case: coin\nsamples: 5\nfactors: {a: 1}\n", ["d.yaml", "`factors.a` must be a list"]),
        ("experiment: x\nuse_case: coin\nsamples: 5\nsuccess: 'ok and'\n", ["d.yaml", "`success`", "column 7"]),
        ("experiment: x\nuse_case: nope\nsamples: 5\n", ["d.yaml", "`use_case`", "unknown use case 'nope'",
                                                         "coin, coin.flaky, coin.sample, coin.sync, other"]),
        ("", ["d.yaml", "empty"]),
        # Once a segfault (exit 139): nesting is bounded before the parser recurses.
        ("experiment: x\nuse_case: coin\nsamples: 5\nsuccess: '" + "(" * 500 + "ok" + ")" * 500 + "'\n",
         ["d.yaml", "`success`", "nests deeper than 100 levels"]),
        ("experiment: x\nuse_case: coin\nsamples: 5\nsuccess: '" + "(" * 50_000 + "ok" + ")" * 50_000 + "'\n",
         ["d.yaml", "`success`", "characters long"]),
    ],
    ids=["yaml", "budget-key", "top-key", "samples", "factor", "expression", "use-case", "empty", "too-deep",
         "too-long"],
)
def test_design_errors_exit_4_naming_the_file_and_key(project: Path, text: str, needles: list[str]) -> None:
    (project / "d.yaml").write_text(text)
    r = dbtest(project, "run", "d.yaml")
    assert r.returncode == 4, r.stdout + r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)
    assert not (project / "experiments").exists()


def test_use_cases_load_lazily(project: Path) -> None:
    # A broken use-case file that does not name the use case is never imported.
    (project / "cases" / "usecase_broken.py").write_text("raise RuntimeError('imported!')\n")
    name = design(project, use_case="other", samples=3)
    r = dbtest(project, "run", name)
    assert r.returncode == 0, r.stderr


def test_sync_use_cases_samples_and_failed_checks(project: Path) -> None:
    name = design(project, use_case="coin.sync", samples=40, concurrency=4)
    assert dbtest(project, "run", name).returncode == 0
    base = load(run_dir(project) / "baselines" / "default.yaml")
    assert (base["successes"], base["failures"]) == (36, 4)

    name = design(project, "s.yaml", experiment="samples", use_case="coin.sample", samples=20,
                  success="ok and level == 2", factors={"level": [1, 2]})
    r = dbtest(project, "run", name)
    assert r.returncode == 0, r.stderr
    folder = run_dir(project, "samples")
    one = load(folder / "baselines" / "level=1.yaml")
    two = load(folder / "baselines" / "level=2.yaml")
    # An AssertionError in the use case is a failed sample, not an error.
    assert (two["successes"], two["failures"], two["errors"]) == (18, 2, 0)
    assert (one["successes"], one["failures"]) == (0, 20)
    summary = json.loads((folder / "summary.json").read_text())
    messages = summary["configurations"][1]["top_messages"]
    assert messages[0]["outcome"] == "failure" and "index ends in 9" in messages[0]["message"]


def test_infrastructure_errors_are_retried_and_counted_apart(project: Path) -> None:
    name = design(project, use_case="coin.flaky", samples=12, retries=2)
    assert dbtest(project, "run", name).returncode == 0
    folder = run_dir(project)
    base = load(folder / "baselines" / "default.yaml")
    assert (base["successes"], base["failures"], base["errors"]) == (11, 0, 1)
    attempts = {rec["index"]: rec["attempts"] for rec in log_records(folder)}
    assert attempts[4] == 3 and attempts[3] == 2 and attempts[1] == 1
    error = next(rec for rec in log_records(folder) if rec["outcome"] == "error")
    assert "ConnectionError: reset on attempt 2" in error["message"]


def test_budgets_stop_the_run_with_the_reason(project: Path) -> None:
    name = design(project, samples=1000, concurrency=4, budgets={"tokens": 200}, factors={"level": [1, 2]})
    r = dbtest(project, "run", name)
    assert r.returncode == 0, r.stderr
    folder = run_dir(project)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["termination"] == "budget_tokens"
    for config in ("level=1", "level=2"):
        base = load(folder / "baselines" / f"{config}.yaml")
        assert base["termination"] == "budget_tokens"
        assert 8 <= base["samples_run"] <= 14
    assert "token budget" in r.stdout

    name = design(project, "t.yaml", experiment="timed", samples=100000, concurrency=2, budgets={"time_s": 0.5})
    started = time.monotonic()
    r = dbtest(project, "run", name, env={"COIN_SLEEP": "0.05"})
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 10
    base = load(run_dir(project, "timed") / "baselines" / "default.yaml")
    assert base["termination"] == "budget_time"
    assert 10 <= base["samples_run"] <= 40


def test_an_interrupted_run_resumes_without_duplicates(project: Path) -> None:
    name = design(project, samples=150, concurrency=5, factors={"level": [1, 2]}, seed=3, success="ok")
    env = {**os.environ, "COIN_SLEEP": "0.02"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbtest", "experiment", "run", name, "--out", "runs/one"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    log = project / "runs" / "one" / "samples.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 60:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 2, out + err
    assert "--resume runs/one" in out
    folder = project / "runs" / "one"
    first = log_records(folder)
    assert 60 <= len(first) < 300
    for config in ("level=1", "level=2"):
        assert load(folder / "baselines" / f"{config}.yaml")["termination"] == "interrupted"

    # --out on a folder that holds a run is refused; --resume continues it.
    r = dbtest(project, "run", name, "--out", "runs/one")
    assert r.returncode == 4 and "--resume" in r.stderr
    r = dbtest(project, "run", name, "--resume", "runs/one")
    assert r.returncode == 0, r.stderr
    records = log_records(folder)
    keys = [(rec["config_id"], rec["index"]) for rec in records]
    assert len(keys) == len(set(keys)) == 300
    assert records[: len(first)] == first
    for config in ("level=1", "level=2"):
        base = load(folder / "baselines" / f"{config}.yaml")
        assert base["termination"] == "completed" and base["samples_run"] == 150
        assert (base["successes"], base["failures"]) == (135, 15)

    # The same seed gives the same samples: a fresh run's content hash matches.
    r = dbtest(project, "run", name, "--out", "runs/two")
    assert r.returncode == 0
    for config in ("level=1", "level=2"):
        a = load(folder / "baselines" / f"{config}.yaml")
        b = load(project / "runs" / "two" / "baselines" / f"{config}.yaml")
        assert a["successes"] == b["successes"]
        seeds_a = sorted(rec["seed"] for rec in log_records(folder) if rec["config_id"] == config)
        seeds_b = sorted(rec["seed"] for rec in log_records(project / "runs" / "two") if rec["config_id"] == config)
        assert seeds_a == seeds_b

    # A design whose factors changed cannot resume the run.
    changed = design(project, samples=150, concurrency=5, factors={"level": [1, 3]}, seed=3, success="ok")
    r = dbtest(project, "run", changed, "--resume", "runs/one")
    assert r.returncode == 4 and "`factors` differs" in r.stderr


def test_contractual_specs_and_infeasible_sample_counts(project: Path) -> None:
    name = design(project, samples=60, success="ok")
    assert dbtest(project, "run", name).returncode == 0
    baseline = str(run_dir(project) / "baselines" / "default.yaml")
    r = dbtest(project, "approve", baseline, "--by", "ana", "--min-pass-rate", "0.99", "--origin", "sla")
    assert r.returncode == 4
    assert "at least 268 samples" in r.stderr
    r = dbtest(project, "approve", baseline, "--by", "ana", "--min-pass-rate", "0.8")
    assert r.returncode == 4 and "--origin" in r.stderr
    r = dbtest(project, "approve", baseline, "--by", "ana", "--min-pass-rate", "0.8", "--origin", "slo",
               "--samples", "100", "--expires-days", "30")
    assert r.returncode == 0, r.stderr
    spec = load(project / "specs" / "coin.v1.yaml")
    assert (spec["min_pass_rate"], spec["threshold_origin"], spec["samples"]) == (0.8, "slo", 100)
    r = dbtest(project, "verify", "coin:v1")
    assert r.returncode == 0 and "(slo)" in r.stdout
    r = dbtest(project, "verify", "coin:v1", env={"COIN_TENTHS": "7"})
    assert r.returncode == 1, r.stdout


def test_too_many_infrastructure_errors_are_inconclusive(project: Path) -> None:
    name = design(project, use_case="coin.sync", samples=30)
    assert dbtest(project, "run", name).returncode == 0
    baseline = str(run_dir(project) / "baselines" / "default.yaml")
    assert dbtest(project, "approve", baseline, "--by", "ana").returncode == 0
    spec = load(project / "specs" / "coin.sync.v1.yaml")
    (project / "cases" / "usecase_coin.py").write_text(
        (project / "cases" / "usecase_coin.py").read_text().replace(
            "    return ctx.index % 10 < _tenths()",
            "    if ctx.index % 2:\n        raise OSError('service down')\n    return ctx.index % 10 < _tenths()",
        )
    )
    assert spec["spec_id"] == "coin.sync:v1"
    r = dbtest(project, "verify", "coin.sync:v1", "--json", "v.json")
    assert r.returncode == 6, r.stdout + r.stderr
    verdict = json.loads((project / "v.json").read_text())
    assert verdict["termination"] == "too_many_errors"
    assert "too many infrastructure errors" in r.stdout


def _approved(project: Path, **fields: Any) -> None:
    name = design(project, samples=100, success="ok", **fields)
    assert dbtest(project, "run", name).returncode == 0
    baseline = str(run_dir(project) / "baselines" / "default.yaml")
    assert dbtest(project, "approve", baseline, "--by", "ana").returncode == 0


def test_run_probabilistic_test_directly(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _approved(project)
    from dbtest._experiment import run_probabilistic_test

    monkeypatch.chdir(project)
    monkeypatch.delenv("COIN_TENTHS", raising=False)
    seen: list[Any] = []

    def test_fn(sample: Any) -> None:
        seen.append(sample)
        assert sample["ok"] in (True, False)

    result = asyncio.run(run_probabilistic_test(test_fn, "coin:v1", str(project)))
    assert result["outcome"] == "passed", result
    assert set(result["verdict"]) >= {"verdict", "successes", "samples_run", "samples_planned", "threshold",
                                      "threshold_origin", "confidence", "interval", "termination"}
    assert seen and isinstance(seen[0], dict)

    # The test's own check fails a third of the samples: the verdict fails.
    def strict(sample: Any) -> None:
        assert sample["index"] % 3, f"index {sample['index']}"

    result = asyncio.run(run_probabilistic_test(strict, "coin:v1", str(project)))
    assert result["outcome"] == "failed", result
    assert "FAIL coin:v1" in result["message"]

    # Another exception in the check fails the sample too.
    def broken(sample: Any) -> None:
        raise KeyError("nope")

    result = asyncio.run(run_probabilistic_test(broken, "coin:v1", str(project)))
    assert result["outcome"] == "failed"

    missing = asyncio.run(run_probabilistic_test(test_fn, "coin:v9", str(project)))
    assert missing["outcome"] == "inconclusive"
    spec = project / "specs" / "coin.v1.yaml"
    spec.write_text(spec.read_text().replace("approved_by: ana", "approved_by: null"))
    unapproved = asyncio.run(run_probabilistic_test(test_fn, "coin:v1", str(project)))
    assert unapproved["outcome"] == "error" and "not approved" in unapproved["message"]
