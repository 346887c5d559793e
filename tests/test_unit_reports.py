"""End-to-end tests of the report files of `dbtest unit`: JUnit XML and Markdown (and the JSON
report's captured output), on tests/data/junit."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from _e2e import OUTCOMES_EXPECTED, Run, copy_project, run_dbtest

JUNIT_EXPECTED = {
    "test_junit.py::test_pass_quiet": "passed",
    "test_junit.py::test_pass_prints": "passed",
    "test_junit.py::test_fail_one": "failed",
    "test_junit.py::test_fail_two": "failed",
    "test_junit.py::test_error_missing": "error",
    "test_junit.py::test_skipped": "skipped",
}


@pytest.fixture(scope="module")
def reports_run(tmp_path_factory) -> tuple[Run, ET.Element, str]:
    base = tmp_path_factory.mktemp("reports")
    project = copy_project("junit", base)
    xml_path, md_path = base / "junit.xml", base / "report.md"
    run = run_dbtest(project, "--junit-xml", str(xml_path), "--markdown", str(md_path), ".")
    assert xml_path.exists(), run.describe()
    assert md_path.exists(), run.describe()
    return run, ET.parse(xml_path).getroot(), md_path.read_text(encoding="utf-8")


def test_reports_run_outcomes(reports_run):
    run, _, _ = reports_run
    run.expect_code(1)
    assert run.outcomes == JUNIT_EXPECTED
    assert run.lines[-1] == "2 passed, 3 failed, 1 skipped"


def _testcases(root: ET.Element) -> list[ET.Element]:
    return list(root.iter("testcase"))


def _suites(root: ET.Element) -> list[ET.Element]:
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def test_junit_counts(reports_run):
    _, root, _ = reports_run
    assert root.tag in ("testsuites", "testsuite")
    cases = _testcases(root)
    assert len(cases) == 6
    assert sum(len(c.findall("failure")) for c in cases) == 2
    assert sum(len(c.findall("error")) for c in cases) == 1
    assert sum(len(c.findall("skipped")) for c in cases) == 1
    suites = _suites(root)
    assert suites
    assert sum(int(s.get("tests")) for s in suites) == 6
    assert sum(int(s.get("failures")) for s in suites) == 2
    assert sum(int(s.get("errors")) for s in suites) == 1
    assert sum(int(s.get("skipped")) for s in suites) == 1


def _case(root: ET.Element, name: str) -> ET.Element:
    found = [c for c in _testcases(root) if c.get("name") == name or (c.get("name") or "").endswith(name)]
    assert len(found) == 1, (name, [c.get("name") for c in _testcases(root)])
    return found[0]


def test_junit_testcases(reports_run):
    _, root, _ = reports_run
    for name in ("test_pass_quiet", "test_pass_prints"):
        case = _case(root, name)
        assert case.find("failure") is None and case.find("error") is None and case.find("skipped") is None
    failure = _case(root, "test_fail_one").find("failure")
    assert failure is not None
    assert "1 == 2" in (failure.get("message") or "") + (failure.text or "")
    assert _case(root, "test_fail_two").find("failure") is not None
    error = _case(root, "test_error_missing").find("error")
    assert error is not None
    assert "missing_fixture_for_junit" in (error.get("message") or "") + (error.text or "")
    assert _case(root, "test_skipped").find("skipped") is not None


def test_junit_system_out_holds_captured_output(reports_run):
    _, root, _ = reports_run
    case = _case(root, "test_pass_prints")
    assert "junit stdout marker" in (case.findtext("system-out") or "")
    assert "junit stderr marker" in (case.findtext("system-err") or "")
    assert "output of a failing test" in (_case(root, "test_fail_one").findtext("system-out") or "")
    # Output goes to the test that printed it, and nowhere else.
    assert "junit stdout marker" not in (_case(root, "test_pass_quiet").findtext("system-out") or "")


def test_markdown_lists_the_failures(reports_run):
    _, _, markdown = reports_run
    for failing in (
        "test_junit.py::test_fail_one",
        "test_junit.py::test_fail_two",
        "test_junit.py::test_error_missing",
    ):
        assert failing in markdown, markdown
    assert "1 == 2" in markdown
    assert "async failure" in markdown
    assert "missing_fixture_for_junit" in markdown
    # Passing tests are not listed as failures.
    assert "test_junit.py::test_pass_quiet" not in markdown


def test_json_holds_captured_output(reports_run):
    run, _, _ = reports_run
    assert run.by_id["test_junit.py::test_pass_prints"]["stdout"] == "junit stdout marker\n"
    assert run.by_id["test_junit.py::test_pass_prints"]["stderr"] == "junit stderr marker\n"
    assert run.by_id["test_junit.py::test_fail_one"]["stdout"] == "output of a failing test\n"
    assert run.by_id["test_junit.py::test_pass_quiet"]["stdout"] == ""


def test_reports_written_with_relative_paths(tmp_path):
    project = copy_project("junit", tmp_path)
    run = run_dbtest(project, "--junit-xml", "j.xml", "--markdown", "r.md", "--json", "r.json", ".",
                     json_report=False)
    run.expect_code(1)
    # Relative report paths are relative to the working directory.
    for name in ("j.xml", "r.md", "r.json"):
        assert (project / name).exists(), (name, run.describe())


def test_junit_of_every_outcome_is_consistent(tmp_path):
    project = copy_project("outcomes", tmp_path)
    xml_path = tmp_path / "all.xml"
    run = run_dbtest(project, "--junit-xml", str(xml_path), ".")
    run.expect_code(1)
    root = ET.parse(xml_path).getroot()
    cases = _testcases(root)
    assert len(cases) == len(OUTCOMES_EXPECTED)
    # Each suite's counts are those of its testcases.
    for suite in _suites(root):
        if suite.find("testsuite") is not None:
            continue
        own = list(suite.iter("testcase"))
        assert int(suite.get("tests")) == len(own)
        for kind, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr)) == sum(len(c.findall(kind)) for c in own), (suite.get("name"), attr)
    # Unambiguous outcomes map to the usual JUnit elements.
    kinds = {"passed": [], "failed": ["failure"], "error": ["error"], "skipped": ["skipped"]}
    for test_id, outcome in OUTCOMES_EXPECTED.items():
        if outcome not in kinds or test_id.endswith("test_strict_xpass"):
            continue
        name = test_id.split("::")[-1]
        matching = [c for c in cases if c.get("name") == name or c.get("name") == test_id]
        if len(matching) != 1:  # the same name in two files: compare by file too
            file = test_id.split("::")[0]
            matching = [c for c in matching if (c.get("file") or "") == file] or matching
        assert len(matching) == 1, test_id
        children = [k.tag for k in matching[0] if k.tag not in ("system-out", "system-err")]
        assert children == kinds[outcome], (test_id, children)
