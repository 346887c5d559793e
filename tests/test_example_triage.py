"""examples/experiment's design without Python (triage.yaml), run exactly as its README says:
`python -m dbtest.mockllm --script triage-server.yaml`, then run, record, replay, approve,
verify and the probabilistic test, so that the example cannot rot."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "experiment"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    dest = tmp_path / "experiment"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("experiments", "specs", ".dbtest", "__pycache__"))
    return dest


@pytest.fixture
def server(example: Path) -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "dbtest.mockllm", "--script", "triage-server.yaml", "--port", "0"],
                            cwd=example, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), url
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        # Ctrl-C stops it cleanly.
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_mock/stats", timeout=10) as answer:
        data: dict[str, Any] = json.load(answer)
    return data


def dbtest(example: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LLM_BASE_URL=url, LLM_API_KEY="local-test-key")
    return subprocess.run([sys.executable, "-m", "dbtest", *args], check=False, cwd=example, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_triage_example_runs_as_its_readme_says(example: Path, server: str) -> None:
    done = dbtest(example, server, "experiment", "run", "triage.yaml", "--cache", "record", "--out", "runs/rec")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (example / "runs/rec/samples.jsonl").read_text().splitlines()]
    assert len(records) == 4 * 40
    # The courier ticket is put in the wrong category and the price one is not answered in
    # JSON: 8 of each 10 pass; every reply is judged.
    assert Counter(r["outcome"] for r in records) == {"success": 128, "failure": 32}
    assert all([c["role"] for c in r["calls"]] == ["answer", "judge"] for r in records)
    assert len((example / "runs/rec/audit.jsonl").read_text().splitlines()) >= 4 * 40 * 2
    assert "local-test-key" not in json.dumps(records)
    sent = stats(server)
    assert sent["by_status"].get("429", 0) > 0, "the script's 429s were not seen"
    assert "example.com" not in json.dumps(sent["last_request"])

    replay = dbtest(example, server, "experiment", "run", "triage.yaml", "--cache", "replay", "--out", "runs/rep")
    assert replay.returncode == 0, replay.stderr
    assert stats(server)["total"] == sent["total"], "the replay sent requests"

    baseline = "runs/rec/baselines/model=small,temperature=0.0.yaml"
    approve = dbtest(example, server, "experiment", "approve", baseline, "--by", "Ana Ruiz")
    assert approve.returncode == 0, approve.stderr
    verify = dbtest(example, server, "experiment", "verify", "ticket-triage:v1")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("PASS ticket-triage:v1"), verify.stdout
    unit = dbtest(example, server, "unit", "tests/test_triage_spec.py")
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_a_bad_server_script_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("rules: [{mach: hello, reply: hi}]\n")
    done = subprocess.run([sys.executable, "-m", "dbtest.mockllm", "--script", "bad.yaml"], check=False,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4
    assert "bad.yaml: mock server script: unknown field `mach`" in done.stderr, done.stderr
