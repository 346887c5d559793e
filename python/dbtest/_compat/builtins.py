"""pytest's built-in fixtures, as plain fixture functions, for suites written for pytest
(DESIGN section 4b): tmp_path, tmp_path_factory, tmpdir, tmpdir_factory, monkeypatch, capsys,
capsysbinary, capfd, capfdbinary, capteesys, caplog, recwarn and pytestconfig.

The engine reads `BUILTINS` (name -> (function, scope)); a function's parameters are the
fixtures it asks for (`request` or another built-in). Generator functions tear down after
`yield`. pytest is never imported when this module is: where pytest's own class is the
right object (MonkeyPatch, WarningsRecorder, CaptureResult, LocalPath) it is imported on
first use, and an equivalent of ours stands in when pytest is not installed.

Fixtures in `PROCESS_WIDE` patch state the whole process shares (sys.stdout, file
descriptors 1 and 2, the root logger, the warnings filters, the environment, the working
directory); the engine runs a test that uses one with nothing beside it, so they may
assume no other test runs while theirs does.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, AnyStr, Generic, NamedTuple, Protocol, Self, TypeVar

from .. import _capture
from .._errors import FixtureError

K = TypeVar("K")
V = TypeVar("V")


# --- what the engine hands a fixture ----------------------------------------------------


class Config(Protocol):
    rootpath: Path
    option: Any

    def getoption(self, name: str, default: Any = None) -> Any: ...
    def getini(self, name: str) -> Any: ...


class Node(Protocol):
    name: str
    nodeid: str


class Request(Protocol):
    node: Node
    config: Config
    fixturename: str

    def addfinalizer(self, fn: Callable[[], object]) -> None: ...


def _getoption(config: Config, name: str) -> Any:
    try:
        return config.getoption(name, None)
    except Exception:  # noqa: BLE001 - an option the engine does not know is unset
        return None


def _getini(config: Config, name: str) -> Any:
    try:
        return config.getini(name)
    except Exception:  # noqa: BLE001 - an ini key the engine does not know is unset
        return None


# --- pytestconfig -----------------------------------------------------------------------


def pytestconfig(request: Request) -> Config:
    """The run's configuration (pytest's `pytestconfig`): `request.config`."""
    return request.config


# --- tmp_path, tmp_path_factory, tmpdir, tmpdir_factory ---------------------------------
#
# pytest's layout and retention (_pytest/tmpdir.py, _pytest/pathlib.py), under dbtest's own
# names: <temp>/dbtest-of-<user>/dbtest-<N>, the last `tmp_path_retention_count` (3) kept.

LOCK_TIMEOUT = 60 * 60 * 24 * 3


def _rm_rf(path: Path) -> None:
    """Removes `path` and what is in it, read-only entries too; best effort."""

    def on_error(func: Callable[..., Any], p: str, _exc: Any) -> None:
        if func not in (os.rmdir, os.remove, os.unlink, os.open, os.scandir, os.lstat):
            return
        for q in (os.path.dirname(p), p):
            with contextlib.suppress(OSError):
                os.chmod(q, stat.S_IRWXU | os.stat(q).st_mode)
        with contextlib.suppress(OSError):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                func(p)

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=on_error)
    else:
        shutil.rmtree(path, onerror=on_error)


def _suffixes(root: Path, prefix: str) -> Iterator[tuple[str, str]]:
    """(entry path, what follows `prefix` in its name) for the entries of `root` whose name
    starts with `prefix`, case-insensitively."""
    lowered = prefix.lower()
    for entry in os.scandir(root):
        if entry.name.lower().startswith(lowered):
            yield entry.path, entry.name[len(prefix) :]


def _parse_num(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _force_symlink(root: Path, name: str, target: Path) -> None:
    link = root / name
    with contextlib.suppress(OSError):
        link.unlink()
    with contextlib.suppress(Exception):
        link.symlink_to(target)


def _make_numbered_dir(root: Path, prefix: str, mode: int = 0o700) -> Path:
    for _ in range(10):
        number = max((_parse_num(s) for _, s in _suffixes(root, prefix)), default=-1) + 1
        path = root / f"{prefix}{number}"
        try:
            path.mkdir(mode=mode)
        except OSError:
            continue
        _force_symlink(root, prefix + "current", path)
        return path
    raise OSError(f"could not create numbered dir with prefix {prefix} in {root} after 10 tries")


def _lock_path(path: Path) -> Path:
    return path / ".lock"


def _create_lock(path: Path) -> Path:
    lock = _lock_path(path)
    try:
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError as e:
        raise OSError(f"cannot create lockfile in {path}") from e
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return lock


def _deletable(path: Path, lock_dead_before: float) -> bool:
    if path.is_symlink():
        return False
    lock = _lock_path(path)
    try:
        if not lock.is_file():
            return True
        lock_time = lock.stat().st_mtime
    except OSError:
        return False
    if lock_time < lock_dead_before:
        with contextlib.suppress(OSError):
            lock.unlink()
            return True
    return False


def _delete_numbered_dir(path: Path) -> None:
    """Removes a numbered folder if its lock can be taken: renamed to garbage-* first, so
    that a half-removed folder is never mistaken for a live one."""
    lock: Path | None = None
    try:
        lock = _create_lock(path)
        garbage = path.parent / f"garbage-{uuid.uuid4()}"
        path.rename(garbage)
        _rm_rf(garbage)
    except OSError:
        return
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                lock.unlink()


def _cleanup_dead_symlinks(root: Path) -> None:
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            if entry.is_symlink() and not entry.resolve().exists():
                with contextlib.suppress(OSError):
                    entry.unlink()


def _cleanup_numbered_dirs(root: Path, prefix: str, keep: int, lock_dead_before: float) -> None:
    """Removes the numbered folders older than the newest `keep`, unless another run holds
    them (a fresh lock), and what earlier removals left half done."""
    if not root.exists():
        return
    entries = list(_suffixes(root, prefix))
    max_delete = max((_parse_num(s) for _, s in entries), default=-1) - keep
    for path, suffix in entries:
        if _parse_num(suffix) <= max_delete:
            p = Path(path)
            if _deletable(p, lock_dead_before):
                _delete_numbered_dir(p)
    for p in root.glob("garbage-*"):
        if _deletable(p, lock_dead_before):
            _delete_numbered_dir(p)
    _cleanup_dead_symlinks(root)


def _get_user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, OSError, KeyError):
        return None


class TempPathFactory:
    """pytest's TempPathFactory: numbered temporary folders under one base folder per run."""

    def __init__(
        self,
        given_basetemp: str | os.PathLike[str] | None = None,
        retention_count: int = 3,
        retention_policy: str = "all",
        *,
        temproot: str | os.PathLike[str] | None = None,
    ) -> None:
        if retention_count < 0:
            raise ValueError(f"tmp_path_retention_count must be >= 0. Current input: {retention_count}.")
        if retention_policy not in ("all", "failed", "none"):
            raise ValueError(f"tmp_path_retention_policy must be 'all', 'failed' or 'none', not {retention_policy!r}")
        self._given_basetemp = None if given_basetemp is None else Path(os.path.abspath(given_basetemp))
        self._retention_count = retention_count
        self._retention_policy = retention_policy
        self._temproot = None if temproot is None else Path(temproot)
        self._basetemp: Path | None = None
        self._next_number: dict[str, int] = {}
        self._lock = threading.RLock()
        self._cleanups: list[Callable[[], None]] = []
        self._pid = os.getpid()

    @classmethod
    def from_config(cls, config: Config) -> TempPathFactory:
        count = _getini(config, "tmp_path_retention_count")
        policy = _getini(config, "tmp_path_retention_policy")
        return cls(
            given_basetemp=_getoption(config, "basetemp") or None,
            retention_count=3 if count in (None, "") else int(count),
            retention_policy=policy or "all",
        )

    def _ensure_relative_to_basetemp(self, basename: str) -> str:
        basename = os.path.normpath(basename)
        base = self.getbasetemp()
        if (base / basename).resolve().parent != base:
            raise ValueError(f"{basename} is not a normalized and relative path")
        return basename

    def mktemp(self, basename: str, numbered: bool = True) -> Path:
        """A new folder in the base folder: `<basename><n>` with the first free n when
        `numbered`, else `<basename>` itself (which must not exist)."""
        basename = self._ensure_relative_to_basetemp(basename)
        if not numbered:
            p = self.getbasetemp() / basename
            p.mkdir(mode=0o700)
            return p
        return self._make_counted_dir(basename)

    def _make_counted_dir(self, prefix: str) -> Path:
        root = self.getbasetemp()
        key = prefix.lower()
        with self._lock:
            number = self._next_number.get(key, 0)
            collisions = 0
            while True:
                path = root / f"{prefix}{number}"
                try:
                    path.mkdir(mode=0o700)
                except OSError as e:
                    collisions += 1
                    if collisions == 10:
                        listed = max((_parse_num(s) for _, s in _suffixes(root, prefix)), default=-1)
                        number = max(number, listed) + 1
                    elif collisions == 20:
                        raise OSError(
                            f"could not create numbered dir with prefix {prefix} in {root} after {collisions} tries"
                        ) from e
                    else:
                        number += 1
                else:
                    break
            self._next_number[key] = number + 1
        _force_symlink(root, prefix + "current", path)
        return path

    def getbasetemp(self) -> Path:
        """The run's base folder, made on first use."""
        with self._lock:
            if self._basetemp is None:
                self._basetemp = self._make_basetemp()
            return self._basetemp

    def _make_basetemp(self) -> Path:
        if self._given_basetemp is not None:
            basetemp = self._given_basetemp
            if basetemp.exists():
                _rm_rf(basetemp)
            basetemp.mkdir(mode=0o700, parents=True)
            basetemp = basetemp.resolve()
            self._cleanups.append(partial(_cleanup_dead_symlinks, basetemp))
            atexit.register(self.close)
            return basetemp
        from_env = os.environ.get("PYTEST_DEBUG_TEMPROOT")
        temproot = (self._temproot or Path(from_env or tempfile.gettempdir())).resolve()
        rootdir = temproot / f"dbtest-of-{_get_user() or 'unknown'}"
        try:
            rootdir.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            rootdir = temproot / "dbtest-of-unknown"
            rootdir.mkdir(mode=0o700, exist_ok=True)
        self._check_owner(rootdir)
        keep = 0 if self._retention_policy == "none" else self._retention_count
        prefix = "dbtest-"
        error: Exception | None = None
        for _ in range(10):
            try:
                p = _make_numbered_dir(rootdir, prefix)
                lock = _create_lock(p) if keep != 0 else None
            except Exception as exc:  # noqa: BLE001 - retried, then raised
                error = exc
                continue
            lock_dead_before = p.stat().st_mtime - LOCK_TIMEOUT
            # Run at the end of the session, last registered first: the old folders go,
            # then this run's lock.
            if lock is not None:
                self._cleanups.append(partial(lock.unlink, missing_ok=True))
            self._cleanups.append(partial(_cleanup_numbered_dirs, rootdir, prefix, keep, lock_dead_before))
            self._cleanups.append(partial(_cleanup_dead_symlinks, p))
            atexit.register(self.close)
            return p
        assert error is not None
        raise error

    @staticmethod
    def _check_owner(rootdir: Path) -> None:
        # A predictable name in a shared folder: make sure it is ours, and private.
        getuid = getattr(os, "getuid", None)
        if getuid is None:
            return
        st = os.lstat(rootdir)
        if stat.S_ISLNK(st.st_mode):
            raise OSError(f"The temporary directory {rootdir} is a symbolic link. Fix this and try again.")
        if st.st_uid != getuid():
            raise OSError(f"The temporary directory {rootdir} is not owned by the current user. Fix this and try again.")
        if st.st_mode & 0o077:
            os.chmod(rootdir, st.st_mode & ~0o077)

    def close(self) -> None:
        """The end of the session: removes the folders of old runs beyond the retention
        count, and this run's lock. Also run at exit, if the session never ends."""
        atexit.unregister(self.close)
        if os.getpid() != self._pid:
            return  # a forked child: the run is its parent's
        with self._lock:
            cleanups, self._cleanups = self._cleanups, []
        for fn in reversed(cleanups):
            with contextlib.suppress(Exception):
                fn()


def _legacy_path(path: str | os.PathLike[str]) -> Any:
    try:
        from _pytest._py.path import LocalPath
    except ImportError:
        try:
            from py.path import local as LocalPath  # type: ignore[no-redef]
        except ImportError:
            raise FixtureError(
                "tmpdir and tmpdir_factory give py.path.local objects: they need pytest or the py "
                "package installed; use tmp_path / tmp_path_factory (pathlib.Path) instead"
            ) from None
    return LocalPath(path)  # noqa: PTH124 - tmpdir is py.path.local by definition


class TempdirFactory:
    """pytest's TempdirFactory: `TempPathFactory` with py.path.local results."""

    def __init__(self, tmppath_factory: TempPathFactory) -> None:
        self._tmppath_factory = tmppath_factory

    def mktemp(self, basename: str, numbered: bool = True) -> Any:
        return _legacy_path(self._tmppath_factory.mktemp(basename, numbered).resolve())

    def getbasetemp(self) -> Any:
        return _legacy_path(self._tmppath_factory.getbasetemp().resolve())


def tmp_path_factory(request: Request) -> Generator[TempPathFactory, None, None]:
    """The session's factory of temporary folders."""
    factory = TempPathFactory.from_config(request.config)
    try:
        yield factory
    finally:
        factory.close()


def tmp_path(request: Request, tmp_path_factory: TempPathFactory) -> Path:
    """A new folder for this test, named after it: `<test name, 30 word characters><n>`."""
    name = re.sub(r"[\W]", "_", request.node.name)[:30]
    return tmp_path_factory.mktemp(name, numbered=True)


def tmpdir_factory(tmp_path_factory: TempPathFactory) -> TempdirFactory:
    return TempdirFactory(tmp_path_factory)


def tmpdir(tmp_path: Path) -> Any:
    """`tmp_path` as a py.path.local."""
    return _legacy_path(tmp_path)


# --- monkeypatch ------------------------------------------------------------------------


class _NotSet:
    def __repr__(self) -> str:
        return "<notset>"


NOTSET: Any = _NotSet()


def _resolve(name: str) -> object:
    parts = name.split(".")
    used = parts.pop(0)
    found: object = importlib.import_module(used)
    for part in parts:
        used += "." + part
        try:
            found = getattr(found, part)
            continue
        except AttributeError:
            pass
        try:
            importlib.import_module(used)
        except ImportError as ex:
            if str(ex).split()[-1] == used:
                raise
            raise ImportError(f"import error in {used}: {ex}") from ex
        found = _annotated_getattr(found, part, used)
    return found


def _annotated_getattr(obj: object, name: str, ann: str) -> object:
    try:
        return getattr(obj, name)
    except AttributeError as e:
        raise AttributeError(f"{type(obj).__name__!r} object at {ann} has no attribute {name!r}") from e


def _derive_importpath(import_path: str, raising: bool) -> tuple[str, object]:
    if not isinstance(import_path, str) or "." not in import_path:
        raise TypeError(f"must be absolute import path string, not {import_path!r}")
    module, attr = import_path.rsplit(".", 1)
    target = _resolve(module)
    if raising:
        _annotated_getattr(target, attr, ann=module)
    return attr, target


def _is_data_descriptor(cls: type, name: str) -> bool:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            kind = type(klass.__dict__[name])
            return hasattr(kind, "__set__") or hasattr(kind, "__delete__")
    return False


class MonkeyPatch:
    """pytest's MonkeyPatch, for when pytest is not installed (when it is, the fixture gives
    pytest's own): patches of attributes, mappings, the environment, sys.path and the
    working directory, all undone by `undo()`."""

    def __init__(self) -> None:
        self._setattr: list[tuple[object, str, object]] = []
        self._setitem: list[tuple[MutableMapping[Any, Any], object, object]] = []
        self._cwd: str | None = None
        self._savesyspath: list[str] | None = None

    @classmethod
    @contextlib.contextmanager
    def context(cls) -> Generator[MonkeyPatch, None, None]:
        m = cls()
        try:
            yield m
        finally:
            m.undo()

    def setattr(self, target: object, name: object, value: object = NOTSET, raising: bool = True) -> None:
        """`setattr(obj, "name", value)`, or `setattr("module.attr", value)`."""
        import inspect

        if value is NOTSET:
            if not isinstance(target, str):
                raise TypeError(
                    "use setattr(target, name, value) or setattr(target, value) with target being a dotted import string"
                )
            value = name
            name, target = _derive_importpath(target, raising)
        elif not isinstance(name, str):
            raise TypeError(
                "use setattr(target, name, value) with name being a string or "
                "setattr(target, value) with target being a dotted import string"
            )
        oldval = getattr(target, name, NOTSET)
        if raising and oldval is NOTSET:
            raise AttributeError(f"{target!r} has no attribute {name!r}")
        if inspect.isclass(target):
            oldval = target.__dict__.get(name, NOTSET)
        elif not _is_data_descriptor(type(target), name):
            target_dict = getattr(target, "__dict__", None)
            if isinstance(target_dict, Mapping):
                oldval = target_dict.get(name, NOTSET)
        setattr(target, name, value)
        self._setattr.append((target, name, oldval))

    def delattr(self, target: object, name: str = NOTSET, raising: bool = True) -> None:
        import inspect

        if name is NOTSET:
            if not isinstance(target, str):
                raise TypeError("use delattr(target, name) or delattr(target) with target being a dotted import string")
            name, target = _derive_importpath(target, raising)
        if not hasattr(target, name):
            if raising:
                raise AttributeError(name)
            return
        oldval = getattr(target, name, NOTSET)
        if inspect.isclass(target):
            oldval = target.__dict__.get(name, NOTSET)
        delattr(target, name)
        self._setattr.append((target, name, oldval))

    def setitem(self, dic: MutableMapping[K, V], name: K, value: V) -> None:
        oldval = dic.get(name, NOTSET)
        dic[name] = value
        self._setitem.append((dic, name, oldval))

    def delitem(self, dic: MutableMapping[K, V], name: K, raising: bool = True) -> None:
        if name not in dic:
            if raising:
                raise KeyError(name)
            return
        oldval = dic.get(name, NOTSET)
        del dic[name]
        self._setitem.append((dic, name, oldval))

    def setenv(self, name: str, value: str, prepend: str | None = None) -> None:
        if not isinstance(value, str):
            warnings.warn(
                f"Value of environment variable {name} type should be str, but got {value!r} "
                f"(type: {type(value).__name__}); converted to str implicitly",
                stacklevel=2,
            )
            value = str(value)
        if prepend and name in os.environ:
            value = value + prepend + os.environ[name]
        self.setitem(os.environ, name, value)

    def delenv(self, name: str, raising: bool = True) -> None:
        self.delitem(os.environ, name, raising=raising)

    def syspath_prepend(self, path: str | os.PathLike[str]) -> None:
        if self._savesyspath is None:
            self._savesyspath = sys.path[:]
        sys.path.insert(0, str(path))
        if "pkg_resources" in sys.modules:
            with contextlib.suppress(Exception):
                from pkg_resources import fixup_namespace_packages

                fixup_namespace_packages(str(path))
        importlib.invalidate_caches()

    def chdir(self, path: str | os.PathLike[str]) -> None:
        if self._cwd is None:
            self._cwd = os.getcwd()
        os.chdir(path)

    def undo(self) -> None:
        for obj, name, value in reversed(self._setattr):
            if value is not NOTSET:
                setattr(obj, name, value)
            else:
                delattr(obj, name)
        self._setattr[:] = []
        for dictionary, key, value in reversed(self._setitem):
            if value is NOTSET:
                with contextlib.suppress(KeyError):
                    del dictionary[key]
            else:
                dictionary[key] = value
        self._setitem[:] = []
        if self._savesyspath is not None:
            sys.path[:] = self._savesyspath
            self._savesyspath = None
        if self._cwd is not None:
            os.chdir(self._cwd)
            self._cwd = None


def _monkeypatch_class() -> Any:
    try:
        from _pytest.monkeypatch import MonkeyPatch as PytestMonkeyPatch
    except ImportError:
        return MonkeyPatch
    return PytestMonkeyPatch


def monkeypatch() -> Generator[Any, None, None]:
    """pytest's MonkeyPatch (ours without pytest); every patch is undone at teardown."""
    mp = _monkeypatch_class()()
    try:
        yield mp
    finally:
        mp.undo()


# --- recwarn ----------------------------------------------------------------------------


class WarningsRecorder(warnings.catch_warnings):
    """pytest's WarningsRecorder, for when pytest is not installed: records every warning
    while entered."""

    def __init__(self) -> None:
        super().__init__(record=True)
        self._entered = False
        self._list: list[warnings.WarningMessage] = []

    @property
    def list(self) -> list[warnings.WarningMessage]:
        return self._list

    def __getitem__(self, i: int) -> warnings.WarningMessage:
        return self._list[i]

    def __iter__(self) -> Iterator[warnings.WarningMessage]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def pop(self, cls: type[Warning] = Warning) -> warnings.WarningMessage:
        """The first warning of exactly `cls`, else the first of the most specific subclass."""
        best: int | None = None
        for i, w in enumerate(self._list):
            if w.category == cls:
                return self._list.pop(i)
            if issubclass(w.category, cls) and (best is None or not issubclass(w.category, self._list[best].category)):
                best = i
        if best is not None:
            return self._list.pop(best)
        raise AssertionError(f"{cls!r} not found in warning list")

    def clear(self) -> None:
        self._list[:] = []

    def __enter__(self) -> Self:  # type: ignore[override]
        if self._entered:
            raise RuntimeError(f"Cannot enter {self!r} twice")
        found = super().__enter__()
        assert found is not None
        self._list = found
        warnings.simplefilter("always")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if not self._entered:
            raise RuntimeError(f"Cannot exit {self!r} without entering first")
        super().__exit__(exc_type, exc_val, exc_tb)
        self._entered = False


def _make_recorder() -> Any:
    try:
        from _pytest.recwarn import WarningsRecorder as PytestRecorder
    except ImportError:
        return WarningsRecorder()
    try:
        return PytestRecorder(_ispytest=True)
    except TypeError:  # a pytest from before _ispytest
        return PytestRecorder()


def recwarn() -> Generator[Any, None, None]:
    """Records the warnings the test raises (pytest's WarningsRecorder, ours without pytest).
    As pytest's fixture: every warning is recorded once per place it comes from."""
    rec = _make_recorder()
    with rec:
        warnings.simplefilter("default")
        yield rec


# --- capsys, capsysbinary, capteesys, capfd, capfdbinary --------------------------------


class CaptureResult(NamedTuple, Generic[AnyStr]):
    """readouterr()'s result when pytest is not installed (pytest's own type when it is)."""

    out: AnyStr
    err: AnyStr


_result_type: Any = None


def _capture_result(out: Any, err: Any) -> Any:
    global _result_type
    if _result_type is None:
        try:
            from _pytest.capture import CaptureResult as PytestResult
        except ImportError:
            _result_type = CaptureResult
        else:
            _result_type = PytestResult
    return _result_type(out, err)


class _CaptureIO(io.TextIOWrapper):
    """What sys.stdout / sys.stderr are while capsys captures: text and bytes (`.buffer`)
    kept in memory, in the order written."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="UTF-8", newline="", write_through=True)

    def take(self) -> bytes:
        buf = self.buffer
        assert isinstance(buf, io.BytesIO)
        data = buf.getvalue()
        self.seek(0)
        self.truncate()
        return data


class _TeeCaptureIO(_CaptureIO):
    """As _CaptureIO, and every write also passed on to `other`."""

    def __init__(self, other: Callable[[str], object]) -> None:
        self._other = other
        super().__init__()

    def write(self, s: str) -> int:
        n = super().write(s)
        self._other(s)
        return n


def _real(stream: Any) -> Any:
    """The console stream under dbtest's per-test capture proxy (or `stream` itself)."""
    return stream._real if isinstance(stream, _capture._Proxy) else stream


def _flush_all() -> None:
    """Flushes what Python and C hold in buffers, so that what a test wrote reaches the file
    descriptors (and fd capture) before they are read or switched."""
    seen: set[int] = set()
    for stream in (sys.stdout, sys.stderr, _real(sys.stdout), _real(sys.stderr), sys.__stdout__, sys.__stderr__):
        if stream is not None and id(stream) not in seen:
            seen.add(id(stream))
            with contextlib.suppress(Exception):
                stream.flush()
    _capture.flush_c_streams()


_STREAMS = {1: "stdout", 2: "stderr"}


class _SysCapture:
    """sys.stdout or sys.stderr replaced by a file of ours while capturing."""

    def __init__(
        self, fd: int, tmpfile: io.TextIOWrapper | None = None, tee: Callable[[str], object] | None = None
    ) -> None:
        self.name = _STREAMS[fd]
        self.old: Any = getattr(sys, self.name)
        self.owned = tmpfile is None
        if tmpfile is None:
            tmpfile = _TeeCaptureIO(tee) if tee is not None else _CaptureIO()
        self.tmpfile = tmpfile

    def start(self) -> None:
        setattr(sys, self.name, self.tmpfile)

    def suspend(self) -> None:
        # Straight to the console: past the test's own capture too, as pytest's disabled().
        setattr(sys, self.name, _real(self.old))

    def resume(self) -> None:
        setattr(sys, self.name, self.tmpfile)

    def snap(self) -> bytes:
        assert isinstance(self.tmpfile, _CaptureIO)
        return self.tmpfile.take()

    def done(self) -> bytes:
        """Stops capturing; what was left unread."""
        setattr(sys, self.name, self.old)
        if not self.owned:
            return b""
        try:
            return self.snap()
        finally:
            self.tmpfile.close()


class _FDCapture:
    """File descriptor 1 or 2 pointed at a temporary file while capturing, and sys.stdout /
    sys.stderr writing to that same file, so both kinds of write keep their order."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        try:
            os.fstat(fd)
        except OSError:
            # A closed descriptor: capture it all the same, and close it again at the end.
            self.invalid: int | None = os.open(os.devnull, os.O_RDWR)
            os.dup2(self.invalid, fd)
        else:
            self.invalid = None
        self.saved = os.dup(fd)
        self.tmpfile = io.TextIOWrapper(
            tempfile.TemporaryFile(buffering=0),  # noqa: SIM115 - lives until done()
            encoding="utf-8",
            errors="replace",
            newline="",
            write_through=True,
        )
        self.sys = _SysCapture(fd, self.tmpfile)

    def start(self) -> None:
        os.dup2(self.tmpfile.fileno(), self.fd)
        self.sys.start()

    def suspend(self) -> None:
        self.sys.suspend()
        os.dup2(self.saved, self.fd)

    def resume(self) -> None:
        self.sys.resume()
        os.dup2(self.tmpfile.fileno(), self.fd)

    def snap(self) -> bytes:
        if os.fstat(self.tmpfile.fileno()).st_size == 0:
            return b""
        self.tmpfile.seek(0)
        data = self.tmpfile.buffer.read()
        self.tmpfile.seek(0)
        self.tmpfile.truncate()
        return data

    def done(self) -> bytes:
        """Stops capturing (the descriptor back as it was first); what was left unread."""
        _flush_all()
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        if self.invalid is not None:
            if self.invalid != self.fd:
                os.close(self.fd)
            os.close(self.invalid)
        self.sys.done()
        try:
            return self.snap()
        finally:
            self.tmpfile.close()


_active_capture: CaptureFixture[Any] | None = None


class CaptureFixture(Generic[AnyStr]):
    """What capsys, capsysbinary, capteesys, capfd and capfdbinary give: pytest's
    CaptureFixture API (`readouterr()`, `disabled()`)."""

    def __init__(self, fixturename: str, *, fd: bool, binary: bool, tee: bool = False) -> None:
        self.fixturename = fixturename
        self._fd = fd
        self._binary = binary
        self._tee = tee
        self._captures: tuple[Any, Any] | None = None
        # Where output nobody read goes at the end: the test's own capture (its report).
        self._target = _capture.current.get()
        self._late_out = b""
        self._late_err = b""
        self._suspended = False

    def _decode(self, data: bytes) -> Any:
        return data if self._binary else data.decode("utf-8", "replace")

    def _start(self) -> None:
        global _active_capture
        if _active_capture is not None:
            raise FixtureError(f"cannot use {self.fixturename} and {_active_capture.fixturename} at the same time")
        _flush_all()
        if self._fd:
            out = _FDCapture(1)
            try:
                err = _FDCapture(2)
            except BaseException:
                out.done()
                raise
            out.start()
            err.start()
            self._captures = (out, err)
        else:
            out_tee = partial(self._emit_text, is_err=False) if self._tee else None
            err_tee = partial(self._emit_text, is_err=True) if self._tee else None
            self._captures = (_SysCapture(1, tee=out_tee), _SysCapture(2, tee=err_tee))
            self._captures[0].start()
            self._captures[1].start()
        _active_capture = self

    def _snap(self) -> tuple[bytes, bytes]:
        assert self._captures is not None
        if self._fd:
            _flush_all()
        return self._captures[0].snap(), self._captures[1].snap()

    def readouterr(self) -> Any:
        """What was written since the fixture was set up or since the last readouterr, as
        `(out, err)`; read output is taken out of the test's report."""
        out, err = self._late_out, self._late_err
        self._late_out = self._late_err = b""
        if self._captures is not None:
            more_out, more_err = self._snap()
            out, err = out + more_out, err + more_err
        return _capture_result(self._decode(out), self._decode(err))

    @contextlib.contextmanager
    def disabled(self) -> Generator[None, None, None]:
        """Writes inside the block go straight to the console."""
        if self._captures is None or self._suspended:
            yield
            return
        _flush_all()
        self._suspended = True
        for cap in self._captures:
            cap.suspend()
        try:
            # And past the test's own fd capture, if it has one.
            with _capture.fd_suspended():
                yield
        finally:
            _flush_all()
            for cap in self._captures:
                cap.resume()
            self._suspended = False

    def close(self) -> None:
        """Stops capturing; what nobody read goes to the test's own capture (its report)."""
        global _active_capture
        if self._captures is None:
            return
        captures, self._captures = self._captures, None
        try:
            out = captures[0].done()
        finally:
            try:
                err = captures[1].done()
            finally:
                if _active_capture is self:
                    _active_capture = None
        # A readouterr after teardown still sees it, as pytest's.
        self._late_out += out
        self._late_err += err
        if not self._tee:
            self._emit(out, is_err=False)
            self._emit(err, is_err=True)

    def _emit(self, data: bytes, is_err: bool) -> None:
        if data:
            self._emit_text(data.decode("utf-8", "replace"), is_err)

    def _emit_text(self, text: str, is_err: bool) -> None:
        """To the test's own capture (its report), or where sys.stdout / sys.stderr wrote
        before the fixture when there is none."""
        target = self._target
        if target is not None:
            target.write(text, _capture.ERR if is_err else _capture.OUT)
            return
        captures = self._captures
        if captures is not None:
            stream = captures[1 if is_err else 0].old
        else:
            stream = sys.stderr if is_err else sys.stdout
        stream.write(text)
        stream.flush()


def _capture_fixture(
    request: Request, *, fd: bool, binary: bool, tee: bool = False
) -> Generator[CaptureFixture[Any], None, None]:
    fixture = CaptureFixture[Any](getattr(request, "fixturename", "capsys"), fd=fd, binary=binary, tee=tee)
    fixture._start()
    try:
        yield fixture
    finally:
        fixture.close()


def capsys(request: Request) -> Generator[CaptureFixture[str], None, None]:
    """Captures writes to sys.stdout / sys.stderr as text."""
    yield from _capture_fixture(request, fd=False, binary=False)


def capsysbinary(request: Request) -> Generator[CaptureFixture[bytes], None, None]:
    """Captures writes to sys.stdout / sys.stderr as bytes."""
    yield from _capture_fixture(request, fd=False, binary=True)


def capteesys(request: Request) -> Generator[CaptureFixture[str], None, None]:
    """As capsys, and the output also goes on to the test's report."""
    yield from _capture_fixture(request, fd=False, binary=False, tee=True)


def capfd(request: Request) -> Generator[CaptureFixture[str], None, None]:
    """Captures writes to file descriptors 1 and 2 (C code, subprocesses) and to
    sys.stdout / sys.stderr, as text."""
    yield from _capture_fixture(request, fd=True, binary=False)


def capfdbinary(request: Request) -> Generator[CaptureFixture[bytes], None, None]:
    """As capfd, as bytes."""
    yield from _capture_fixture(request, fd=True, binary=True)


# --- caplog -----------------------------------------------------------------------------

# The phase of the running test, for caplog.get_records(when): the driver sets "call" right
# before the test body and "teardown" after it (and "setup", or resets, for each test).
phase: ContextVar[str] = ContextVar("dbtest_phase", default="setup")

_PHASES = ("setup", "call", "teardown")
# pytest's defaults and formatter, shared with the per-test log capture of the report.
DEFAULT_LOG_FORMAT = _capture.DEFAULT_LOG_FORMAT
DEFAULT_LOG_DATE_FORMAT = _capture.DEFAULT_LOG_DATE_FORMAT
DatetimeFormatter = _capture.DatetimeFormatter
_ANSI_ESCAPE_SEQ = re.compile(r"\x1b\[[\d;]+m")


class LogCaptureHandler(logging.StreamHandler):
    """Keeps the records and the formatted text of the current phase of the test; a new
    phase (setup, call, teardown, read from `phase`) starts both afresh, as pytest's."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.records: list[logging.LogRecord] = []
        self.by_phase: dict[str, list[logging.LogRecord]] = {}
        self._phase = -1
        self.sync_phase()

    def sync_phase(self) -> None:
        """Moves on to the running test's phase. Phases only move forward: a thread of the
        test's own (whose context has the default) never takes it back."""
        try:
            now = _PHASES.index(phase.get())
        except ValueError:
            return
        if now > self._phase:
            self._phase = now
            self.reset()
            self.by_phase[_PHASES[now]] = self.records

    def emit(self, record: logging.LogRecord) -> None:
        self.sync_phase()
        self.records.append(record)
        super().emit(record)

    def reset(self) -> None:
        self.records = []
        self.stream = io.StringIO()

    def clear(self) -> None:
        self.records.clear()
        self.stream = io.StringIO()

    def handleError(self, record: logging.LogRecord) -> None:
        if logging.raiseExceptions:
            # A bad log call fails the test, as under pytest.
            raise  # noqa: PLE0704


def _log_level(config: Config, name: str) -> int | None:
    value = _getoption(config, name)
    if value is None:
        value = _getini(config, name)
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).upper()
    try:
        return int(getattr(logging, text, text))
    except ValueError:
        raise FixtureError(
            f"'{text}' is not recognized as a logging level name for '{name}'. "
            "Please consider passing the logging level num instead."
        ) from None


class LogCaptureFixture:
    """What caplog gives: pytest's LogCaptureFixture API."""

    def __init__(self, handler: LogCaptureHandler) -> None:
        self._handler = handler
        self._initial_handler_level: int | None = None
        self._initial_logger_levels: dict[str | None, int] = {}
        self._initial_disabled_logging_level: int | None = None

    def _finalize(self) -> None:
        if self._initial_handler_level is not None:
            self.handler.setLevel(self._initial_handler_level)
        for name, level in self._initial_logger_levels.items():
            logging.getLogger(name).setLevel(level)
        if self._initial_disabled_logging_level is not None:
            logging.disable(self._initial_disabled_logging_level)
            self._initial_disabled_logging_level = None

    @property
    def handler(self) -> LogCaptureHandler:
        self._handler.sync_phase()
        return self._handler

    def get_records(self, when: str) -> list[logging.LogRecord]:
        """The records of one phase: "setup", "call" or "teardown"."""
        self._handler.sync_phase()
        return self._handler.by_phase.get(when, [])

    @property
    def text(self) -> str:
        stream = self.handler.stream
        assert isinstance(stream, io.StringIO)
        return _ANSI_ESCAPE_SEQ.sub("", stream.getvalue())

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.handler.records

    @property
    def record_tuples(self) -> list[tuple[str, int, str]]:
        return [(r.name, r.levelno, r.getMessage()) for r in self.records]

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]

    def clear(self) -> None:
        self.handler.clear()

    @staticmethod
    def _force_enable_logging(level: int | str, logger_obj: logging.Logger) -> int:
        original = logger_obj.manager.disable
        if isinstance(level, str):
            level = logging.getLevelName(level)
        if not isinstance(level, int):
            logging.disable(logging.NOTSET)
        elif not logger_obj.isEnabledFor(level):
            logging.disable(max(level - 10, logging.NOTSET))
        return original

    def set_level(self, level: int | str, logger: str | None = None) -> None:
        """Sets the level of `logger` (the root logger by default) and of the handler, until
        the end of the test."""
        logger_obj = logging.getLogger(logger)
        self._initial_logger_levels.setdefault(logger, logger_obj.level)
        logger_obj.setLevel(level)
        if self._initial_handler_level is None:
            self._initial_handler_level = self.handler.level
        self.handler.setLevel(level)
        disabled = self._force_enable_logging(level, logger_obj)
        if self._initial_disabled_logging_level is None:
            self._initial_disabled_logging_level = disabled

    @contextlib.contextmanager
    def at_level(self, level: int | str, logger: str | None = None) -> Generator[None, None, None]:
        """Sets the level of `logger` and of the handler inside the block."""
        logger_obj = logging.getLogger(logger)
        orig_level = logger_obj.level
        logger_obj.setLevel(level)
        handler_orig_level = self.handler.level
        self.handler.setLevel(level)
        disabled = self._force_enable_logging(level, logger_obj)
        try:
            yield
        finally:
            logger_obj.setLevel(orig_level)
            self.handler.setLevel(handler_orig_level)
            logging.disable(disabled)

    @contextlib.contextmanager
    def filtering(self, filter_: logging.Filter) -> Generator[None, None, None]:
        """Adds `filter_` to the handler inside the block."""
        if filter_ in self.handler.filters:
            yield
            return
        self.handler.addFilter(filter_)
        try:
            yield
        finally:
            self.handler.removeFilter(filter_)


def caplog(request: Request) -> Generator[LogCaptureFixture, None, None]:
    """Captures log records: a handler on the root logger (and on the loggers that do not
    propagate) from set-up to teardown; `log_level` (option or ini), if set, is its level."""
    config = request.config
    level = _log_level(config, "log_level")
    handler = LogCaptureHandler()
    fmt = _getoption(config, "log_format") or _getini(config, "log_format") or DEFAULT_LOG_FORMAT
    datefmt = _getoption(config, "log_date_format") or _getini(config, "log_date_format") or DEFAULT_LOG_DATE_FORMAT
    handler.setFormatter(DatetimeFormatter(fmt, datefmt))
    root = logging.getLogger()
    if level is not None:
        handler.setLevel(level)
    attached = [root]
    root.addHandler(handler)
    for logger in list(root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and not logger.propagate and logger is not root:
            logger.addHandler(handler)
            attached.append(logger)
    orig_level = root.level
    if level is not None:
        root.setLevel(min(orig_level, level))
    fixture = LogCaptureFixture(handler)
    try:
        yield fixture
    finally:
        try:
            fixture._finalize()
        finally:
            if level is not None:
                root.setLevel(orig_level)
            for logger in attached:
                logger.removeHandler(handler)


# --- the table the engine reads ---------------------------------------------------------

BUILTINS: dict[str, tuple[Callable[..., Any], str]] = {
    "pytestconfig": (pytestconfig, "session"),
    "tmp_path_factory": (tmp_path_factory, "session"),
    "tmp_path": (tmp_path, "function"),
    "tmpdir_factory": (tmpdir_factory, "session"),
    "tmpdir": (tmpdir, "function"),
    "monkeypatch": (monkeypatch, "function"),
    "recwarn": (recwarn, "function"),
    "capsys": (capsys, "function"),
    "capsysbinary": (capsysbinary, "function"),
    "capteesys": (capteesys, "function"),
    "capfd": (capfd, "function"),
    "capfdbinary": (capfdbinary, "function"),
    "caplog": (caplog, "function"),
}

PROCESS_WIDE: frozenset[str] = frozenset(
    {"monkeypatch", "capsys", "capsysbinary", "capteesys", "capfd", "capfdbinary", "caplog", "recwarn"}
)
