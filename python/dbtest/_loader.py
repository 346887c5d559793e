"""Importing user files (tests, benchmarks, use cases) the way pytest users expect: the
first folder above the file without `__init__.py` goes on sys.path and the module gets its
dotted name there, so a file can import its sibling modules."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from ._compat import assertion

_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_sys_path_lock = threading.Lock()


def add_to_sys_path(folder: str, append: bool = False) -> None:
    with _sys_path_lock:
        if folder not in sys.path:
            if append:
                sys.path.append(folder)
            else:
                sys.path.insert(0, folder)


class _ImportMode:
    """pytest's `--import-mode` of the run (addopts), and the rootdir its names start from."""

    mode = "prepend"
    root = "."
    consider_namespace_packages = False


def configure_imports(import_mode: str, rootdir: str, consider_namespace_packages: bool = False) -> None:
    _ImportMode.mode = import_mode
    _ImportMode.root = rootdir
    _ImportMode.consider_namespace_packages = consider_namespace_packages


def import_file(path: str, sys_path_entry: str, module_name: str) -> ModuleType:
    """Imports the file at `path` as `module_name` (computed by the Rust walker)."""
    assertion.before_import(path)
    if _ImportMode.mode == "importlib":
        return import_importlib_mode(path)
    add_to_sys_path(sys_path_entry, append=_ImportMode.mode == "append")
    # Always through the import system, never sys.modules directly: a module another thread
    # is still importing is already in sys.modules, half run; import_module waits for it.
    module = importlib.import_module(module_name)
    if _same_file(getattr(module, "__file__", None), path):
        return module
    # Another file already took this module name (two test_utils.py in folders without
    # __init__.py): load this one under a name of its own.
    return load_as(f"{module_name}__dbtest_{abs(hash(path)):x}", path)


def _same_file(a: str | None, b: str) -> bool:
    if not a:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def load_as(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path, loader=assertion.loader_for(name, path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module



def import_importlib_mode(path: str) -> ModuleType:
    """pytest's `--import-mode=importlib`: sys.path is left as it is and the module gets a
    name of its own. With pytest installed, its own `import_path` does it (its rules changed
    between 7.4 and 9.x); without, a file's name follows its path from the rootdir."""
    try:
        pathlib: Any = importlib.import_module("_pytest.pathlib")
    except ImportError:
        return _import_by_path(path)
    import inspect

    import_path = pathlib.import_path
    options: dict[str, Any] = {"mode": "importlib", "root": Path(_ImportMode.root)}
    if "consider_namespace_packages" in inspect.signature(import_path).parameters:  # pytest 8.1+
        options["consider_namespace_packages"] = _ImportMode.consider_namespace_packages
    module: ModuleType = import_path(path, **options)
    return module


def _import_by_path(path: str) -> ModuleType:
    """pytest's `module_name_from_path`: `tests/unit/test_x.py` is `tests.unit.test_x`."""
    relative = Path(path).resolve().with_suffix("")
    try:
        relative = relative.relative_to(Path(_ImportMode.root).resolve())
    except ValueError:
        pass
    parts = [p for p in relative.parts if p not in ("", "/")]
    if parts and parts[-1] == "__init__":
        parts.pop()
    name = ".".join(parts) or relative.name
    loaded = sys.modules.get(name)
    if loaded is not None and _same_file(getattr(loaded, "__file__", None), path):
        return loaded
    return load_as(name, path)


def import_conftest(path: str) -> ModuleType:
    """Imports a conftest.py as pytest's prepend mode does: inside a package (its folder has
    `__init__.py`) by its dotted name, so its relative imports work; otherwise as the module
    `conftest` with its folder first on sys.path (another folder's `conftest` is dropped from
    sys.modules first, as pytest does)."""
    assertion.before_import(path)
    if _ImportMode.mode == "importlib":
        return import_importlib_mode(path)
    folder = Path(path).resolve().parent
    parts = ["conftest"]
    base = folder
    while (base / "__init__.py").is_file() and base.parent != base:
        parts.append(base.name)
        base = base.parent
    add_to_sys_path(str(base))
    name = ".".join(reversed(parts))
    if name == "conftest":
        loaded = sys.modules.get("conftest")
        if loaded is not None and not _same_file(getattr(loaded, "__file__", None), path):
            del sys.modules["conftest"]
    module = importlib.import_module(name)
    if _same_file(getattr(module, "__file__", None), path):
        return module
    return load_as(f"conftest__dbtest_{abs(hash(path)):x}", path)


def describe_import_error(exc: BaseException) -> tuple[str, str]:
    conftest = getattr(exc, "conftest_path", None)
    if conftest and exc.__cause__ is not None:
        message, tb = describe_import_error(exc.__cause__)
        return f"{conftest}: {message}", tb
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else ""
        text = (exc.text or "").rstrip()
        caret = " " * max((exc.offset or 1) - 1, 0) + "^" if text else ""
        detail = "\n".join(x for x in (f"  {text}", f"  {caret}") if x.strip())
        return f"SyntaxError: {exc.msg} ({where})", f"  File {where}\n{detail}"
    # Frames of importlib's machinery say nothing to the user.
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<frozen") and not f.filename.startswith(_PACKAGE_DIR)
    ]
    tb = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
    return "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1], tb
