"""pytest's `--strict-config` (or `strict_config` / `strict` in the file): a key of the pytest
configuration that neither pytest, nor an installed plugin, nor an initial conftest declares
is a usage error (exit 4), named as pytest names it (`Unknown config option: KEY`).

The keys pytest and its plugins declare are asked of the installed pytest itself: its own
configuration object is made (as `pytest` does at start, builtin plugins and `pytest11` entry
points loaded unless `PYTEST_DISABLE_PLUGIN_AUTOLOAD` or `-p no:NAME` say otherwise) and its
parser's ini keys read. It is only made when the check is asked for. The keys conftests add
with `parser.addini` are read from their source (a conftest is not imported before its tests).
"""

from __future__ import annotations

import ast
import contextlib
import os
from pathlib import Path
from typing import Any

from .._settings import PythonSettings

_TRUE = ("true", "1", "yes", "on", "y", "t")

# pytest 9's own keys: the check's rule where pytest is not installed.
_PYTEST_KEYS = frozenset(
    {
        "addopts", "assertion_text_diff_style", "cache_dir", "collect_imported_tests", "consider_namespace_packages",
        "console_output_style", "disable_test_id_escaping_and_forfeit_all_rights_to_community_support",
        "doctest_encoding", "doctest_optionflags", "empty_parameter_set_mark", "enable_assertion_pass_hook",
        "faulthandler_exit_on_timeout", "faulthandler_timeout", "filterwarnings", "junit_duration_report",
        "junit_family", "junit_log_passing_tests", "junit_logging", "junit_suite_name", "log_auto_indent", "log_cli",
        "log_cli_date_format", "log_cli_format", "log_cli_level", "log_date_format", "log_file",
        "log_file_date_format", "log_file_format", "log_file_level", "log_file_mode", "log_format", "log_level",
        "markers", "max_warnings", "minversion", "norecursedirs", "parametrize_long_str_id_strategy",
        "python_classes", "python_files", "python_functions", "pythonpath", "required_plugins", "strict",
        "strict_config", "strict_markers", "strict_parametrization_ids", "strict_xfail", "testpaths",
        "tmp_path_retention_count", "tmp_path_retention_policy", "truncation_limit_chars",
        "truncation_limit_lines", "usefixtures", "verbosity_assertions", "verbosity_subtests",
        "verbosity_test_cases", "xfail_strict",
    }
)


def is_strict(settings: PythonSettings) -> bool:
    """`--strict-config` in addopts (or `strict_config = true`), else pytest 9's `strict`."""
    value = settings.ini.get("strict_config")
    if value is None:
        value = settings.ini.get("strict")
    return value is not None and value.strip().lower() in _TRUE


def unknown_keys(settings: PythonSettings) -> list[str]:
    """The keys of the configuration file nothing declares, when the check is on (sorted,
    as pytest reports them)."""
    if not is_strict(settings) or not settings.ini_file_keys:
        return []
    known = _declared_by_pytest(settings) | _declared_by_conftests(settings)
    return sorted({key for key in settings.ini_file_keys if key not in known})


def _declared_by_pytest(settings: PythonSettings) -> set[str]:
    try:
        from _pytest.config import get_config
    except ImportError:
        return set(_PYTEST_KEYS)
    config: Any = get_config()
    manager = config.pluginmanager
    for name in settings.disabled_plugins:
        manager.set_blocked(name)
    if not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        # A plugin that cannot be loaded declares nothing; its own error comes when it is used.
        with contextlib.suppress(Exception):
            manager.load_setuptools_entrypoints("pytest11")
    parser = config._parser
    # Config._preparse declares these on the real run.
    return {*parser._inidict, *getattr(parser, "_ini_aliases", {}), "addopts", "minversion", "required_plugins"}


def _declared_by_conftests(settings: PythonSettings) -> set[str]:
    """`parser.addini("NAME", ...)` in pytest's initial conftests: the rootdir's, and those of
    each test path, of the folders between, and of its `test*` subfolders."""
    root = Path(settings.rootdir).resolve()
    testpaths = [p for p in settings.ini.get("testpaths", "").split() if p] or ["."]
    folders: set[Path] = {root}
    for entry in testpaths:
        start = (root / entry).resolve()
        for base in (start, *start.glob("test*")):
            folder = base if base.is_dir() else base.parent
            while folder != root and root in folder.parents:
                folders.add(folder)
                folder = folder.parent
    names: set[str] = set()
    for folder in folders:
        conftest = folder / "conftest.py"
        if conftest.is_file():
            names |= _addini_names(conftest)
    return names


def _addini_names(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "addini"
        and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
    }
