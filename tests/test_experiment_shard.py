"""Issue 11 item 5 end to end: `dbtest experiment run DESIGN --shard K/N` as 3 shares joined
by `dbtest experiment merge`, against a single run of the same design and seed.

"Equal" here: every file the same except what measures time. Dropped before comparing:
`generated_at`, `started_at`, `duration_s`, `run_dir` (the folder's name), and the latencies
the use case takes (each sample's `latency_ms`, so the latency percentiles and the baseline's
`content_sha256`, which hashes the samples). The Rust unit test
`shard::tests::three_shares_merged_equal_one_run` compares the rest byte for byte with an
engine whose latencies are fixed."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parent / "data" / "experiment"
TIMEOUT_S = 60
KEY = "shard-signing-key-for-tests-0123456789"
TIMELESS = ("generated_at", "started_at", "duration_s", "run_dir", "latency_ms", "content_sha256")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(DATA, root)
    return root


def dbtest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTIFACT_", "DBTEST_SIGNING"))}
    env["DBTEST_SIGNING_KEY"] = KEY
    return subprocess.run(
        [sys.executable, "-m", "dbtest", "experiment", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )


def design(root: Path, **fields: Any) -> str:
    doc = {
        "experiment": "shards", "use_case": "artifacts.formula", "samples": 20, "seed": 11,
        "concurrency": 4, "factors": {"model": ["small", "large"]}, "success": "ok",
        "artifacts": [
            {"sink": "csv", "path": "results.csv"},
            {"sink": "jsonl", "path": "results.jsonl"},
            {"sink": "html", "path": "report.html"},
            {"sink": "signed", "key_env": "DBTEST_SIGNING_KEY", "consumes": ["csv", "jsonl"]},
        ],
        **fields,
    }
    for key in [k for k, v in fields.items() if v is None]:
        del doc[key]
    (root / "d.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return "d.yaml"


def timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: timeless(v) for k, v in value.items() if k not in TIMELESS}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def samples(run: Path) -> list[Any]:
    lines = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines() if line]
    return sorted((timeless(r) for r in lines), key=lambda r: (r["config_id"], r["index"]))


def csv_rows(run: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO((run / "results.csv").read_text())))
    return [{k: v for k, v in r.items() if k not in TIMELESS} for r in rows]


def test_three_shares_merged_equal_a_single_run(project: Path) -> None:
    d = design(project)
    for k in (1, 2, 3):
        r = dbtest(project, "run", d, "--shard", f"{k}/3", "--out", f"share{k}")
        assert r.returncode == 0, r.stderr
        assert f"(share {k}/3: " in r.stderr
        assert f"share {k}/3: join the shares with `dbtest experiment merge RUN_DIR...`" in r.stdout
    share2 = samples(project / "share2")
    assert sorted({s["index"] for s in share2}) == [1, 4, 7, 10, 13, 16, 19]
    assert len(share2) == 14  # both configurations

    r = dbtest(project, "run", d, "--out", "single")
    assert r.returncode == 0, r.stderr
    r = dbtest(project, "merge", "share3", "share1", "share2", "--out", "merged")
    assert r.returncode == 0, r.stderr
    assert "merged 3 shares (share1, share2, share3) -> merged/: samples.jsonl (40 samples)" in r.stdout
    assert "wrote artifacts: results.csv, results.jsonl, report.html, manifest.json, manifest.json.sig" in r.stdout

    merged, single = project / "merged", project / "single"
    files = sorted(p.name for p in (single / "baselines").iterdir())
    assert files == sorted(p.name for p in (merged / "baselines").iterdir()) and len(files) == 2
    for name in files:
        a = yaml.safe_load((merged / "baselines" / name).read_text())
        b = yaml.safe_load((single / "baselines" / name).read_text())
        assert timeless(a) == timeless(b), name
        assert a["samples_run"] == 20 and a["design"]["seed"] == 11
    a = json.loads((merged / "summary.json").read_text())
    b = json.loads((single / "summary.json").read_text())
    assert a["run_dir"] == "merged" and "shard" not in a
    assert timeless(a) == timeless(b)
    assert samples(merged) == samples(single)
    assert csv_rows(merged) == csv_rows(single)
    jsonl = [sorted((timeless(json.loads(x)) for x in (run / "results.jsonl").read_text().splitlines()),
                    key=json.dumps) for run in (merged, single)]
    assert jsonl[0] == jsonl[1]
    # The merged bundle is signed and verifies; `report` renders it again.
    r = dbtest(project, "verify-bundle", "merged", "--key-env", "DBTEST_SIGNING_KEY")
    assert r.returncode == 0, r.stdout + r.stderr
    assert dbtest(project, "report", "merged").returncode == 0
    merged_from = json.loads((merged / "run.json").read_text())["merged_from"]
    assert [m["shard"] for m in merged_from] == ["1/3", "2/3", "3/3"]


def test_merge_refuses_what_is_not_one_run(project: Path) -> None:
    d = design(project, samples=6, artifacts=[])
    for k in (1, 2):
        assert dbtest(project, "run", d, "--shard", f"{k}/2", "--out", f"s{k}").returncode == 0
    r = dbtest(project, "merge", "s1", "--out", "m")
    assert r.returncode == 4
    assert "share 2/2 is missing: run it with `--shard`, then merge every share" in r.stderr
    r = dbtest(project, "merge", "s1", "s1", "s2", "--out", "m")
    assert r.returncode == 4
    assert "share 1/2 is given more than once (s1, s1): shares must not overlap" in r.stderr
    d2 = design(project, samples=6, artifacts=[], seed=12)
    assert dbtest(project, "run", d2, "--shard", "2/2", "--out", "other").returncode == 0
    r = dbtest(project, "merge", "s1", "other", "--out", "m")
    assert r.returncode == 4 and "s1 and other have different seeds (11 and 12)" in r.stderr
    assert not (project / "m").exists()
    assert dbtest(project, "merge", "s1", "s2", "--out", "m").returncode == 0


def test_a_share_needs_the_designs_seed(project: Path) -> None:
    d = design(project, seed=None, artifacts=[])
    r = dbtest(project, "run", d, "--shard", "1/2")
    assert r.returncode == 4
    assert "d.yaml: --shard 1/2 needs the design's `seed:`" in r.stderr
    r = dbtest(project, "run", design(project, artifacts=[]), "--shard", "3/2")
    assert r.returncode == 4 and "--shard 3/2: give the share as K/N" in r.stderr
    assert not (project / "experiments").exists()
