"""The GitHub Actions step's script (action.yml, step "run"), run here as a runner would run
it: with GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_ACTIONS=true, on a sample project with a
failing test. It writes the outputs and the summary, and annotates the failure where it
failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from _e2e import base_env, copy_project

ACTION = Path(__file__).resolve().parent.parent / "action.yml"


def _run_script() -> str:
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    (step,) = [s for s in steps if s.get("id") == "run"]
    return step["run"]


def _step(project: Path, tmp_path: Path, command: str, args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    outputs, summary = tmp_path / "output", tmp_path / "summary.md"
    env = base_env(project, GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(outputs), GITHUB_STEP_SUMMARY=str(summary),
                   DBTEST_COMMAND=command, DBTEST_ARGS=args, DBTEST_SHARD="", DBTEST_REPORTS="reports")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    proc = subprocess.run(["bash", "-e", "-c", _run_script()], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)
    written = outputs.read_text().splitlines() if outputs.exists() else []
    found = dict(line.split("=", 1) for line in written if "=" in line)
    return proc, found, summary.read_text() if summary.exists() else ""


def test_the_step_reports_outputs_summary_and_annotations(tmp_path: Path) -> None:
    project = copy_project("action_step", tmp_path)
    proc, outputs, summary = _step(project, tmp_path, "unit", "tests")
    assert proc.returncode == 1, proc.stderr
    assert outputs["exit-code"] == "1"
    assert outputs["json"] == "reports/unit.json" and (project / outputs["json"]).is_file()
    assert outputs["junit"] == "reports/unit.xml" and (project / outputs["junit"]).is_file()
    assert "tests/test_step.py::test_fails" in summary
    # Annotated at the assert (line 11), not at the def (line 9).
    annotations = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 1, proc.stdout
    assert annotations[0].startswith("::error file=tests/test_step.py,line=11,title=failed tests/test_step.py%3A%3Atest_fails::")


def test_an_unknown_command_is_refused(tmp_path: Path) -> None:
    project = copy_project("action_step", tmp_path)
    proc, outputs, _ = _step(project, tmp_path, "deploy", "")
    assert proc.returncode == 4 and outputs == {}
    assert "::error title=dbtest::unknown command 'deploy'" in proc.stdout
