"""Assertions as pytest's (DESIGN section 4c): where pytest is installed, test modules,
conftests and the modules named by `pytest.register_assert_rewrite` are imported through
pytest's own assertion rewriter (`AssertionRewritingHook`, first on `sys.meta_path`, as pytest
installs it), so an assert evaluates as it does under pytest (its operands stay alive while it
runs) and fails with pytest's explanation (`pytest_assertrepr_compare`, truncated as pytest
truncates it). Without pytest, dbtest's own detail serves (`dbtest._failure`).

The rewriter is installed when the first file with an `assert` in it is imported and the
suite uses pytest anyway (the file names pytest, or pytest is imported already, by a conftest
or an earlier file): importing it costs as much as importing pytest, which a suite that never
imports pytest (plain asserts in plain functions) is spared. Such a suite's asserts evaluate as
Python's own, and fail with dbtest's detail.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import warnings
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config

_lock = threading.Lock()
_config: Config | None = None
_hook: Any = None
# None: not looked for yet; False: pytest is not installed, or its rewriter cannot be used.
_available: bool | None = None


def configure(config: Config) -> None:
    """The run's configuration: `python_files` decides which modules are test modules."""
    global _config
    _config = config


def before_import(path: str) -> None:
    """Installs pytest's rewriter before `path` (a test file or conftest) is imported, if it
    holds an assert and pytest is installed."""
    if _hook is not None or _available is False or _config is None:
        return
    try:
        with open(path, "rb") as source:
            text = source.read()
    except OSError:
        return
    if b"assert" in text and (b"pytest" in text or "pytest" in sys.modules):
        _install()


def hook() -> Any:
    """pytest's rewriting import hook, once installed (None before, or without pytest)."""
    return _hook


def loader_for(name: str, path: str) -> Any:
    """The loader that imports `path` as module `name` outside the import system (a name of
    dbtest's making): pytest's rewriter when it would rewrite that file, else None."""
    found = _hook
    if found is None:
        return None
    state = found.config.stash[importlib.import_module("_pytest.assertion").assertstate_key]
    return found if found._should_rewrite(name, path, state) else None


def _install() -> None:
    global _hook, _available
    with _lock:
        if _hook is not None or _available is False:
            return
        if importlib.util.find_spec("pytest") is None:
            _available = False
            return
        assert _config is not None
        try:
            # Read as plain modules: their types are the installed pytest's, 7.4 to 9.x.
            assertion = importlib.import_module("_pytest.assertion")
            rewrite = importlib.import_module("_pytest.assertion.rewrite")
            util: Any = importlib.import_module("_pytest.assertion.util")
        except ImportError:
            _available = False
            return
        assertstate_key = assertion.assertstate_key
        shim = _RewriteConfig(_config)
        shim.stash[assertstate_key] = SimpleNamespace(trace=_no_trace, hook=None, mode="rewrite")
        made = rewrite.AssertionRewritingHook(shim)
        shim.stash[assertstate_key].hook = made
        sys.meta_path.insert(0, made)
        # What pytest sets around each test (`pytest_runtest_protocol`), set for the run.
        util._reprcompare = _ReprCompare(shim)
        util._config = shim
        _hook = made
        _available = True


def _no_trace(*args: Any) -> None:
    pass


class _RewriteConfig:
    """What pytest's rewriter and its explanations ask of a config (7.4 to 9.x): ini values
    from the project's configuration, no verbosity, plain text, and a `stash`."""

    VERBOSITY_ASSERTIONS = "assertions"

    def __init__(self, config: Config) -> None:
        self._config = config
        self.stash: dict[Any, Any] = {}
        self.option = SimpleNamespace(verbose=0, assertmode="rewrite")
        self.pluginmanager = SimpleNamespace(has_plugin=lambda name: False)
        self.hook = SimpleNamespace()

    def getini(self, name: str) -> Any:
        try:
            return self._config.getini(name)
        except (ValueError, KeyError, AttributeError):
            return _INI_DEFAULTS.get(name)

    def getoption(self, name: str, default: Any = None, skip: bool = False) -> Any:
        return getattr(self.option, name.lstrip("-").replace("-", "_"), default)

    def getvalue(self, name: str) -> Any:
        return self.getoption(name)

    def get_verbosity(self, verbosity_type: str | None = None) -> int:
        return 0

    def get_terminal_writer(self) -> Any:
        return SimpleNamespace(_highlight=lambda source, lexer="python": source)

    def issue_config_time_warning(self, warning: Warning, stacklevel: int) -> None:
        warnings.warn(warning, stacklevel=stacklevel + 1)


_INI_DEFAULTS: dict[str, Any] = {
    "python_files": ["test_*.py", "*_test.py"],
    "enable_assertion_pass_hook": False,
    "truncation_limit_lines": None,
    "truncation_limit_chars": None,
}


class _ReprCompare:
    """pytest's `callbinrepr`: the explanation of a failed comparison, from conftests'
    `pytest_assertrepr_compare` first, then pytest's own, truncated and escaped as pytest
    does before the rewritten assert formats it."""

    def __init__(self, shim: _RewriteConfig) -> None:
        self._shim = shim

    def __call__(self, op: str, left: object, right: object) -> str | None:
        assertion = importlib.import_module("_pytest.assertion")
        truncate = importlib.import_module("_pytest.assertion.truncate")

        config = self._shim._config
        arguments = {"config": config, "op": op, "left": left, "right": right}
        # Conftests' and plugins' first (pluggy calls the last registered first), pytest's last.
        explanations = list(config.hook.pytest_assertrepr_compare(**arguments))
        explanations.append(assertion.pytest_assertrepr_compare(config=self._shim, op=op, left=left, right=right))
        for found in explanations:
            if not found:
                continue
            if hasattr(truncate, "materialize_with_truncation"):  # pytest 9
                lines = truncate.materialize_with_truncation(found, self._shim)
            else:
                lines = truncate.truncate_if_required(list(found), SimpleNamespace(config=self._shim))
            if lines:
                return "\n~".join(line.replace("\n", "\\n") for line in lines).replace("%", "%%")
        return None
