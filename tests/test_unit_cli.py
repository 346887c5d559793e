"""End-to-end tests of `dbtest unit` (DESIGN.md sections 3 and 4): run the command in a
subprocess on the sample projects under tests/data/ and check ids, outcomes, the summary,
the closing console lines, exit codes and the JSON report."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from _e2e import (
    ANSI,
    OUTCOMES_EXPECTED,
    SELECTION_ALL,
    SUMMARY_KEYS,
    TEST_KEYS,
    TOP_KEYS,
    Run,
    closing_line,
    copy_project,
    expected_summary,
    log_lines,
    run_dbtest,
)

# --------------------------------------------------------------------------------------------
# tests/data/outcomes: every outcome, in one run
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outcomes_run(tmp_path_factory) -> Run:
    project = copy_project("outcomes", tmp_path_factory.mktemp("outcomes"))
    return run_dbtest(project, ".")


def test_outcomes_every_id_and_outcome(outcomes_run):
    assert outcomes_run.report is not None, outcomes_run.describe()
    assert outcomes_run.outcomes == OUTCOMES_EXPECTED


def test_outcomes_summary_counts(outcomes_run):
    summary = outcomes_run.report["summary"]
    assert summary == expected_summary(OUTCOMES_EXPECTED)
    assert summary["total"] == len(outcomes_run.report["tests"])


def test_outcomes_exit_code_is_1(outcomes_run):
    outcomes_run.expect_code(1)


def test_outcomes_closing_lines(outcomes_run):
    lines = outcomes_run.lines
    assert len(lines) >= 2, outcomes_run.describe()
    # failed counts failed, error, timeout and xpassed; not skipped nor xfailed.
    assert lines[-1] == "29 passed, 11 failed, 4 skipped"
    assert lines[-1] == closing_line(expected_summary(OUTCOMES_EXPECTED))
    breakdown = lines[-2]
    for part in ("29 passed", "4 failed", "5 error", "4 skipped", "2 xfailed", "1 xpassed", "1 timeout"):
        assert re.search(rf"(?<!\d){part}\b", breakdown), (part, breakdown)
    assert re.search(r"\bin \d[\d.]*\s*(ms|s)\b|\bin \d+m", breakdown), breakdown


def test_json_schema_keys(outcomes_run):
    report = outcomes_run.report
    assert set(report) == TOP_KEYS
    assert report["schema"] == "dbtest.report/1"
    assert report["command"] == "unit"
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", report["started_at"]
    ), report["started_at"]
    assert isinstance(report["duration_s"], (int, float)) and report["duration_s"] >= 0
    assert set(report["summary"]) == SUMMARY_KEYS
    assert all(isinstance(v, int) for v in report["summary"].values())
    for test in report["tests"]:
        assert set(test) == TEST_KEYS, test["id"]
        assert isinstance(test["line"], int)
        assert isinstance(test["duration_s"], (int, float)) and test["duration_s"] >= 0
        # One attempt each (no --retries); a test skipped before it ran may count none.
        assert test["attempts"] in ((0, 1) if test["outcome"] == "skipped" else (1,)), test
        assert isinstance(test["tags"], list)
        assert isinstance(test["stdout"], str) and isinstance(test["stderr"], str)
        assert test["message"] is None or isinstance(test["message"], str)
        assert test["traceback"] is None or isinstance(test["traceback"], str)


def test_json_test_fields(outcomes_run):
    by_id = outcomes_run.by_id
    plain = by_id["test_basic.py::test_fails"]
    assert plain["file"] == "test_basic.py"
    assert plain["name"] == "test_fails"
    assert plain["line"] == 12  # the `def` line
    assert plain["suite"] is None and plain["params"] is None and plain["tags"] == []

    child = by_id["sub/test_child.py::test_uses_parent_conftest"]
    assert child["file"] == "sub/test_child.py"

    suite_test = by_id["test_suite.py::TestSyncSuite::test_first"]
    assert suite_test["suite"] == "TestSyncSuite"
    assert suite_test["name"] == "test_first"
    assert sorted(suite_test["tags"]) == ["crud", "db"]
    async_suite = by_id["test_suite.py::TestAsyncSuite::test_uses_fixture"]
    assert async_suite["suite"] == "TestAsyncSuite"
    assert sorted(async_suite["tags"]) == ["db", "slow"]
    assert sorted(by_id["test_suite.py::test_tagged_function"]["tags"]) == ["crud", "db"]
    assert by_id["test_plain_pytest.py::TestPlainClass::test_method"]["suite"] == "TestPlainClass"

    param = by_id["test_params.py::test_add[small]"]
    assert param["name"] == "test_add"
    assert param["params"] is not None
    assert "small" in str(param["params"])
    assert param["line"] == 5  # a decorated test's `def`, not its decorator

    for file_error in ("test_syntax_error.py", "test_import_error.py"):
        assert by_id[file_error]["file"] == file_error


def test_file_errors_are_described(outcomes_run):
    syntax = outcomes_run.by_id["test_syntax_error.py"]
    assert "SyntaxError" in syntax["message"]
    imp = outcomes_run.by_id["test_import_error.py"]
    assert "module_that_does_not_exist_dbtest" in imp["message"]


def test_skip_reasons_are_reported(outcomes_run):
    by_id = outcomes_run.by_id
    assert "not today" in (by_id["test_skips.py::test_skip_decorator"]["message"] or "")
    assert "condition holds" in (by_id["test_skips.py::test_skip_if_true"]["message"] or "")
    assert "decided at run time" in (by_id["test_skips.py::test_skip_inside"]["message"] or "")


def test_plain_assert_failure_detail(outcomes_run):
    failed = outcomes_run.by_id["test_basic.py::test_fails"]
    # The message shows the compared values.
    assert "2 == 3" in failed["message"], failed["message"]
    tb = failed["traceback"]
    # The source line of the failing assert, and the values of the names in it.
    assert "assert actual == expected" in tb, tb
    assert re.search(r"where:.*\bactual = 2\b", tb), tb
    assert re.search(r"where:.*\bexpected = 3\b", tb), tb
    assert "test_basic.py" in tb


def test_tracebacks_hide_dbtest_frames(outcomes_run):
    import dbtest

    package_dir = os.path.dirname(os.path.realpath(dbtest.__file__))
    for test in outcomes_run.report["tests"]:
        tb = test["traceback"] or ""
        frames = re.findall(r'File "([^"]+)"', tb)
        for frame in frames:
            assert not os.path.realpath(frame).startswith(package_dir + os.sep), (test["id"], tb)


def test_missing_fixture_error_names_fixture_and_available_ones(outcomes_run):
    message = outcomes_run.by_id["test_errors.py::test_missing_fixture"]["message"]
    assert "no_such_fixture" in message
    # The fixtures this test could have used: its file's and its conftest's.
    for available in ("known_fixture", "broken_setup", "root_value", "session_resource"):
        assert available in message, message


def test_fixture_setup_and_teardown_errors(outcomes_run):
    setup = outcomes_run.by_id["test_errors.py::test_setup_raises"]
    assert "boom in setup" in setup["message"]
    teardown = outcomes_run.by_id["test_errors.py::test_teardown_raises"]
    assert "boom in teardown" in teardown["message"]


def test_timeout_decorator(outcomes_run):
    assert outcomes_run.by_id["test_timeout.py::test_times_out"]["outcome"] == "timeout"


def test_session_fixture_created_once_and_torn_down(outcomes_run):
    # Used by tests in test_session_a.py, test_session_b.py and test_suite.py.
    assert log_lines(outcomes_run.cwd / "session.log") == ["created", "closed"]


def test_file_and_test_scoped_fixtures(outcomes_run):
    assert log_lines(outcomes_run.cwd / "file_fixture.log") == ["created"]
    assert log_lines(outcomes_run.cwd / "file_async_fixture.log") == ["created", "closed"]
    assert log_lines(outcomes_run.cwd / "test_fixture.log") == ["created", "created"]


def test_yield_teardown_runs_when_test_fails(outcomes_run):
    assert outcomes_run.outcomes["test_fixture_scopes.py::test_yield_teardown_runs_on_failure"] == "failed"
    assert log_lines(outcomes_run.cwd / "teardown.log") == ["teardown ran after failure"]


def test_suite_hooks_order(outcomes_run):
    log = log_lines(outcomes_run.cwd / "suite.log")
    sync = [line for line in log if line.startswith("sync ")]
    assert sync == [
        "sync setup_suite",
        "sync setup", "sync test_first", "sync teardown",
        "sync setup", "sync test_second", "sync teardown",
        "sync teardown_suite",
    ]
    async_ = [line for line in log if line.startswith("async ")]
    assert async_ == [
        "async setup_suite",
        "async setup", "async test_uses_fixture", "async teardown",
        "async teardown_suite",
    ]


# --------------------------------------------------------------------------------------------
# Exit codes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def selection(tmp_path) -> Path:
    return copy_project("selection", tmp_path)


def test_all_passing_exits_0(selection):
    run = run_dbtest(selection, ".")
    run.expect_code(0)
    assert run.outcomes == {test_id: "passed" for test_id in SELECTION_ALL}
    assert run.lines[-1] == "12 passed, 0 failed, 0 skipped"
    assert "12 passed" in run.lines[-2]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--no-such-flag", "."], "no-such-flag"),
        (["does_not_exist/"], "does_not_exist"),
        (["-t", "db and (slow", "."], "db and (slow"),
        (["-t", "db and", "."], "db and"),
        (["-t", "not", "."], "not"),
        (["--maxfail", "0", "."], "maxfail"),
        (["--color", "sometimes", "."], "sometimes"),
        (["--jobs", "0", "."], "jobs"),
        (["--timeout", "0", "."], "timeout"),
        (["-k", "", "."], "-k"),
    ],
    ids=["unknown-flag", "missing-path", "unclosed-paren", "dangling-and", "bare-not", "maxfail-0",
         "bad-color", "jobs-0", "timeout-0", "empty-k"],
)
def test_usage_errors_exit_4(selection, args, needle):
    run = run_dbtest(selection, *args, json_report=False)
    run.expect_code(4)
    assert needle in run.stdout + run.stderr, run.describe()
    # Nothing ran: a usage error is found before any test file is imported.
    assert not (selection / "alpha.ran").exists()


@pytest.mark.parametrize(
    "args",
    [["-k", "*nothing_matches_this*"], ["-k", "nothing_matches_this"], ["-t", "no_such_tag"]],
    ids=["glob", "substring", "tag"],
)
def test_no_tests_selected_exits_5(selection, args):
    run = run_dbtest(selection, *args, ".")
    run.expect_code(5)
    assert not (selection / "alpha.ran").exists()
    assert run.lines[-1] == "0 passed, 0 failed, 0 skipped", run.describe()


def test_empty_folder_exits_5(tmp_path):
    empty = tmp_path / "empty"
    (empty / "tests").mkdir(parents=True)
    run = run_dbtest(empty, json_report=False)
    run.expect_code(5)


# --------------------------------------------------------------------------------------------
# Selection: -k, -t, --pattern, path::name
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        # -k: a glob on the whole id, or a plain substring; repeatable (any may match)
        (["-k", "*alpha*"], {"test_sel.py::test_alpha", "test_sel.py::test_alphabet"}),
        (["-k", "alpha"], {"test_sel.py::test_alpha", "test_sel.py::test_alphabet"}),
        (["-k", "*::test_alpha"], {"test_sel.py::test_alpha"}),
        (["-k", "test_other.py::*"], {"test_other.py::test_other_db", "test_other.py::test_other_plain"}),
        (["-k", "*param*", "-k", "beta"],
         {"test_sel.py::test_param[one]", "test_sel.py::test_param[two]", "test_sel.py::test_beta"}),
        (["--match", "TestGroup"], {"test_sel.py::TestGroup::test_one", "test_sel.py::TestGroup::test_two"}),
        (["-k", "*[[]two]"], {"test_sel.py::test_param[two]"}),
        # -t: tag expressions
        (["-t", "db"], {"test_sel.py::test_db_crud", "test_sel.py::test_db_slow", "test_other.py::test_other_db"}),
        (["-t", "db and not slow"], {"test_sel.py::test_db_crud", "test_other.py::test_other_db"}),
        (["-t", "db and (crud or slow)"], {"test_sel.py::test_db_crud", "test_sel.py::test_db_slow"}),
        (["-t", "slow or flaky"],
         {"test_sel.py::test_db_slow", "test_sel.py::TestGroup::test_two", "test_sel.py::test_flaky_only"}),
        (["-t", "api and not slow"], {"test_sel.py::TestGroup::test_one"}),
        (["-t", "not (db or api or flaky)"],
         {"test_sel.py::test_alpha", "test_sel.py::test_alphabet", "test_sel.py::test_beta",
          "test_sel.py::test_param[one]", "test_sel.py::test_param[two]", "test_other.py::test_other_plain"}),
        (["--tags", "(db or api) and not (slow or crud)"],
         {"test_other.py::test_other_db", "test_sel.py::TestGroup::test_one"}),
        # -k and -t together: both must hold
        (["-t", "db", "-k", "*other*"], {"test_other.py::test_other_db"}),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_select_by_match_and_tags(selection, args, expected):
    run = run_dbtest(selection, *args, ".")
    run.expect_code(0)
    assert run.ids == expected
    assert set(run.outcomes.values()) == {"passed"}
    assert (selection / "alpha.ran").exists() == ("test_sel.py::test_alpha" in expected)


@pytest.mark.parametrize(
    "paths, expected",
    [
        (["test_sel.py::test_alpha"], {"test_sel.py::test_alpha"}),
        (["test_sel.py::TestGroup"], {"test_sel.py::TestGroup::test_one", "test_sel.py::TestGroup::test_two"}),
        (["test_sel.py::TestGroup::test_two"], {"test_sel.py::TestGroup::test_two"}),
        (["test_sel.py::test_param"], {"test_sel.py::test_param[one]", "test_sel.py::test_param[two]"}),
        (["test_sel.py::test_param[two]"], {"test_sel.py::test_param[two]"}),
        (["test_other.py"], {"test_other.py::test_other_db", "test_other.py::test_other_plain"}),
        (["test_sel.py::test_beta", "test_other.py::test_other_plain"],
         {"test_sel.py::test_beta", "test_other.py::test_other_plain"}),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, list) else None,
)
def test_select_by_path_and_name(selection, paths, expected):
    run = run_dbtest(selection, *paths)
    run.expect_code(0)
    assert run.ids == expected


def test_pattern_flag(selection):
    run = run_dbtest(selection, "--pattern", "check_*.py", ".")
    run.expect_code(0)
    assert run.ids == {"check_extra.py::test_extra_one", "check_extra.py::test_extra_two"}


# --------------------------------------------------------------------------------------------
# --collect-only
# --------------------------------------------------------------------------------------------


def _listed_ids(run: Run) -> list[str]:
    return [line.strip() for line in run.stdout.splitlines() if "::" in line]


def test_collect_only_lists_every_id_and_runs_nothing(selection):
    run = run_dbtest(selection, "--collect-only", ".", json_report=False)
    run.expect_code(0)
    listed = _listed_ids(run)
    assert sorted(listed) == sorted(SELECTION_ALL), run.describe()
    assert not (selection / "alpha.ran").exists()


def test_collect_only_lists_exactly_the_selected_ids(selection):
    run = run_dbtest(selection, "--collect-only", "-k", "alpha", ".", json_report=False)
    run.expect_code(0)
    assert sorted(_listed_ids(run)) == ["test_sel.py::test_alpha", "test_sel.py::test_alphabet"]
    assert not (selection / "alpha.ran").exists()

    run = run_dbtest(selection, "--collect-only", "-t", "db and not slow", ".", json_report=False)
    run.expect_code(0)
    assert sorted(_listed_ids(run)) == ["test_other.py::test_other_db", "test_sel.py::test_db_crud"]


def test_collect_only_with_nothing_selected_exits_5(selection):
    run = run_dbtest(selection, "--collect-only", "-k", "nothing_matches_this", ".", json_report=False)
    run.expect_code(5)
    assert _listed_ids(run) == []


# --------------------------------------------------------------------------------------------
# -x / --maxfail, --retries
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, ran_until, failures",
    [(["-x"], 2, 1), (["--exitfirst"], 2, 1), (["--maxfail", "2"], 3, 2), (["--maxfail", "3"], 4, 3)],
    ids=["-x", "--exitfirst", "maxfail-2", "maxfail-3"],
)
def test_stop_after_failures(tmp_path, args, ran_until, failures):
    project = copy_project("failfast", tmp_path)
    run = run_dbtest(project, *args, ".")
    run.expect_code(1)
    ran = {n for n in range(1, 6) if (project / f"t{n}.ran").exists()}
    # Tests of one file run in their written order, and none starts after the limit is hit.
    assert ran == set(range(1, ran_until + 1)), run.describe()
    assert run.report["summary"]["failed"] == failures
    assert run.report["summary"]["passed"] == 1
    for test in run.report["tests"]:
        number = int(test["id"].split("::test_")[1][0])
        if number > ran_until:
            assert test["outcome"] == "skipped", test
    assert run.lines[-1] == closing_line(run.report["summary"])


def test_without_stop_flag_every_test_runs(tmp_path):
    project = copy_project("failfast", tmp_path)
    run = run_dbtest(project, ".")
    run.expect_code(1)
    assert run.outcomes == {
        "test_order.py::test_1_passes": "passed",
        "test_order.py::test_2_fails": "failed",
        "test_order.py::test_3_fails": "failed",
        "test_order.py::test_4_fails": "failed",
        "test_order.py::test_5_passes": "passed",
    }
    assert run.lines[-1] == "2 passed, 3 failed, 0 skipped"


def test_retries_make_a_flaky_test_pass(tmp_path):
    project = copy_project("flaky", tmp_path)
    run = run_dbtest(project, "--retries", "1", "-k", "*::test_fails_once", ".")
    run.expect_code(0)
    assert run.outcomes == {"test_flaky.py::test_fails_once": "passed"}
    test = run.report["tests"][0]
    assert test["attempts"] == 2
    assert run.report["summary"]["flaky"] == 1
    assert run.report["summary"]["passed"] == 1
    assert (project / "fails_once.count").read_text() == "2"
    assert run.lines[-1] == "1 passed, 0 failed, 0 skipped"


def test_retries_all_kinds(tmp_path):
    project = copy_project("flaky", tmp_path)
    run = run_dbtest(project, "--retries", "2", ".")
    run.expect_code(1)
    assert run.outcomes == {
        "test_flaky.py::test_fails_once": "passed",
        "test_flaky.py::test_fails_once_async": "passed",
        "test_flaky.py::test_always_fails": "failed",
        "test_flaky.py::test_stable": "passed",
    }
    attempts = {t["id"]: t["attempts"] for t in run.report["tests"]}
    assert attempts == {
        "test_flaky.py::test_fails_once": 2,
        "test_flaky.py::test_fails_once_async": 2,
        "test_flaky.py::test_always_fails": 3,
        "test_flaky.py::test_stable": 1,
    }
    assert run.report["summary"]["flaky"] == 2
    assert (project / "always_fails.count").read_text() == "3"
    assert (project / "stable.count").read_text() == "1"


def test_without_retries_the_first_failure_counts(tmp_path):
    project = copy_project("flaky", tmp_path)
    run = run_dbtest(project, "-k", "*::test_fails_once", ".")
    run.expect_code(1)
    assert run.outcomes == {"test_flaky.py::test_fails_once": "failed"}
    assert run.report["tests"][0]["attempts"] == 1
    assert run.report["summary"]["flaky"] == 0


# --------------------------------------------------------------------------------------------
# --timeout
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def timeouts_run(tmp_path_factory) -> Run:
    project = copy_project("timeouts", tmp_path_factory.mktemp("timeouts"))
    # The sync test sleeps 30 s: the subprocess limit (20 s) fails the test if the run
    # waits for it.
    return run_dbtest(project, "--timeout", "1", ".", timeout=20)


def test_timeout_flag_stops_async_and_sync_tests(timeouts_run):
    run = timeouts_run
    run.expect_code(1)
    assert run.outcomes == {
        "test_timeouts.py::test_async_sleeps": "timeout",
        "test_timeouts.py::test_sync_sleeps": "timeout",
        "test_timeouts.py::test_quick": "passed",
        "test_own_timeout.py::test_before": "passed",
        "test_own_timeout.py::test_sleeps_past_its_own_timeout": "timeout",
        "test_own_timeout.py::test_after": "passed",
    }
    assert run.lines[-1] == "3 passed, 3 failed, 0 skipped"
    assert "3 timeout" in run.lines[-2]


def test_a_sync_tests_own_timeout_holds_without_the_flag(tmp_path):
    project = copy_project("timeouts", tmp_path)
    run = run_dbtest(project, "test_own_timeout.py", timeout=20)
    run.expect_code(1)
    assert run.outcomes == {
        "test_own_timeout.py::test_before": "passed",
        "test_own_timeout.py::test_sleeps_past_its_own_timeout": "timeout",
        "test_own_timeout.py::test_after": "passed",
    }
    timed_out = run.by_id["test_own_timeout.py::test_sleeps_past_its_own_timeout"]
    assert timed_out["message"] == "timed out after 0.5s"


def test_timed_out_tests_keep_their_output(timeouts_run):
    run = timeouts_run
    # What a test printed before its timeout is captured, for a sync test (on a thread that
    # is abandoned) as for an async one.
    assert run.by_id["test_timeouts.py::test_async_sleeps"]["stdout"] == "async test started\n"
    assert run.by_id["test_timeouts.py::test_quick"]["stdout"] == "quick test\n"
    assert run.by_id["test_timeouts.py::test_sync_sleeps"]["stdout"] == "sync test started\n"


# --------------------------------------------------------------------------------------------
# Console: -v, colour
# --------------------------------------------------------------------------------------------


def test_verbose_prints_one_line_per_test(selection):
    run = run_dbtest(selection, "-v", ".")
    run.expect_code(0)
    for test_id in SELECTION_ALL:
        pattern = re.compile(re.escape(test_id) + r"(?![\w\[])")
        matching = [line for line in run.lines if pattern.search(line)]
        assert len(matching) == 1, (test_id, run.stdout)
    assert run.lines[-1] == "12 passed, 0 failed, 0 skipped"


@pytest.fixture
def junit_project(tmp_path) -> Path:
    return copy_project("junit", tmp_path)


def test_color_never_has_no_ansi(junit_project):
    run = run_dbtest(junit_project, "--color", "never", ".")
    run.expect_code(1)
    assert not ANSI.search(run.stdout + run.stderr), run.describe()
    assert run.lines[-1] == "2 passed, 3 failed, 1 skipped"


def test_no_color_env_has_no_ansi(junit_project):
    from _e2e import base_env

    run = run_dbtest(junit_project, ".", env=base_env(junit_project, NO_COLOR="1"))
    run.expect_code(1)
    assert not ANSI.search(run.stdout + run.stderr), run.describe()


def test_color_always_has_ansi(junit_project):
    run = run_dbtest(junit_project, "--color", "always", ".")
    run.expect_code(1)
    assert ANSI.search(run.stdout), run.describe()
    assert ANSI.sub("", run.lines[-1]) == "2 passed, 3 failed, 1 skipped"


def _run_on_terminal(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Runs dbtest with stdout on a pseudo-terminal (stderr on a pipe); returns the code and
    what it wrote to the terminal."""
    import pty
    import subprocess

    from _e2e import dbtest_cmd

    import select
    import time

    master, slave = pty.openpty()
    proc = None
    try:
        proc = subprocess.Popen(
            dbtest_cmd(*args), cwd=cwd, env=env, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )
        os.close(slave)
        slave = -1
        chunks = []
        deadline = time.monotonic() + 60  # an upper bound, not a speed requirement
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "dbtest did not finish"
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.communicate(timeout=60)
        return proc.returncode, b"".join(chunks).decode("utf-8", "replace")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        if slave != -1:
            os.close(slave)
        os.close(master)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_terminal_is_coloured_unless_no_color(junit_project):
    from _e2e import base_env

    env = base_env(junit_project, TERM="xterm-256color")
    code, text = _run_on_terminal(junit_project, env, ".")
    assert code == 1, text
    assert ANSI.search(text), text

    code, text = _run_on_terminal(junit_project, {**env, "NO_COLOR": "1"}, ".")
    assert code == 1, text
    assert not ANSI.search(text), text
    assert text.replace("\r\n", "\n").rstrip("\n").splitlines()[-1] == "2 passed, 3 failed, 1 skipped"


def test_quiet_still_ends_with_the_closing_lines(selection):
    run = run_dbtest(selection, "-q", ".")
    run.expect_code(0)
    assert run.lines[-1] == "12 passed, 0 failed, 0 skipped"
    assert "12 passed" in run.lines[-2]


def test_one_job_gives_the_same_outcomes(tmp_path):
    project = copy_project("outcomes", tmp_path)
    run = run_dbtest(project, "-j", "1", ".")
    run.expect_code(1)
    assert run.outcomes == OUTCOMES_EXPECTED
    assert log_lines(project / "session.log") == ["created", "closed"]


# --------------------------------------------------------------------------------------------
# Exit codes of runs without failures but with skips, xfails and non-strict xpasses
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "paths, code",
    [
        (["test_skips.py"], 0),
        (["test_xfail.py::test_xfailed", "test_xfail.py::test_xfailed_async"], 0),
        # Only a strict xpass fails the run; a plain xpass does not.
        (["test_xfail.py::test_xpassed", "test_basic.py::test_passes"], 0),
        (["test_xfail.py::test_strict_xpass"], 1),
        (["test_timeout.py"], 1),
        (["test_errors.py::test_teardown_raises"], 1),
        (["test_syntax_error.py", "test_basic.py::test_passes"], 1),
    ],
    ids=["skips", "xfails", "xpass", "strict-xpass", "timeout", "error", "file-error"],
)
def test_exit_code_by_outcome(tmp_path, paths, code):
    project = copy_project("outcomes", tmp_path)
    run = run_dbtest(project, *paths)
    run.expect_code(code)
    assert set(run.outcomes) == {
        test_id for test_id in OUTCOMES_EXPECTED
        if any(test_id == p or test_id.startswith(p + "::") or test_id.startswith(p + "[") for p in paths)
    }
    assert run.lines[-1] == closing_line(run.report["summary"])


def test_teardown_errors_of_wider_scopes_are_reported(tmp_path):
    project = copy_project("teardown_errors", tmp_path)
    run = run_dbtest(project, ".")
    run.expect_code(1)
    outcomes = run.outcomes
    for test_id in (
        "test_only_pass.py::test_fine",
        "test_teardowns.py::test_uses_session",
        "test_teardowns.py::test_uses_file",
        "test_teardowns.py::TestBrokenSuite::test_in_suite",
    ):
        assert outcomes.pop(test_id) == "passed"
    # What remains are the teardown failures: a file fixture's, a suite's and a session
    # fixture's, each an `error` entry that says what failed.
    assert sorted(outcomes.values()) == ["error"] * 3, outcomes
    messages = " | ".join(run.by_id[test_id]["message"] for test_id in outcomes)
    for text in ("file teardown exploded", "teardown_suite exploded", "session teardown exploded"):
        assert text in messages
    assert run.report["summary"]["error"] == 3
    assert run.lines[-1] == "4 passed, 3 failed, 0 skipped"
