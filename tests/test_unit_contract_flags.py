"""The rest of the flags DESIGN §4 lists for `dbtest unit`: -w/--workers, --lf/--last-failed,
--shard K/N, --random-order [--seed N]."""

from __future__ import annotations

import pytest

from _e2e import SELECTION_ALL, copy_project, log_lines, run_dbtest

ORDER_WRITTEN = [f"{f}{i}" for f in "abc" for i in range(1, 5)]


@pytest.mark.parametrize("args", [["-w", "0"], ["--workers", "2"], ["-w", "auto"]], ids=" ".join)
def test_workers_give_the_same_results(tmp_path, args):
    project = copy_project("selection", tmp_path)
    run = run_dbtest(project, *args, ".")
    run.expect_code(0)
    assert run.outcomes == {test_id: "passed" for test_id in SELECTION_ALL}
    assert run.lines[-1] == "12 passed, 0 failed, 0 skipped"


def test_workers_report_failures(tmp_path):
    project = copy_project("failfast", tmp_path)
    run = run_dbtest(project, "--workers", "2", ".")
    run.expect_code(1)
    assert run.report["summary"]["failed"] == 3
    assert run.report["summary"]["passed"] == 2


def test_shards_split_the_tests(tmp_path):
    project = copy_project("selection", tmp_path)
    seen: list[set[str]] = []
    for k in (1, 2, 3):
        run = run_dbtest(project, "--shard", f"{k}/3", ".")
        assert run.code in (0, 5), run.describe()
        seen.append(run.ids if run.report else set())
    # Every test runs in exactly one shard.
    assert set().union(*seen) == SELECTION_ALL
    assert sum(len(s) for s in seen) == len(SELECTION_ALL)


@pytest.mark.parametrize("shard", ["0/2", "3/2", "1/0", "half"])
def test_bad_shard_is_a_usage_error(tmp_path, shard):
    project = copy_project("selection", tmp_path)
    run = run_dbtest(project, "--shard", shard, ".", json_report=False)
    run.expect_code(4)


def _order(tmp_path, name, *args) -> list[str]:
    project = copy_project("ordering", tmp_path / name)
    run = run_dbtest(project, "-j", "1", *args, ".")
    run.expect_code(0)
    return log_lines(project / "order.log")


def test_random_order_with_a_seed_is_repeatable(tmp_path):
    (tmp_path / "written").mkdir()
    written = _order(tmp_path, "written")
    assert sorted(written) == ORDER_WRITTEN
    for f in "abc":  # without --random-order, a file's tests run in their written order
        assert [t for t in written if t.startswith(f)] == [f"{f}{i}" for i in range(1, 5)]
    orders = {}
    for seed in (1, 2, 3, 4, 5):
        for attempt in ("first", "second"):
            (tmp_path / f"{seed}-{attempt}").mkdir()
            orders[seed, attempt] = _order(tmp_path, f"{seed}-{attempt}", "--random-order", "--seed", str(seed))
    for seed in (1, 2, 3, 4, 5):
        first, second = orders[seed, "first"], orders[seed, "second"]
        assert sorted(first) == sorted(ORDER_WRITTEN)
        assert first == second, seed
    assert any(orders[seed, "first"] != ORDER_WRITTEN for seed in (1, 2, 3, 4, 5))


def test_last_failed_reruns_only_the_failures(tmp_path):
    project = copy_project("failfast", tmp_path)
    first = run_dbtest(project, ".")
    first.expect_code(1)
    for args in (["--lf"], ["--last-failed"], ["--lf", "--workers", "2"]):
        run = run_dbtest(project, *args, ".")
        run.expect_code(1)
        assert run.ids == {"test_order.py::test_2_fails", "test_order.py::test_3_fails", "test_order.py::test_4_fails"}
