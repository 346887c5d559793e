"""DESIGN §9 end to end: the sinks of a design written when `dbtest experiment run` ends,
security levels (a write-down refused before any call), a signed bundle checked by
`verify-bundle`, an interrupted run rendered again by `report`."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parent / "data" / "experiment"
TIMEOUT_S = 60
KEY = "s3cret-signing-key-for-tests-0123456789"
SINKS = [
    {"sink": "csv", "path": "results.csv"},
    {"sink": "jsonl", "path": "results.jsonl"},
    {"sink": "html", "path": "report.html"},
    {"sink": "signed", "key_env": "DBTEST_SIGNING_KEY", "consumes": ["csv", "html", "jsonl"]},
    {"sink": "zip", "path": "bundle.zip", "consumes": "all"},
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(DATA, root)
    return root


def env(**extra: str) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("ARTIFACT_", "DBTEST_SIGNING"))}
    full.update(extra)
    return full


def dbtest(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dbtest", "experiment", *args],
        cwd=root, env=env(**extra), capture_output=True, text=True, timeout=TIMEOUT_S,
    )


def design(root: Path, **fields: Any) -> str:
    doc = {
        "experiment": "art", "use_case": "artifacts.formula", "samples": 12, "seed": 5,
        "factors": {"model": ["small", "large"]}, "success": "ok",
        "security_level": "official", "artifacts": SINKS, **fields,
    }
    (root / "d.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return "d.yaml"


def test_a_run_writes_every_artifact_and_a_bundle_that_verifies(project: Path) -> None:
    r = dbtest(project, "run", design(project), "--out", "run", DBTEST_SIGNING_KEY=KEY)
    assert r.returncode == 0, r.stderr
    assert "(security level official)" in r.stderr
    assert "security level: official" in r.stdout
    assert "wrote artifacts: results.csv, results.jsonl, report.html, manifest.json, manifest.json.sig, bundle.zip" in r.stdout
    run = project / "run"
    assert "**Security level: OFFICIAL**" in (run / "SUMMARY.md").read_text()
    assert json.loads((run / "summary.json").read_text())["security_level"] == "official"
    assert json.loads((run / "run.json").read_text())["security_level"] == "official"

    # csv: a row per sample, no cell a spreadsheet would run.
    rows = list(csv.reader(io.StringIO((run / "results.csv").read_text())))
    assert len(rows) == 1 + 24
    header = rows[0]
    assert "data.query" in header and "factor.model" in header
    queries = [row[header.index("data.query")] for row in rows[1:]]
    assert set(queries) == {"'=HYPERLINK(\"http://evil\")", "'@SUM(A1)"}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n")), cell
    # jsonl: a line per sample.
    lines = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 24 and lines[0]["factors"] == {"model": "small"}
    # html: self-contained, escaped, the level shown.
    page = (run / "report.html").read_text()
    assert "data:image/png;base64," in page and "official</div>" in page
    assert "<script" not in page
    # zip: every other artifact.
    with zipfile.ZipFile(run / "bundle.zip") as z:
        assert sorted(z.namelist()) == [
            "manifest.json", "manifest.json.sig", "report.html", "results.csv", "results.jsonl",
        ]
        assert z.getinfo("results.csv").compress_type == zipfile.ZIP_DEFLATED
    # The key is written nowhere.
    for path in run.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in r.stdout + r.stderr

    ok = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY", DBTEST_SIGNING_KEY=KEY)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    # A wrong key, then a tampered file and a missing one: exit 1, each named.
    wrong = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY", DBTEST_SIGNING_KEY="nope")
    assert wrong.returncode == 1 and "manifest.json.sig: the signature does not match" in wrong.stderr
    (run / "results.csv").write_text((run / "results.csv").read_text().replace("small", "SMALL"))
    (run / "report.html").unlink()
    bad = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY", DBTEST_SIGNING_KEY=KEY)
    assert bad.returncode == 1
    assert "results.csv: changed" in bad.stderr and "report.html: missing" in bad.stderr
    assert "results.jsonl" not in bad.stderr
    no_key = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY")
    assert no_key.returncode == 4 and "DBTEST_SIGNING_KEY is not set" in no_key.stderr

    # `report` renders the artifacts again: the bundle holds once more.
    again = dbtest(project, "report", "run", DBTEST_SIGNING_KEY=KEY)
    assert again.returncode == 0, again.stderr
    assert "wrote artifacts:" in again.stdout
    ok = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY", DBTEST_SIGNING_KEY=KEY)
    assert ok.returncode == 0, ok.stderr


def test_a_write_down_is_refused_before_any_call(project: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.txt"
    sinks = [{"sink": "csv"}, {"sink": "zip", "consumes": ["csv"], "security_level": "official"}]
    r = dbtest(project, "run", design(project, security_level="secret", artifacts=[
        {"sink": "csv", "security_level": "secret"}, *sinks[1:],
    ]), ARTIFACT_CALLS=str(calls))
    assert r.returncode == 4, r.stderr
    assert "sink 2 (zip, bundle.zip) is cleared for official, but the data is secret" in r.stderr
    assert not calls.exists(), "a model call was made"
    assert not (project / "experiments").exists()


@pytest.mark.parametrize(
    ("artifacts", "message"),
    [
        ([{"sink": "pdf"}], "unknown sink kind \"pdf\""),
        ([{"sink": "csv", "path": "../out.csv"}], "leaves the run folder"),
        ([{"sink": "zip", "consumes": ["html"]}], "declares no html sink"),
        (
            [{"sink": "signed", "key_env": "DBTEST_SIGNING_KEY", "consumes": "all"}, {"sink": "zip", "consumes": "all"}],
            "the artifacts form a cycle",
        ),
        ([{"sink": "signed", "key_env": "DBTEST_SIGNING_KEY"}], "DBTEST_SIGNING_KEY, which is not set"),
    ],
)
def test_bad_artifacts_are_refused_before_any_call(
    project: Path, tmp_path: Path, artifacts: list[dict[str, Any]], message: str
) -> None:
    calls = tmp_path / "calls.txt"
    r = dbtest(project, "run", design(project, artifacts=artifacts), ARTIFACT_CALLS=str(calls))
    assert r.returncode == 4, r.stderr
    assert message in r.stderr
    assert not calls.exists()


def test_an_interrupted_run_writes_its_artifacts_and_report_renders_them(project: Path) -> None:
    name = design(project, samples=400, concurrency=4)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbtest", "experiment", "run", name, "--out", "run"],
        cwd=project, env=env(ARTIFACT_SLEEP="0.02", DBTEST_SIGNING_KEY=KEY),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    log = project / "run" / "samples.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 20:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 2, out + err
    run = project / "run"
    gathered = len(log.read_text().splitlines())
    assert 20 <= gathered < 800
    rows = list(csv.reader(io.StringIO((run / "results.csv").read_text())))
    assert len(rows) == 1 + gathered
    assert "interrupted" in (run / "report.html").read_text()

    # Rendered again from the folder: the same bytes, and the bundle verifies.
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    for p in ("results.csv", "report.html", "bundle.zip", "manifest.json"):
        (run / p).unlink()
    r = dbtest(project, "report", "run", DBTEST_SIGNING_KEY=KEY)
    assert r.returncode == 0, r.stderr
    for p in ("results.csv", "report.html", "bundle.zip", "manifest.json", "manifest.json.sig"):
        assert (run / p).read_bytes() == before[p], p
    ok = dbtest(project, "verify-bundle", "run", "--key-env", "DBTEST_SIGNING_KEY", DBTEST_SIGNING_KEY=KEY)
    assert ok.returncode == 0, ok.stderr
    # Without the key the report is refused, as a run would be.
    r = dbtest(project, "report", "run")
    assert r.returncode == 4 and "DBTEST_SIGNING_KEY" in r.stderr
