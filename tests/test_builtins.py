"""pytest's built-in fixtures as dbtest provides them (python/dbtest/_compat/builtins.py), driven
directly: a small fake `request`, dbtest's per-test capture set up as the driver sets it up,
generator fixtures stepped with next() as the engine steps them. None of these tests uses
pytest's own fixtures for what it checks (they would be pytest's, not dbtest's)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from dbtest import _capture
from dbtest._compat import builtins as _builtins

# --- helpers ----------------------------------------------------------------------------


class FakeConfig:
    def __init__(self, options: dict[str, Any] | None = None, ini: dict[str, Any] | None = None) -> None:
        self._options = options or {}
        self._ini = ini or {}
        self.rootpath = Path.cwd()
        self.option = SimpleNamespace(**self._options)

    def getoption(self, name: str, default: Any = None) -> Any:
        return self._options.get(name, default)

    def getini(self, name: str) -> Any:
        if name not in self._ini:
            raise ValueError(f"unknown ini key {name!r}")  # the worst an engine may do
        return self._ini[name]


def fake_request(name: str = "test_x[1-2]", fixturename: str = "capsys", **config: Any) -> Any:
    finalizers: list[Any] = []
    return SimpleNamespace(
        node=SimpleNamespace(name=name, nodeid=f"tests/test_a.py::{name}"),
        config=FakeConfig(**config),
        fixturename=fixturename,
        addfinalizer=finalizers.append,
    )


def setup(gen: Any) -> Any:
    return next(gen)


def teardown(gen: Any) -> None:
    with pytest.raises(StopIteration):
        next(gen)


@contextlib.contextmanager
def capture_of_our_own() -> Iterator[None]:
    """When dbtest runs this suite (`dbtest unit tests`), its own capture is the process's
    and this test's output is its: set all of it aside for the block, so the test installs
    dbtest's capture afresh, as in a process of its own, and put it back after."""
    state = ("_installed", "_console_fds", "_fd_capture", "_log_handler", "_log_level", "_log_attached",
             "_root_level")
    saved = {name: getattr(_capture, name) for name in state}
    streams = sys.stdout, sys.stderr
    outer = saved["_installed"] is not None
    token = _capture.current.set(None)
    if outer:
        for name in state:
            setattr(_capture, name, False if name == "_log_attached" else None)
    try:
        yield
    finally:
        _capture.current.reset(token)
        if outer:
            for name, value in saved.items():
                setattr(_capture, name, value)
            _capture._patch_threads(True)
        sys.stdout, sys.stderr = streams


@contextlib.contextmanager
def running_test() -> Iterator[tuple[_capture.Captured, io.StringIO, io.StringIO]]:
    """dbtest's capture as the driver runs a test: the proxy installed over "console"
    streams of our own (to see what would leak), and the test's Captured current."""
    with capture_of_our_own():
        yield from _running_test()


def _running_test() -> Iterator[tuple[_capture.Captured, io.StringIO, io.StringIO]]:
    saved = sys.stdout, sys.stderr
    console_out, console_err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = console_out, console_err
    _capture.install()
    cap = _capture.Captured()
    token = _capture.current.set(cap)
    try:
        yield cap, console_out, console_err
    finally:
        if _builtins._active_capture is not None:  # a failed test left it set up
            _builtins._active_capture.close()
        _capture.current.reset(token)
        _capture.uninstall()
        sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def console_fds() -> Iterator[dict[int, Any]]:
    """File descriptors 1 and 2 pointed at files of ours for the block (the "console" at
    fd level), to see what reaches them; the files stay open for reading after it."""
    files = {fd: tempfile.TemporaryFile() for fd in (1, 2)}  # noqa: SIM115 - read after the block
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    for fd in (1, 2):
        os.dup2(files[fd].fileno(), fd)
    try:
        yield files
    finally:
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])


def read_file(f: Any) -> bytes:
    f.seek(0)
    return f.read()


@contextlib.contextmanager
def without_modules(*names: str) -> Iterator[None]:
    """As if the modules were not installed: an import of one raises ImportError."""
    saved = {n: sys.modules.get(n, _MISSING) for n in names}
    result_type = _builtins._result_type
    for n in names:
        sys.modules[n] = None  # type: ignore[assignment]
    _builtins._result_type = None
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is _MISSING:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m  # type: ignore[assignment]
        _builtins._result_type = result_type


_MISSING = object()


def fd_identity(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


# --- the table --------------------------------------------------------------------------


def test_builtins_table() -> None:
    import inspect

    assert set(_builtins.BUILTINS) >= {
        "tmp_path", "tmp_path_factory", "tmpdir", "tmpdir_factory", "monkeypatch", "capsys",
        "capsysbinary", "capfd", "capfdbinary", "caplog", "recwarn", "pytestconfig",
    }
    for name, (fn, scope) in _builtins.BUILTINS.items():
        assert callable(fn)
        assert scope in ("function", "session"), name
        for param in inspect.signature(fn).parameters:
            assert param == "request" or param in _builtins.BUILTINS, (name, param)
            if param in _builtins.BUILTINS and scope == "session":
                assert _builtins.BUILTINS[param][1] == "session", (name, param)
    assert _builtins.BUILTINS["tmp_path_factory"][1] == "session"
    assert _builtins.BUILTINS["tmpdir_factory"][1] == "session"
    assert _builtins.PROCESS_WIDE >= {
        "monkeypatch", "capsys", "capsysbinary", "capfd", "capfdbinary", "caplog", "recwarn"
    }
    assert _builtins.PROCESS_WIDE <= set(_builtins.BUILTINS)
    assert "tmp_path" not in _builtins.PROCESS_WIDE


def test_importing_builtins_does_not_import_pytest() -> None:
    code = "import sys, dbtest._compat.builtins; assert not any(m == 'pytest' or m.startswith('_pytest') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pytestconfig_is_the_request_config() -> None:
    request = fake_request()
    assert _builtins.pytestconfig(request) is request.config


# --- capsys -----------------------------------------------------------------------------


def test_capsys_readouterr_consumes_what_it_returns() -> None:
    from _pytest.capture import CaptureResult

    with running_test() as (cap, console_out, console_err):
        print("before the fixture")
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        print("one")
        sys.stderr.write("two")
        result = capsys.readouterr()
        assert result == ("one\n", "two")
        assert isinstance(result, CaptureResult)
        assert (result.out, result.err) == ("one\n", "two")
        assert capsys.readouterr() == ("", "")
        print("three, never read")
        sys.stderr.write("four, never read\n")
        teardown(gen)
        assert isinstance(sys.stdout, _capture._Proxy)
        print("after the fixture")
    assert "".join(cap.out) == "before the fixture\nthree, never read\nafter the fixture\n"
    assert "".join(cap.err) == "four, never read\n"
    assert console_out.getvalue() == console_err.getvalue() == ""


def test_capsys_catches_threads_of_the_test() -> None:
    with running_test() as (cap, console_out, _):
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        # A thread starts with an empty context: dbtest's own capture does not see it.
        t = threading.Thread(target=print, args=("from a thread",))
        t.start()
        t.join()
        assert capsys.readouterr().out == "from a thread\n"
        teardown(gen)
    assert cap.out == [] and console_out.getvalue() == ""


def test_capsys_disabled_writes_to_the_console() -> None:
    with running_test() as (cap, console_out, console_err):
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        print("captured")
        with capsys.disabled():
            print("straight through")
            sys.stderr.write("err through\n")
        print("captured again")
        assert capsys.readouterr() == ("captured\ncaptured again\n", "")
        teardown(gen)
    assert console_out.getvalue() == "straight through\n"
    assert console_err.getvalue() == "err through\n"
    assert cap.out == [] and cap.err == []


@capture_of_our_own()
def test_capsys_readouterr_after_teardown_and_without_dbrunning_test() -> None:
    saved = sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        print("left over")
        teardown(gen)
        # No test capture current: what nobody read goes back where it would have gone.
        assert out.getvalue() == "left over\n"
        assert capsys.readouterr() == ("left over\n", "")
        assert sys.stdout is out and sys.stderr is err
    finally:
        sys.stdout, sys.stderr = saved


def test_capsysbinary_gives_bytes() -> None:
    with running_test() as (cap, _, _):
        gen = _builtins.capsysbinary(fake_request(fixturename="capsysbinary"))
        capsys = setup(gen)
        print("hé")
        sys.stdout.buffer.write(b"\xff raw")
        sys.stderr.buffer.write(b"e")
        assert capsys.readouterr() == ("hé\n".encode() + b"\xff raw", b"e")
        sys.stdout.buffer.write(b"unread \xff\n")
        teardown(gen)
    assert "".join(cap.out) == "unread \ufffd\n"


def test_capteesys_passes_output_on() -> None:
    with running_test() as (cap, console_out, _):
        gen = _builtins.capteesys(fake_request(fixturename="capteesys"))
        capsys = setup(gen)
        print("both")
        t = threading.Thread(target=print, args=("thread",))
        t.start()
        t.join()
        assert capsys.readouterr().out == "both\nthread\n"
        print("unread")
        teardown(gen)
    assert "".join(cap.out) == "both\nthread\nunread\n"
    assert console_out.getvalue() == ""


def test_two_capture_fixtures_at_once_is_an_error() -> None:
    with running_test() as (cap, _, _):
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        other = _builtins.capfd(fake_request(fixturename="capfd"))
        with pytest.raises(Exception, match="cannot use capfd and capsys at the same time"):
            setup(other)
        print("still captured")
        assert capsys.readouterr().out == "still captured\n"
        teardown(gen)
        # Once torn down, another may start.
        gen = _builtins.capfd(fake_request(fixturename="capfd"))
        setup(gen)
        teardown(gen)
    assert cap.out == []


def test_capture_result_without_pytest() -> None:
    with without_modules("_pytest.capture"), running_test():
        gen = _builtins.capsys(fake_request())
        capsys = setup(gen)
        print("x")
        result = capsys.readouterr()
        teardown(gen)
    assert type(result) is _builtins.CaptureResult
    assert (result.out, result.err) == ("x\n", "")
    assert result == ("x\n", "")


# --- capfd ------------------------------------------------------------------------------


def test_capfd_catches_fd_writes_sys_writes_and_subprocesses_in_order() -> None:
    with console_fds() as console, running_test() as (cap, console_out, _):
        before = fd_identity(1), fd_identity(2)
        gen = _builtins.capfd(fake_request(fixturename="capfd"))
        capfd = setup(gen)
        os.write(1, b"fd one\n")
        print("sys one")
        os.write(2, b"fd err\n")
        subprocess.run(
            [sys.executable, "-c", "import sys; print('child out'); sys.stderr.write('child err\\n')"],
            check=True,
        )
        print("sys two")
        result = capfd.readouterr()
        assert result == ("fd one\nsys one\nchild out\nsys two\n", "fd err\nchild err\n")
        assert capfd.readouterr() == ("", "")
        os.write(1, b"never read\n")
        teardown(gen)
        assert (fd_identity(1), fd_identity(2)) == before
        assert isinstance(sys.stdout, _capture._Proxy) and isinstance(sys.stderr, _capture._Proxy)
    assert "".join(cap.out) == "never read\n"
    assert cap.err == []
    assert console_out.getvalue() == ""
    assert read_file(console[1]) == b"" and read_file(console[2]) == b""


def test_capfd_catches_c_stdio() -> None:
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        printf = libc.printf
    except (OSError, AttributeError, TypeError):
        pytest.skip("no C library to call")
    with console_fds() as console, running_test():
        gen = _builtins.capfd(fake_request(fixturename="capfd"))
        capfd = setup(gen)
        printf(b"from C\n")
        assert capfd.readouterr().out == "from C\n"
        teardown(gen)
    assert read_file(console[1]) == b""


def test_capfd_disabled_writes_to_the_real_fds() -> None:
    with console_fds() as console, running_test() as (cap, console_out, _):
        gen = _builtins.capfd(fake_request(fixturename="capfd"))
        capfd = setup(gen)
        with capfd.disabled():
            os.write(1, b"fd through\n")
            print("sys through")
        os.write(1, b"captured\n")
        assert capfd.readouterr().out == "captured\n"
        teardown(gen)
    assert read_file(console[1]) == b"fd through\n"
    assert console_out.getvalue() == "sys through\n"
    assert cap.out == []


def test_capfdbinary_gives_bytes_and_keeps_the_unread() -> None:
    with console_fds() as console, running_test() as (cap, _, _):
        gen = _builtins.capfdbinary(fake_request(fixturename="capfdbinary"))
        capfd = setup(gen)
        os.write(1, b"\xff\x00bin")
        sys.stdout.buffer.write(b"!")
        assert capfd.readouterr() == (b"\xff\x00bin!", b"")
        os.write(2, b"unread err\n")
        teardown(gen)
    assert "".join(cap.err) == "unread err\n"
    assert read_file(console[1]) == b"" and read_file(console[2]) == b""


def test_capfd_restores_fds_when_the_test_fails() -> None:
    with console_fds(), running_test() as (cap, _, _):
        before = fd_identity(1)
        gen = _builtins.capfd(fake_request(fixturename="capfd"))
        setup(gen)
        os.write(1, b"printed before the failure\n")
        gen.close()  # what an engine may do instead of stepping it
        assert fd_identity(1) == before
    assert "".join(cap.out) == "printed before the failure\n"


# --- caplog -----------------------------------------------------------------------------


@contextlib.contextmanager
def in_phase(name: str) -> Iterator[None]:
    token = _builtins.phase.set(name)
    try:
        yield
    finally:
        _builtins.phase.reset(token)


def test_caplog_phases() -> None:
    log = logging.getLogger("dbtest.test.phases")
    root = logging.getLogger()
    root_level = root.level
    with in_phase("setup"):
        gen = _builtins.caplog(fake_request(fixturename="caplog"))
        caplog = setup(gen)
        assert caplog.handler in root.handlers
        log.warning("in setup %s", 1)
        assert caplog.messages == ["in setup 1"]
        with in_phase("call"):
            log.warning("in call")
            log.error("again")
            assert caplog.messages == ["in call", "again"]
            assert caplog.record_tuples == [
                ("dbtest.test.phases", logging.WARNING, "in call"),
                ("dbtest.test.phases", logging.ERROR, "again"),
            ]
            assert [r.getMessage() for r in caplog.get_records("setup")] == ["in setup 1"]
            assert caplog.get_records("call") is caplog.records
            assert "WARNING  dbtest.test.phases:test_builtins.py:" in caplog.text
            assert caplog.text.endswith("again\n")
            # A thread of the test has the default context ("setup"): it does not take the
            # phase back.
            t = threading.Thread(target=log.warning, args=("from a thread",))
            t.start()
            t.join()
            assert caplog.messages[-1] == "from a thread"
            caplog.clear()
            assert caplog.records == [] and caplog.text == "" and caplog.get_records("call") == []
            log.warning("after clear")
            with in_phase("teardown"):
                log.warning("in teardown")
                assert caplog.messages == ["in teardown"]
                assert [r.getMessage() for r in caplog.get_records("call")] == ["after clear"]
                teardown(gen)
    assert caplog.handler not in root.handlers
    assert root.level == root_level


def test_caplog_leaves_levels_alone_unless_asked() -> None:
    log = logging.getLogger("dbtest.test.levels")
    root = logging.getLogger()
    root_level = root.level
    gen = _builtins.caplog(fake_request(fixturename="caplog"))
    caplog = setup(gen)
    assert root.level == root_level and caplog.handler.level == 0
    log.debug("not emitted: the root logger is at WARNING")
    assert caplog.records == []
    caplog.set_level(logging.DEBUG, logger="dbtest.test.levels")
    log.debug("now emitted")
    assert caplog.messages == ["now emitted"]
    assert log.level == logging.DEBUG and caplog.handler.level == logging.DEBUG
    teardown(gen)
    assert log.level == logging.NOTSET
    assert caplog.handler.level == 0
    assert root.level == root_level


def test_caplog_at_level_and_logging_disable() -> None:
    log = logging.getLogger("dbtest.test.at_level")
    gen = _builtins.caplog(fake_request(fixturename="caplog"))
    caplog = setup(gen)
    logging.disable(logging.CRITICAL)
    try:
        with caplog.at_level(logging.INFO, logger="dbtest.test.at_level"):
            log.info("inside")
            assert log.level == logging.INFO
        assert log.level == logging.NOTSET
        assert logging.root.manager.disable == logging.CRITICAL
        log.info("outside")
        caplog.set_level("INFO")
        assert logging.root.manager.disable < logging.INFO
        log.info("after set_level")
        teardown(gen)
        assert logging.root.manager.disable == logging.CRITICAL
        assert caplog.messages == ["inside", "after set_level"]
    finally:
        logging.disable(logging.NOTSET)


def test_caplog_log_level_setting() -> None:
    log = logging.getLogger("dbtest.test.ini")
    root = logging.getLogger()
    root_level = root.level
    gen = _builtins.caplog(fake_request(fixturename="caplog", ini={"log_level": "debug"}))
    caplog = setup(gen)
    assert root.level == min(root_level, logging.DEBUG)
    assert caplog.handler.level == logging.DEBUG
    log.debug("debug is caught")
    assert caplog.messages == ["debug is caught"]
    teardown(gen)
    assert root.level == root_level
    bad = _builtins.caplog(fake_request(fixturename="caplog", options={"log_level": "LOUD"}))
    with pytest.raises(Exception, match="'LOUD' is not recognized as a logging level"):
        setup(bad)


def test_caplog_filtering_and_non_propagating_loggers() -> None:
    quiet = logging.getLogger("dbtest.test.nonprop")
    quiet.propagate = False
    try:
        gen = _builtins.caplog(fake_request(fixturename="caplog"))
        caplog = setup(gen)
        quiet.warning("seen although it does not propagate")

        class NoSecrets(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                return "secret" not in record.getMessage()

        f = NoSecrets()
        with caplog.filtering(f):
            quiet.warning("a secret")
            quiet.warning("public")
        assert f not in caplog.handler.filters
        quiet.warning("a secret, unfiltered")
        assert caplog.messages == ["seen although it does not propagate", "public", "a secret, unfiltered"]
        teardown(gen)
        assert caplog.handler not in quiet.handlers
    finally:
        quiet.propagate = True


def test_caplog_bad_log_call_fails() -> None:
    gen = _builtins.caplog(fake_request(fixturename="caplog"))
    setup(gen)
    try:
        with pytest.raises(TypeError):
            logging.getLogger("dbtest.test.bad").warning("%d", "not a number")
    finally:
        teardown(gen)


# --- monkeypatch ------------------------------------------------------------------------


class Target:
    value = 1


def _exercise_monkeypatch(mp: Any, tmp: Path) -> None:
    cwd = os.getcwd()
    path = list(sys.path)
    mp.setattr(Target, "value", 2)
    mp.setattr("os.sep", "!")
    mp.setattr(Target, "missing", 3, raising=False)
    with pytest.raises(AttributeError):
        mp.setattr(Target, "missing_too", 3)
    mp.delattr("os.altsep", raising=False)
    d = {"a": 1}
    mp.setitem(d, "a", 2)
    mp.setitem(d, "b", 3)
    mp.delitem(d, "zzz", raising=False)
    os.environ["DBTEST_MP_BASE"] = "base"
    mp.setenv("DBTEST_MP_BASE", "front", prepend=os.pathsep)
    mp.setenv("DBTEST_MP_NEW", "new")
    mp.delenv("DBTEST_MP_GONE", raising=False)
    mp.syspath_prepend(str(tmp))
    mp.chdir(tmp)
    assert Target.value == 2 and os.sep == "!" and Target.missing == 3  # type: ignore[attr-defined]
    assert d == {"a": 2, "b": 3}
    assert os.environ["DBTEST_MP_BASE"] == "front" + os.pathsep + "base"
    assert os.environ["DBTEST_MP_NEW"] == "new"
    assert sys.path[0] == str(tmp) and Path.cwd() == tmp.resolve()
    with mp.context() as inner:
        inner.setattr(Target, "value", 5)
        assert Target.value == 5
    assert Target.value == 2
    mp._dbtest_check = (cwd, path, d)


def _assert_undone(mp: Any) -> None:
    cwd, path, d = mp._dbtest_check
    assert Target.value == 1 and not hasattr(Target, "missing")
    assert os.sep == ("\\" if sys.platform == "win32" else "/")
    assert d == {"a": 1}
    assert os.environ.pop("DBTEST_MP_BASE") == "base"
    assert "DBTEST_MP_NEW" not in os.environ
    assert sys.path == path and os.getcwd() == cwd


def test_monkeypatch_fixture_is_pytests_and_undoes_at_teardown() -> None:
    from _pytest.monkeypatch import MonkeyPatch

    tmp = Path(tempfile.mkdtemp())
    gen = _builtins.monkeypatch()
    mp = setup(gen)
    assert isinstance(mp, MonkeyPatch)
    _exercise_monkeypatch(mp, tmp)
    teardown(gen)
    _assert_undone(mp)


def test_monkeypatch_without_pytest() -> None:
    tmp = Path(tempfile.mkdtemp())
    with without_modules("_pytest.monkeypatch"):
        gen = _builtins.monkeypatch()
        mp = setup(gen)
    assert type(mp) is _builtins.MonkeyPatch
    _exercise_monkeypatch(mp, tmp)
    teardown(gen)
    _assert_undone(mp)


def test_own_monkeypatch_details() -> None:
    mp = _builtins.MonkeyPatch()
    with pytest.raises(TypeError):
        mp.setattr("nodots", 1)
    with pytest.raises(AttributeError):
        mp.setattr("os.no_such_attribute", 1)
    with pytest.raises(KeyError):
        mp.delitem({}, "x")
    with pytest.raises(KeyError):
        mp.delenv("DBTEST_SURELY_UNSET")
    with pytest.raises(AttributeError):
        mp.delattr(Target, "nope")

    class Sub(Target):
        pass

    obj = Sub()
    mp.setattr(obj, "value", 9)  # the instance, not the class attribute it shadows
    mp.delattr(Target, "value")
    assert obj.value == 9 and not hasattr(Sub(), "value")
    with pytest.warns(UserWarning):
        mp.setenv("DBTEST_MP_INT", 3)  # type: ignore[arg-type]
    assert os.environ["DBTEST_MP_INT"] == "3"
    mp.undo()
    assert Target.value == 1 and "value" not in obj.__dict__ and obj.value == 1
    assert "DBTEST_MP_INT" not in os.environ


# --- recwarn ----------------------------------------------------------------------------


def _exercise_recwarn(make: Any) -> None:
    filters = list(warnings.filters)
    gen = make()
    rec = setup(gen)
    warnings.warn("user", UserWarning)
    warnings.warn("old", DeprecationWarning)
    assert len(rec) == 2
    assert [str(w.message) for w in rec] == ["user", "old"]
    assert rec[0].category is UserWarning and len(rec.list) == 2
    assert str(rec.pop(DeprecationWarning).message) == "old"
    with pytest.raises(AssertionError):
        rec.pop(RuntimeWarning)
    rec.clear()
    assert len(rec) == 0
    teardown(gen)
    assert warnings.filters == filters


def test_recwarn() -> None:
    from _pytest.recwarn import WarningsRecorder

    gen = _builtins.recwarn()
    assert isinstance(setup(gen), WarningsRecorder)
    teardown(gen)
    _exercise_recwarn(_builtins.recwarn)


def test_recwarn_without_pytest() -> None:
    with without_modules("_pytest.recwarn"):
        gen = _builtins.recwarn()
        rec = setup(gen)
    assert type(rec) is _builtins.WarningsRecorder
    teardown(gen)
    with without_modules("_pytest.recwarn"):
        _exercise_recwarn(_builtins.recwarn)


def test_own_recorder_pop_prefers_the_exact_class() -> None:
    with _builtins.WarningsRecorder() as rec:
        warnings.warn("sub", DeprecationWarning)
        warnings.warn("exact", Warning)
        warnings.warn("sub again", DeprecationWarning)
    assert str(rec.pop(Warning).message) == "exact"
    assert str(rec.pop(Warning).message) == "sub"
    with pytest.raises(RuntimeError):
        rec.__exit__(None, None, None)


# --- tmp_path, tmp_path_factory, tmpdir -------------------------------------------------


def test_tmp_path_names_and_numbers() -> None:
    base = Path(tempfile.mkdtemp()) / "base"
    base.mkdir()
    (base / "old").write_text("from an earlier run")
    gen = _builtins.tmp_path_factory(fake_request(options={"basetemp": str(base)}))
    factory = setup(gen)
    assert factory.getbasetemp() == base.resolve()
    assert not (base / "old").exists()  # a given basetemp is emptied, as pytest does
    request = fake_request("test_x[1-2]")
    first = _builtins.tmp_path(request, factory)
    second = _builtins.tmp_path(request, factory)
    assert (first.name, second.name) == ("test_x_1_2_0", "test_x_1_2_1")
    assert first.parent == base.resolve() and first.is_dir()
    long = _builtins.tmp_path(fake_request("test_" + "a" * 40 + "[é-ü]"), factory)
    assert long.name == "test_" + "a" * 25 + "0"
    assert factory.mktemp("data").name == "data0"
    assert factory.mktemp("data", numbered=False).name == "data"
    with pytest.raises(FileExistsError):
        factory.mktemp("data", numbered=False)
    with pytest.raises(ValueError):
        factory.mktemp("../escape")
    (base / "test_x_1_2_5").mkdir()
    assert [_builtins.tmp_path(request, factory).name for _ in range(5)] == [
        "test_x_1_2_2", "test_x_1_2_3", "test_x_1_2_4", "test_x_1_2_6", "test_x_1_2_7"
    ]
    teardown(gen)
    assert first.is_dir()  # kept, as pytest keeps them


def test_basetemp_numbering_and_retention() -> None:
    temproot = Path(tempfile.mkdtemp())

    def session(**kw: Any) -> _builtins.TempPathFactory:
        factory = _builtins.TempPathFactory(temproot=temproot, **kw)
        factory.mktemp("x")
        return factory

    user_dir = next(iter(temproot.iterdir()), None)
    assert user_dir is None
    running = session()  # a run still going: its folder is locked
    for _ in range(4):
        session().close()
    (user_dir,) = temproot.iterdir()
    assert user_dir.name.startswith("dbtest-of-")
    assert user_dir.stat().st_mode & 0o077 == 0
    numbered = sorted(p.name for p in user_dir.iterdir() if not p.is_symlink())
    # dbtest-1 went (beyond the last 3); dbtest-0 stays while its run holds the lock.
    assert numbered == ["dbtest-0", "dbtest-2", "dbtest-3", "dbtest-4"]
    assert (user_dir / "dbtest-0" / ".lock").is_file()
    assert not (user_dir / "dbtest-4" / ".lock").exists()
    assert (user_dir / "dbtest-current").resolve() == (user_dir / "dbtest-4").resolve()
    assert (user_dir / "dbtest-4" / "x0").is_dir()
    running.close()
    assert not (user_dir / "dbtest-0" / ".lock").exists()
    session().close()
    numbered = sorted(p.name for p in user_dir.iterdir() if not p.is_symlink())
    assert numbered == ["dbtest-3", "dbtest-4", "dbtest-5"]
    # retention_count from the configuration, and policy "none" keeps nothing.
    gen = _builtins.tmp_path_factory(fake_request(ini={"tmp_path_retention_count": "1"}))
    factory = setup(gen)
    assert factory._retention_count == 1
    gen.close()
    none = session(retention_policy="none")
    mine = none.getbasetemp()
    assert mine.name == "dbtest-6" and not (mine / ".lock").exists()
    none.close()
    assert sorted(p.name for p in user_dir.iterdir() if not p.is_symlink()) == []


def test_basetemp_is_made_once_under_threads() -> None:
    factory = _builtins.TempPathFactory(given_basetemp=Path(tempfile.mkdtemp()) / "b")
    made: list[Path] = []
    threads = [threading.Thread(target=lambda: made.append(factory.mktemp("t"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.name for p in made) == [f"t{i}" for i in range(8)]
    assert {p.parent for p in made} == {factory.getbasetemp()}


def test_tmpdir_and_tmpdir_factory() -> None:
    from _pytest._py.path import LocalPath

    base = Path(tempfile.mkdtemp()) / "base"
    factory = _builtins.TempPathFactory(given_basetemp=base)
    path = _builtins.tmp_path(fake_request("test_t"), factory)
    tmpdir = _builtins.tmpdir(path)
    assert isinstance(tmpdir, LocalPath) and str(tmpdir) == str(path)
    legacy = _builtins.tmpdir_factory(factory)
    made = legacy.mktemp("legacy")
    assert isinstance(made, LocalPath) and made.basename == "legacy0"
    assert str(legacy.getbasetemp()) == str(base.resolve())
    with (
        without_modules("_pytest._py.path", "py", "py.path"),
        pytest.raises(Exception, match="tmpdir and tmpdir_factory give py.path.local objects"),
    ):
        _builtins.tmpdir(path)
