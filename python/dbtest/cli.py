"""The `dbtest` command line. Parsing lives here; everything else is the Rust engine's."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

EXIT_INTERRUPTED = 2
EXIT_INTERNAL = 3
EXIT_USAGE = 4


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dbtest", prog_name="dbtest")
def cli() -> None:
    """dbtest: run tests, benchmarks and probabilistic experiments on a Rust engine."""


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("-k", "--match", "match", multiple=True, metavar="PATTERN",
              help='Glob on the test id, e.g. "*crud*"; repeatable (any may match).')
@click.option("-t", "--tags", metavar="EXPR", help='Tag expression, e.g. "db and not (slow or flaky)".')
@click.option("--pattern", metavar="GLOB", help="Test file name pattern [default: test_*.py].")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Files whose tests run at once [default: 32].")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Per-test timeout; @dbtest.timeout wins.")
@click.option("-x", "--exitfirst", is_flag=True, default=None, help="Stop after the first failing test.")
@click.option("--maxfail", type=click.IntRange(min=1), metavar="N", help="Stop after N failing tests.")
@click.option("--retries", type=click.IntRange(min=0), metavar="N",
              help="Run a failing test up to N more times; a later pass counts as flaky.")
@click.option("--collect-only", is_flag=True, default=None, help="List the selected test ids; run nothing.")
@click.option("-q", "--quiet", count=True, help="Less output.")
@click.option("-v", "--verbose", count=True, help="A line per test (-vv: also output of passing tests).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), help="Colour [default: auto; honours NO_COLOR].")
@click.option("--durations", type=click.IntRange(min=0), metavar="N", help="Show the N slowest tests.")
@click.option("--json", "json_path", metavar="PATH", help="Write the dbtest.report/1 JSON report.")
@click.option("--junit-xml", metavar="PATH", help="Write a JUnit XML report.")
@click.option("--markdown", metavar="PATH", help="Write a Markdown report.")
def unit(paths: tuple[str, ...], quiet: int, verbose: int, json_path: str | None, **options: Any) -> None:
    """Run the sync and async tests under PATHS (default: [tool.dbtest] paths, else tests/).

    A PATH may name one test: tests/test_users.py::test_create.
    Exit codes: 0 passed, 1 failed, 2 interrupted, 3 internal error, 4 usage error, 5 no tests.
    """
    flags: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if paths:
        flags["paths"] = list(paths)
    if flags.get("match") == ():
        del flags["match"]
    elif "match" in flags:
        flags["match"] = list(flags["match"])
    if quiet or verbose:
        flags["verbosity"] = verbose - quiet
    if json_path is not None:
        flags["json"] = json_path
    raise SystemExit(_run_unit(flags))


def _run_unit(flags: dict[str, Any]) -> int:
    from . import _core

    try:
        run = _core.UnitRun(json.dumps(flags), os.getcwd())
    except _core.UsageError as e:
        _usage_error(str(e))
        return EXIT_USAGE
    sys.stdout.flush()
    if run.file_count == 0:
        return run.run_without_files()
    from ._driver import Driver

    import asyncio
    import signal

    async def main() -> int:
        loop = asyncio.get_running_loop()
        driver = Driver(loop)

        def on_interrupt() -> None:
            if run.interrupted:  # a second Ctrl-C: stop now
                os._exit(EXIT_INTERRUPTED)
            run.interrupt()

        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            return await run.run(driver)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            driver.close()

    code = asyncio.run(main())
    if run.abandoned:
        # A sync test is still running on a thread past its timeout; don't wait for it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _usage_error(message: str) -> None:
    click.echo(f"dbtest: error: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
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
