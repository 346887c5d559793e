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
    addopts: list[str] = field(default_factory=list)  # its words, for pytest's plugins
    plugin_options: list[str] = field(default_factory=list)  # addopts' options pytest's core lacks
    ini_file: str | None = None
    ini: dict[str, str] = field(default_factory=dict)  # list values one per line
    markexpr: str | None = None
    keyword: str | None = None  # pytest's -k from addopts
    rootdir: str = "."
    coverage: dict[str, Any] | None = None  # `--cov`'s settings (dbtest_core::coverage)
    import_mode: str = "prepend"  # addopts' --import-mode: or "append", "importlib"
    ini_file_keys: list[str] = field(default_factory=list)  # what the file sets, for --strict-config
    search_paths: list[str] = field(default_factory=list)  # the walked paths (command line, testpaths)
    python_files: list[str] = field(default_factory=list)  # the walk's test-file patterns
    doctest_modules: bool = False  # --doctest-modules: the walk takes every .py file
    doctest_globs: list[str] = field(default_factory=list)  # --doctest-glob (default test*.txt)
    debug: dict[str, Any] | None = None  # -s, --pdb, --trace (dbtest_core::config::DebugSettings)

    @classmethod
    def from_engine(cls, fields: dict[str, Any]) -> PythonSettings:
        """The engine's settings (`run.python_settings`, a dict of these fields)."""
        return cls(**fields)
