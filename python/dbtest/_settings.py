"""pytest's settings for the Python side of a run, as the engine reads them from the
project's configuration (crates/dbtest-core, `pytest_config::PythonSettings`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class PythonSettings:
    """What the collector, the marks and `config.getini` need: collection names, marks,
    warnings filters, the asyncio mode, and every raw key of the configuration file."""

    python_classes: list[str] = field(default_factory=lambda: ["Test"])
    python_functions: list[str] = field(default_factory=lambda: ["test"])
    pythonpath: list[str] = field(default_factory=list)  # absolute folders for sys.path
    markers: list[str] = field(default_factory=list)  # registered names, no descriptions
    strict_markers: bool = False
    xfail_strict: bool = False
    filterwarnings: list[str] = field(default_factory=list)  # file order, then addopts' -W
    asyncio_mode: str = "strict"  # or "auto"
    disabled_plugins: list[str] = field(default_factory=list)  # NAME of each -p no:NAME
    ini_file: str | None = None
    ini: dict[str, str] = field(default_factory=dict)  # list values one per line
    markexpr: str | None = None
    keyword: str | None = None  # pytest's -k from addopts
    rootdir: str = "."
    coverage: dict[str, Any] | None = None  # `--cov`'s settings (dbtest_core::coverage)
    debug: dict[str, Any] | None = None  # -s, --pdb, --trace (dbtest_core::config::DebugSettings)

    @classmethod
    def from_engine(cls, fields: dict[str, Any]) -> PythonSettings:
        """The engine's settings (`run.python_settings`, a dict of these fields)."""
        return cls(**fields)
