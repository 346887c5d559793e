"""Coverage under `dbtest unit --cov` (DESIGN section 4d), measured, combined and reported
by coverage.py, as pytest-cov drives it.

A run measures in one of three roles:
- in-process (`main`): this process measures; at the end its data, and that of any
  subprocess coverage.py's own `patch = subprocess` measured, is combined and reported;
- a worker (`worker`): measures and saves its own data file beside the run's;
- the parent of workers (`parent`): measures nothing, and combines and reports the workers'.

Sync tests run on threads the Rust engine started, which never pass through `threading`'s
start-up, where coverage.py's tracer reaches new threads: `trace_this_thread` gives such a
thread the tracer when it first runs Python (with the `sysmon` core on Python 3.12+ every
thread is measured already).
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

# Set while this process measures with a per-thread tracer: what `threading` would install.
_thread_tracer: Callable[..., Any] | None = None

# Where the run's data file is, for workers (they start in the parent's folder, but a
# coverage configuration may name the file relative to another).
DATA_FILE_ENV = "DBTEST_COV_DATA_FILE"

# What pytest-cov prints where each kind of file report went.
_WRITTEN = {
    "html": "Coverage HTML written to dir {}",
    "xml": "Coverage XML written to file {}",
    "json": "Coverage JSON written to file {}",
    "lcov": "Coverage LCOV written to file {}",
    "annotate": "Coverage annotated source written to dir {}",
    "markdown": "Coverage Markdown information written to file {}",
    "markdown-append": "Coverage Markdown information appended to file {}",
}


class CoverageUnavailable(Exception):
    """--cov without coverage.py installed, or a configuration it refuses."""


def _coverage_module() -> Any:
    try:
        import coverage
    except ImportError:
        raise CoverageUnavailable(
            "--cov needs coverage.py, which is not installed: pip install 'dbtest-engine[cov]'"
        ) from None
    return coverage


EARLY_ENV = "DBTEST_COV_EARLY"
_early: CoverageSession | None = None
# The measurement this process runs, when it names each test's lines (`--cov-context test`).
_per_test: CoverageSession | None = None


def start_early() -> None:
    """Starts the measurement `restart_measuring_early` asked for (its settings in the
    environment), as the first thing the process does."""
    global _early
    settings = json.loads(os.environ.pop(EARLY_ENV))  # not for the tests' subprocesses
    _early = CoverageSession(settings, "main")
    _early.start()


def pause_early() -> None:
    """The measurement started early pauses while dbtest's own command line is parsed: the
    module bodies of what dbtest imports count, its use of them (click's parsing) does not."""
    if _early is not None:
        _early.cov.stop()


def session_for(settings: dict[str, Any], role: str) -> CoverageSession:
    """The run's measurement: the one started early, or a new one, started. Where measuring
    would start too late (dbtest imported a measured package before it could start), the
    process is replaced by the same command measuring from its first line."""
    if _early is not None:
        _early.cov.start()
        return _early
    session = CoverageSession(settings, role)
    if role == "main" and session.imported_before():
        sys.stdout.flush()
        sys.stderr.flush()
        env = {**os.environ, EARLY_ENV: json.dumps(settings)}
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    session.start()
    return session


def test_context(test_id: Callable[[Any], str], item: Any) -> None:
    """`--cov-context test`: the lines run from now on are the test's (tests then run one at
    a time), named as pytest-cov names them: its id and `|run`. The id is made only then."""
    session = _per_test
    if session is not None:
        session.cov.switch_context(f"{test_id(item)}|run")


def trace_this_thread() -> None:
    """Gives the calling thread coverage's tracer, if it measures and the thread has none."""
    tracer = _thread_tracer
    if tracer is not None and sys.gettrace() is None:
        sys.settrace(tracer)


class CoverageSession:
    """One run's measurement. `settings`: the engine's `CoverageSettings` (a dict)."""

    def __init__(self, settings: dict[str, Any], role: str) -> None:
        self.settings = settings
        self.role = role
        coverage = _coverage_module()
        self._coverage = coverage
        config = settings.get("config") or True
        sources = settings.get("sources") or None
        # Workers write beside the run's data file; otherwise coverage.py's configuration says
        # where it is (data_file=None would mean no file at all).
        located = {"data_file": os.environ[DATA_FILE_ENV]} if role == "worker" and DATA_FILE_ENV in os.environ else {}
        try:
            self.cov = coverage.Coverage(
                source=sources,
                branch=settings.get("branch"),
                config_file=config,
                **located,
                # Each process its own file, combined at the end (with subprocesses').
                data_suffix=role != "parent",
            )
            # Read the configuration now: a bad file is an error before any test runs.
            self.data_file = os.path.abspath(self.cov.config.data_file)
            if _sysmon_is_cheaper(self.cov.config, settings):
                self.cov.set_option("run:core", "sysmon")
        except coverage.exceptions.CoverageException as exc:
            raise CoverageUnavailable(f"coverage.py refused its configuration: {_where(str(exc))}") from None

    def imported_before(self) -> bool:
        """Whether a package this run measures is imported already (by dbtest itself: click,
        yaml, jinja2), so that its module bodies would count as never run."""
        config = self.cov.config
        names = [*(config.source or []), *(getattr(config, "source_pkgs", None) or [])]
        folders = [os.path.abspath(n) for n in names if os.path.isdir(n)]
        packages = [n for n in names if not os.path.isdir(n)]
        for name, module in list(sys.modules.items()):
            top = name.partition(".")[0]
            if top in packages or name in packages:
                return True
            file = getattr(module, "__file__", None)
            if folders and file and any(os.path.abspath(file).startswith(f + os.sep) for f in folders):
                return True
        return False

    def start(self) -> None:
        """Starts measuring (in-process and in a worker); the run's first step with `--cov`."""
        global _thread_tracer
        if self.role != "worker":
            os.environ[DATA_FILE_ENV] = self.data_file
            if not self.settings.get("append"):
                # Data of an earlier run (or of a worker that crashed) must not count; other
                # shards' data, kept here for `dbtest report merge --cov`, stays.
                for path in [self.data_file, self._shard_file(), *self._own_data_files()]:
                    if path is not None and os.path.exists(path):
                        os.remove(path)
        if self.role == "parent":
            return
        if self.role == "worker":
            # A worker runs some files: the sources the others import are not missing.
            self.cov._warn_unimported_source = False
        self.cov.start()
        if self.settings.get("per_test_context"):
            global _per_test
            _per_test = self
        _thread_tracer = threading.gettrace()

    def save(self) -> None:
        """A worker's end: its data goes to its own file, which the parent combines."""
        global _thread_tracer
        _thread_tracer = None
        self.cov.stop()
        self.cov.save()

    def finish_sync(self) -> dict[str, Any]:
        """Stops, combines and writes the reports; the summary the engine prints and judges."""
        if self.role == "main":
            self.save()
        shard_file = self._shard_file()
        # A shard's data stays apart for `dbtest report merge --cov` to combine.
        combined = _combining(self._coverage, self.settings, shard_file or self.data_file)
        if self.settings.get("append"):
            combined.load()
        # Only this run's files: a shard's own, and not the other shards' kept beside it.
        files = self._own_data_files()
        if files:  # none when nothing was measured
            combined.combine(data_paths=files)
        combined.save()
        return _reports(combined, self.settings.get("reports") or [])

    def _shard_file(self) -> str | None:
        shard = self.settings.get("shard")
        return f"{self.data_file}.shard-{shard.replace('/', '-of-')}" if shard else None

    def _own_data_files(self) -> list[str]:
        folder, base = os.path.split(self.data_file)
        return [
            os.path.join(folder, name)
            for name in os.listdir(folder or ".")
            if name.startswith(base + ".") and ".shard-" not in name
        ]

    async def finish_async(self) -> dict[str, Any]:
        return self.finish_sync()


def _sysmon_is_cheaper(config: Any, settings: dict[str, Any]) -> bool:
    """Whether to measure with `sys.monitoring` (Python 3.12+), which costs less than a trace
    function and reaches every thread: where neither the configuration nor COVERAGE_CORE chose
    a core and coverage.py's sysmon core can record what is asked (branches from 3.14 on)."""
    if config.core is not None or sys.version_info < (3, 12):
        return False
    if (config.branch or settings.get("branch")) and sys.version_info < (3, 14):
        return False
    return not config.dynamic_context and not any(c in config.concurrency for c in ("greenlet", "eventlet", "gevent"))


def _where(message: str) -> str:
    """coverage.py's configuration error, with the file's line that holds the bad value
    (`Couldn't read config file cov.ini: Not a boolean: maybe`): `cov.ini:2: branch = maybe`."""
    import re

    found = re.match(r"Couldn't read config file (?P<file>.+?): .*: (?P<value>[^:]+)$", message)
    if found is None or not os.path.isfile(found["file"]):
        return message
    value = found["value"].strip()
    with open(found["file"], encoding="utf-8", errors="replace") as config:
        for number, line in enumerate(config, 1):
            _, sep, written = line.partition("=")
            if sep and written.strip().strip("\"'") == value:
                return f"{found['file']}:{number}: {line.strip()}: {message}"
    return message


def _combining(coverage: Any, settings: dict[str, Any], data_file: str) -> Any:
    return coverage.Coverage(
        source=settings.get("sources") or None,
        branch=settings.get("branch"),
        config_file=settings.get("config") or True,
        data_file=data_file,
    )


def merge_shards(reports: list[str], config: str | None) -> dict[str, Any]:
    """`dbtest report merge --cov`: the shards' data (`.coverage.shard-K-of-N`, copied into
    this folder from each shard's job) combined into the data file, and its reports."""
    coverage = _coverage_module()
    settings = {"config": config}
    probe = _combining(coverage, settings, ".coverage")
    data_file = os.path.abspath(probe.config.data_file)
    folder, base = os.path.split(data_file)
    shards = sorted(
        os.path.join(folder, name) for name in os.listdir(folder or ".") if name.startswith(base + ".shard-")
    )
    if not shards:
        raise CoverageUnavailable(
            f"no shard coverage data ({base}.shard-K-of-N) in {folder}: copy each shard's file there, "
            "from runs with --cov and --shard K/N"
        )
    combined = _combining(coverage, settings, data_file)
    combined.combine(data_paths=shards)
    combined.save()
    return _reports(combined, reports)


def _reports(cov: Any, reports: list[str]) -> dict[str, Any]:
    text = io.StringIO()
    written: list[str] = []
    total: float | None = None
    no_data = None
    try:
        for report in reports:
            kind, _, dest = report.partition(":")
            if kind in ("term", "term-missing"):
                if text.tell() == 0:
                    text.write(_header())
                total = cov.report(
                    show_missing=kind == "term-missing",
                    skip_covered=dest == "skip-covered" or None,
                    ignore_errors=True,
                    file=text,
                )
            else:
                written.append(_file_report(cov, kind, dest or None))
        if total is None:
            total = cov.report(ignore_errors=True, file=io.StringIO())
    except Exception as exc:
        if type(exc).__name__ != "NoDataError":
            raise
        no_data = str(exc)
    if no_data is not None:
        text.write(f"dbtest: warning: coverage: {no_data}: did the tests import what --cov names?\n")
        total = 0.0
    fail_under = float(cov.config.fail_under or 0.0)
    return {
        "text": text.getvalue(),
        "written": written,
        "total": float(total or 0.0),
        "precision": int(cov.config.precision),
        "config_fail_under": fail_under if fail_under > 0 else None,
    }


def _file_report(cov: Any, kind: str, dest: str | None) -> str:
    config = cov.config
    if kind == "html":
        cov.html_report(directory=dest, ignore_errors=True)
        where = dest or config.html_dir
    elif kind == "xml":
        cov.xml_report(outfile=dest, ignore_errors=True)
        where = dest or config.xml_output
    elif kind == "json":
        cov.json_report(outfile=dest, ignore_errors=True)
        where = dest or config.json_output
    elif kind == "lcov":
        cov.lcov_report(outfile=dest, ignore_errors=True)
        where = dest or config.lcov_output
    elif kind == "annotate":
        cov.annotate(directory=dest, ignore_errors=True)
        where = dest or "the sources' folders"
    else:  # markdown, markdown-append
        where = dest or "coverage.md"
        with open(where, "a" if kind == "markdown-append" else "w", encoding="utf-8") as out:
            cov.report(ignore_errors=True, file=out, output_format="markdown")
    return _WRITTEN[kind].format(where)


def _header() -> str:
    """pytest-cov's heading of the terminal report."""
    import platform

    version = sys.version_info
    title = (
        f" coverage: platform {sys.platform}, python {platform.python_version()}"
        f"-{version.releaselevel}-{version.serial} "
    )
    return title.center(79, "_") + "\n\n"
