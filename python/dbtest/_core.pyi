"""Type stubs for dbtest._core, the Rust extension (crates/dbtest-py)."""

from typing import Any, Awaitable

__version__: str

class DbtestError(Exception):
    """Base class of dbtest's errors."""

class UsageError(DbtestError):
    """Bad flags, configuration or paths: the CLI exits with code 4."""

class UnitRun:
    """One `dbtest unit` invocation: settings and discovery happen in the constructor."""

    def __init__(self, flags_json: str, cwd: str) -> None: ...
    def interrupt(self) -> None: ...
    @property
    def interrupted(self) -> bool: ...
    @property
    def abandoned(self) -> bool: ...
    @property
    def file_count(self) -> int: ...
    def run_without_files(self) -> int: ...
    def run(self, driver: Any) -> Awaitable[int]: ...

class BenchRun:
    """One `dbtest bench` invocation: settings, discovery and the saved run to compare with
    are read in the constructor."""

    def __init__(self, flags_json: str, cwd: str) -> None: ...
    @property
    def gc_disabled(self) -> bool: ...
    def run(self, driver: Any) -> Awaitable[tuple[int, str]]: ...

def merge_reports(
    inputs: list[str], json: str | None = None, junit_xml: str | None = None, markdown: str | None = None
) -> int:
    """`dbtest report merge`: prints the merged summary, writes the reports, returns the exit code."""
