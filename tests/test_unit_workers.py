"""`--workers`: crashes and hangs are reported as they are, the run goes on and ends in
bounded time; GitHub Actions output, shards and their merge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


def dbtest(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtest", *args],
        cwd=cwd, env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True, text=True, timeout=120,
    )


@pytest.fixture
def crashes(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "crashes", tmp_path / "proj")
    return tmp_path / "proj"


def test_bad_tests_are_reported_as_they_are_and_the_rest_is_intact(crashes: Path) -> None:
    started = time.monotonic()
    run = dbtest(crashes, "unit", "--workers", "2", "--timeout", "2", "--json", "r.json", "--junit-xml", "r.xml")
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stdout + run.stderr
    assert elapsed < 60, "bounded: each hang costs its timeout, not the run"
    report = json.loads((crashes / "r.json").read_text())
    outcomes = {t["id"]: t["outcome"] for t in report["tests"]}
    assert outcomes == {
        "tests/test_bad.py::test_before": "passed",
        "tests/test_bad.py::test_hard_exit": "crashed",
        "tests/test_bad.py::test_between": "passed",
        "tests/test_bad.py::test_segfault": "crashed",
        "tests/test_bad.py::test_sleeping_hang": "timeout",
        "tests/test_bad.py::test_cpu_spin": "timeout",
        "tests/test_bad.py::test_blocks_the_loop": "timeout",
        "tests/test_bad.py::test_after": "passed",
        "tests/test_good.py::test_sync": "passed",
        "tests/test_good.py::test_async": "passed",
    }
    tests = {t["name"]: t for t in report["tests"]}
    assert "exited with code 3" in tests["test_hard_exit"]["message"]
    assert "leaving now" in tests["test_hard_exit"]["stderr"]
    assert "signal 11 (SIGSEGV)" in tests["test_segfault"]["message"]
    assert "about to read address 0" in tests["test_segfault"]["stderr"]
    assert "timed out after 2" in tests["test_sleeping_hang"]["message"]
    # A coroutine that never yields cannot be cancelled: the parent stops its worker.
    assert tests["test_blocks_the_loop"]["message"] == "timed out after 2s; its worker was stopped and replaced"
    suites = ET.parse(crashes / "r.xml").getroot()
    assert suites.get("tests") == "10" and suites.get("failures") == "5"
    assert run.stdout.strip().splitlines()[-1] == "5 passed, 5 failed, 0 skipped"


def test_github_actions_gets_annotations_and_a_step_summary(crashes: Path) -> None:
    summary = crashes / "summary.md"
    summary.write_text("earlier step\n")
    run = dbtest(
        crashes, "unit", "tests/test_good.py", "tests/test_bad.py::test_before", "tests/test_bad.py::test_hard_exit",
        "--workers", "1", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert run.returncode == 1
    annotations = [line for line in run.stdout.splitlines() if line.startswith("::error ")]
    assert annotations == [
        "::error file=tests/test_bad.py,line=12,title=crashed tests/test_bad.py%3A%3Atest_hard_exit"
        "::crashed: the worker exited with code 3"
    ]
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "dbtest unit" in text and "test_hard_exit" in text


def test_shards_split_the_files_and_merge_back(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "tests").mkdir(parents=True)
    for i in range(6):
        (proj / "tests" / f"test_{i}.py").write_text(f"def test_a():\n    assert {i} >= 0\n\ndef test_b():\n    pass\n")
    ids: list[set[str]] = []
    for k in (1, 2, 3):
        run = dbtest(proj, "unit", "--shard", f"{k}/3", "--json", f"shard{k}.json")
        assert run.returncode in (0, 5), run.stdout + run.stderr
        report = json.loads((proj / f"shard{k}.json").read_text()) if run.returncode == 0 else {"tests": []}
        ids.append({t["id"] for t in report["tests"]})
    assert sum(len(s) for s in ids) == 12 and len(set().union(*ids)) == 12, "every test in exactly one shard"
    present = [f"shard{k}.json" for k in (1, 2, 3) if (proj / f"shard{k}.json").exists()]
    merged = dbtest(proj, "report", "merge", *present, "--json", "all.json", "--junit-xml", "all.xml")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert json.loads((proj / "all.json").read_text())["summary"]["passed"] == 12
    assert ET.parse(proj / "all.xml").getroot().get("tests") == "12"
    assert merged.stdout.strip().splitlines()[-1] == "12 passed, 0 failed, 0 skipped"


def test_merging_something_else_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    run = dbtest(tmp_path, "report", "merge", "x.json")
    assert run.returncode == 4
    assert "is not a dbtest.report/1 JSON report" in run.stderr
