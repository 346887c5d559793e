"""The `dbtest` command line. Parsing lives here; everything else is the Rust engine's."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ._process import engine_owns_ctrl_c, exit_now

EXIT_INTERRUPTED = 2
EXIT_INTERNAL = 3
EXIT_USAGE = 4


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dbtest-engine", prog_name="dbtest")
def cli() -> None:
    """dbtest: run tests, benchmarks and probabilistic experiments on a Rust engine."""


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1)
@click.option("-p", "plugins", multiple=True, metavar="NAME",
              help="Load the pytest plugin NAME (-p no:NAME: turn it off), as pytest's -p. Options of "
                   "pytest plugins (--snapshot-update) are passed to them too.")
@click.option("-k", "--match", "match", multiple=True, metavar="PATTERN",
              help='Glob on the test id, e.g. "*crud*"; repeatable (any may match).')
@click.option("-t", "--tags", "-m", "tags", metavar="EXPR",
              help='Tag expression, e.g. "db and not (slow or flaky)"; -m is the same (pytest\'s spelling).')
@click.option("--pattern", metavar="GLOB", help="Test file name pattern [default: test_*.py].")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Files whose tests run at once [default: 32].")
@click.option("--overlap", type=click.Choice(["native", "all", "none"]),
              help="Which files' tests may overlap in one process: native (files that import dbtest), "
                   "all, or none [default: native].")
@click.option("-w", "--workers", "-n", "--numprocesses", metavar="N|auto", callback=lambda _c, _p, v: _workers(v),
              help="Run files in N worker processes (auto: one per core; 0: in-process, the default); "
                   "-n, --numprocesses are the same (pytest-xdist's spellings).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Per-test timeout; @dbtest.timeout wins. Hard (the worker is stopped) with --workers.")
@click.option("--collect-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="A file whose import takes longer is reported as an error, and the run goes on "
                   "without it [default: 120; 0: no limit].")
@click.option("-x", "--exitfirst", is_flag=True, default=None, help="Stop after the first failing test.")
@click.option("--maxfail", type=click.IntRange(min=1), metavar="N", help="Stop after N failing tests.")
@click.option("--retries", "--reruns", type=click.IntRange(min=0), metavar="N",
              help="Run a failing test up to N more times; a later pass counts as flaky. --reruns is "
                   "the same (pytest-rerunfailures' spelling).")
@click.option("--lf", "--last-failed", "last_failed", is_flag=True, default=None,
              help="Run only the tests that failed last time (all, if none did).")
@click.option("--random-order", is_flag=True, default=None, help="Shuffle files and tests; prints the seed.")
@click.option("--seed", "--randomly-seed", type=click.IntRange(min=0),
              help="Replay a --random-order run (--randomly-seed: pytest-randomly's spelling).")
@click.option("--shard", metavar="K/N", help="Run the K-th of N shards of the files (CI matrices).")
@click.option("--inconclusive-ok", is_flag=True, default=None,
              help="Probabilistic tests that reach no verdict do not fail the run.")
@click.option("--collect-only", "--co", "collect_only", is_flag=True, default=None,
              help="List the selected test ids; run nothing.")
@click.option("--doctest-modules", is_flag=True, default=None,
              help="Also run the doctests of every .py file under PATHS (pytest's flag).")
@click.option("--doctest-glob", multiple=True, metavar="PATTERN",
              help="Run the doctests of text files matching PATTERN; repeatable [default: test*.txt].")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option("-v", "--verbose", count=True, help="A line per test (-vv: also output of passing tests).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), help="Colour [default: auto; honours NO_COLOR].")
@click.option("--durations", type=click.IntRange(min=0), metavar="N", help="Show the N slowest tests.")
@click.option("--json", "json_path", metavar="PATH", help="Write the dbtest.report/1 JSON report.")
@click.option("--junit-xml", metavar="PATH", help="Write a JUnit XML report.")
@click.option("--markdown", metavar="PATH", help="Write a Markdown report.")
@click.option("--cov", multiple=True, is_flag=False, flag_value="", metavar="SOURCE",
              help="Measure coverage of SOURCE (a package or folder; repeatable); alone: what coverage.py's "
                   "configuration names. Needs dbtest-engine[cov].")
@click.option("--cov-report", multiple=True, metavar="TYPE",
              help="term, term-missing, html, xml, json, lcov, markdown, annotate; :DEST for a file report's "
                   "path, term:skip-covered; repeatable; empty for none [default: term].")
@click.option("--cov-branch", is_flag=True, default=None, help="Measure branches too.")
@click.option("--cov-fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail the run (exit 1) if the total coverage is below PCT.")
@click.option("--cov-config", metavar="PATH", help="coverage.py's configuration file [default: its own search].")
@click.option("--cov-context", type=click.Choice(["test"]), help="Record which test ran each line.")
@click.option("--cov-append", is_flag=True, default=None, help="Add to the coverage data of an earlier run.")
@click.option("--no-cov", is_flag=True, default=None, help="No coverage, whatever asks for it (e.g. addopts).")
@click.option("-s", "no_capture", is_flag=True, default=None,
              help="Show what tests print as they print it (--capture=no).")
@click.option("--capture", type=click.Choice(["fd", "sys", "no", "tee-sys"]),
              help="pytest's capture modes: fd (also subprocesses), sys, no, tee-sys (captured and shown) "
                   "[default: fd].")
@click.option("--pdb", is_flag=True, default=None,
              help="Open the debugger at every failure or error (tests then run one at a time, in-process).")
@click.option("--trace", is_flag=True, default=None,
              help="Open the debugger at the start of every test (one at a time, in-process).")
@click.option("--tb", type=click.Choice(["auto", "long", "short", "line", "native", "no"]),
              help="How a failure's traceback is shown (pytest's styles) [default: auto].")
@click.option("-l", "--showlocals", is_flag=True, default=None, help="Show the local variables of each failing frame.")
def unit(paths: tuple[str, ...], quiet: int, verbose: int, json_path: str | None, **options: Any) -> None:
    """Run the sync and async tests under PATHS (default: [tool.dbtest] paths, else tests/).

    A PATH may name one test: tests/test_users.py::test_create.
    Exit codes: 0 passed, 1 failed, 2 interrupted, 3 internal error, 4 usage error, 5 no tests.
    """
    plugin_words = [w for p in options.pop("plugins") for w in ("-p", p)]
    # Options dbtest does not know are pytest plugins' (`--snapshot-update`, `--opt=value`).
    plugin_words += [p for p in paths if p.startswith("-")]
    paths = tuple(p for p in paths if not p.startswith("-"))
    from ._compat.plugins import ARGS_ENV

    # pytest's command line, as plugins read it (`config.option.file_or_dir`, their own
    # options); every process of the run reads it (workers inherit the environment), and a
    # dbtest run started by a test has its own.
    os.environ[ARGS_ENV] = json.dumps([*plugin_words, *paths])
    flags: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if flags.pop("no_capture", False):
        flags["capture"] = "no"
    if paths:
        flags["paths"] = list(paths)
    for repeatable in ("match", "cov", "cov_report", "doctest_glob"):
        if flags.get(repeatable) == ():
            del flags[repeatable]
        elif repeatable in flags:
            flags[repeatable] = list(flags[repeatable])
    if quiet or verbose:
        flags["verbosity"] = verbose - quiet
    if json_path is not None:
        flags["json"] = json_path
    raise SystemExit(_run_unit(flags))


def _unknown_config_options(settings: dict[str, Any]) -> bool:
    """pytest's `--strict-config`: names each key of the pytest configuration nothing
    declares, as pytest does; True when there is one (a usage error, before any test runs)."""
    from ._compat.strict_config import is_strict, unknown_keys
    from ._settings import PythonSettings

    python_settings = PythonSettings.from_engine(settings)
    if not is_strict(python_settings):
        return False
    unknown = unknown_keys(python_settings)
    for key in unknown:
        _usage_error(f"Unknown config option: {key} (in {python_settings.ini_file}; --strict-config is on)")
    return bool(unknown)


def _workers(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise click.BadParameter(f"{value!r} is not a number of workers; use a whole number or 'auto'")
    return count


def _run_unit(flags: dict[str, Any]) -> int:
    from . import _core

    try:
        run = _core.UnitRun(flags, os.getcwd())
        from ._compat.served import randomly_flags

        shuffled = randomly_flags(flags, run.python_settings)
        if shuffled is not None:
            run = _core.UnitRun(shuffled, os.getcwd())
    except _core.UsageError as e:
        _usage_error(str(e))
        return EXIT_USAGE
    for warning in run.warnings:
        click.echo(f"dbtest: warning: {warning}", err=True)
    if _unknown_config_options(run.python_settings):
        return EXIT_USAGE
    coverage = None
    if run.coverage is not None:
        from ._coverage import CoverageUnavailable, session_for

        try:
            # Before anything of the project is imported, so its module bodies count.
            coverage = session_for(run.coverage, "parent" if run.uses_workers else "main")
        except CoverageUnavailable as e:
            _usage_error(str(e))
            return EXIT_USAGE
    sys.stdout.flush()
    if run.file_count == 0:
        engine_owns_ctrl_c()
        return run.run_blocking(coverage)
    if run.uses_workers:
        # The parent only schedules: no event loop or driver here.
        from ._compat.served import testrun_uid_for_workers

        testrun_uid_for_workers()
        engine_owns_ctrl_c()
        return exit_now(run.run_blocking(coverage))
    import asyncio
    import signal

    from . import _debugging
    from ._driver import Driver
    from ._settings import PythonSettings

    _debugging.interrupt_run = run.interrupt

    async def main() -> int:
        loop = asyncio.get_running_loop()
        driver = Driver(loop, run.root, PythonSettings.from_engine(run.python_settings))
        driver.check_options()

        def on_interrupt() -> None:
            if run.interrupted:  # a second Ctrl-C: stop now
                os._exit(EXIT_INTERRUPTED)
            run.interrupt()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return await run.run(driver, coverage)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            driver.close()

    from ._compat.plugins import UsageError

    try:
        return exit_now(asyncio.run(main()))
    except UsageError as e:
        _usage_error(str(e))
        return EXIT_USAGE


@cli.command(name="bench")
@click.argument("paths", nargs=-1)
@click.option("-k", "--match", "match", multiple=True, metavar="PATTERN",
              help="Glob on the benchmark id (file::group::name[param]); repeatable.")
@click.option("--pattern", metavar="GLOB", help="Benchmark file pattern [default: bench_*.py].")
@click.option("--warmup", type=click.IntRange(min=0), metavar="N", help="Untimed rounds first [default: 3].")
@click.option("--min-rounds", type=click.IntRange(min=1), metavar="N", help="Timed rounds at least [default: 5].")
@click.option("--max-time", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Keep timing rounds while under S seconds per benchmark [default: 1.0].")
@click.option("--min-round-time", type=click.FloatRange(min=0, min_open=True), metavar="S",
              help="Calibrate iterations so a round lasts at least S seconds [default: 0.01].")
@click.option("--disable-gc", is_flag=True, default=None, help="Turn the garbage collector off while timing.")
@click.option("--save", metavar="NAME", help="Keep this run under .dbtest/bench/NAME.json.")
@click.option("--compare", metavar="NAME", help="Compare with a saved run (rank test + noise threshold).")
@click.option("--fail-on-regression", type=click.FloatRange(min=0), metavar="PCT",
              help="With --compare: exit 1 on a significant slowdown beyond PCT percent.")
@click.option("--json", "json_path", metavar="PATH", help="Write the dbtest.bench/1 JSON report.")
@click.option("--markdown", metavar="PATH", help="Write a Markdown report.")
@click.option("--plot", metavar="PATH", help="Write a PNG of the distributions (needs dbtest-engine[plot]).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), help="Colour [default: auto].")
def bench_command(paths: tuple[str, ...], json_path: str | None, **options: Any) -> None:
    """Measure the benchmarks under PATHS (default: benches/, files bench_*.py).

    Exit codes: 0 measured, 1 a benchmark failed or regressed, 4 usage error, 5 none found.
    """
    flags: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if paths:
        flags["paths"] = list(paths)
    flags["match"] = list(flags.get("match", ())) or None
    if json_path is not None:
        flags["json"] = json_path
    flags = {k: v for k, v in flags.items() if v is not None}
    raise SystemExit(_run_bench(flags))


def _run_bench(flags: dict[str, Any]) -> int:
    from . import _core

    plot = flags.get("plot")
    if plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            _usage_error("--plot needs matplotlib: pip install 'dbtest-engine[plot]'")
            return EXIT_USAGE
    try:
        run = _core.BenchRun(flags, os.getcwd())
    except _core.UsageError as e:
        _usage_error(str(e))
        return EXIT_USAGE
    import asyncio

    from ._bench import BenchDriver

    async def main() -> tuple[int, str]:
        return await run.run(BenchDriver(disable_gc=run.gc_disabled))

    sys.stdout.flush()
    code, report = asyncio.run(main())
    if plot is not None and report:
        from ._plot import plot_report

        plot_report(json.loads(report), plot)
        click.echo(f"plot written to {plot}")
    return exit_now(code)


@cli.group()
def report() -> None:
    """Work with the reports of earlier runs."""


@report.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "json_path", metavar="PATH", help="Write the merged dbtest.report/1 JSON report.")
@click.option("--junit-xml", metavar="PATH", help="Write the merged JUnit XML report.")
@click.option("--markdown", metavar="PATH", help="Write the merged Markdown report.")
@click.option("--cov", "cov", is_flag=True, help="Combine the shards' coverage data (.coverage.shard-K-of-N files "
              "in this folder, from runs with --cov) and report it.")
@click.option("--cov-report", multiple=True, metavar="TYPE", help="As dbtest unit's [default: term].")
@click.option("--cov-fail-under", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail (exit 1) if the combined total coverage is below PCT.")
@click.option("--cov-config", metavar="PATH", help="coverage.py's configuration file.")
def merge(inputs: tuple[str, ...], json_path: str | None, junit_xml: str | None, markdown: str | None,
          cov: bool, cov_report: tuple[str, ...], cov_fail_under: float | None, cov_config: str | None) -> None:
    """Combine the JSON reports of a run's shards (`dbtest unit --shard K/N --json ...`) into one.

    Exits as the combined run would: 0 all passed, 1 something failed.
    """
    from . import _core

    coverage_failed = False
    if cov or cov_report or cov_fail_under is not None:
        from ._coverage import CoverageUnavailable, merge_shards

        try:
            summary = merge_shards([r for r in cov_report if r] if cov_report else ["term"], cov_config)
        except CoverageUnavailable as e:
            _usage_error(str(e))
            raise SystemExit(EXIT_USAGE) from None
        text, coverage_failed = _core.coverage_verdict(summary, cov_fail_under)
        click.echo(text, nl=False)
    try:
        code = _core.merge_reports(list(inputs), json_path, junit_xml, markdown)
    except _core.UsageError as e:
        _usage_error(str(e))
        code = EXIT_USAGE
    raise SystemExit(1 if code == 0 and coverage_failed else code)


def _usage_error(message: str) -> None:
    click.echo(f"dbtest: error: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    if "dbtest._coverage" in sys.modules:
        sys.modules["dbtest._coverage"].pause_early()
    try:
        cli.main(args=argv, prog_name="dbtest", standalone_mode=False)
    except click.UsageError as e:
        # click exits 2 on usage errors; dbtest's contract says 4 (2 is "interrupted").
        e.show()
        sys.exit(EXIT_USAGE)
    except click.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 - anything else is a bug in dbtest
        import traceback

        traceback.print_exc()
        click.echo("dbtest: internal error (exit 3); please report it with the traceback above", err=True)
        sys.exit(EXIT_INTERNAL)


from ._cli_experiment import experiment as _experiment_group

cli.add_command(_experiment_group)
