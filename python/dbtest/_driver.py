"""The Python half of `dbtest unit`: the Rust runner calls these methods to import a file,
run one test (on a worker thread, or as a coroutine on the run's event loop) and tear down.

One protocol serves both kinds of test: `_run` is a coroutine whose awaits go through an
`_Ops` object. The async ops really await on the loop; the sync ops do their work inline and
never suspend, so a sync test drives the same coroutine to its end with a single `send`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import functools
import gc
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from time import perf_counter
from types import ModuleType, TracebackType
from typing import Any

from . import _capture, _debugging, _process  # noqa: F401 - _process: forks from tests' threads exit cleanly
from ._compat import assertion, doctests, plugins, served
from ._compat import config as compat
from ._compat.collect import (
    CLASS,
    SUITE,
    UNITTEST,
    FileCollector,
    Item,
    Rules,
    node_for,
    reorder_by_params,
)
from ._compat.fixtures import (
    FixtureDef,
    FixtureError,
    Resolver,
    Scope,
    TestRequest,
    fixtures_in,
    run_inline,
)
from ._coverage import test_context, trace_this_thread
from ._loader import (
    add_to_sys_path,
    configure_imports,
    describe_import_error,
    import_conftest,
    import_file,
)
from ._marks import Skipped
from ._settings import PythonSettings


def _unittest() -> Any:
    """unittest, if the tests use it (a test file that never imports it has no TestCase):
    dbtest does not import it for them."""
    return sys.modules.get("unittest")


def _set_phase(name: str) -> None:
    """Tells caplog which part of the test runs (only once a test has used a built-in)."""
    builtins = sys.modules.get("dbtest._compat.builtins")
    if builtins is not None:
        builtins.phase.set(name)


def _describe(exc: BaseException) -> tuple[str, str]:
    # Imported on the first failure: most runs never need it.
    from ._failure import describe_failure

    return describe_failure(exc)


def _pytest_outcome(exc: BaseException) -> str | None:
    """The kind of pytest outcome exception `exc` is (`pytest.skip`, `.xfail`, `.fail`,
    `.exit`), if it is one."""
    mro = type(exc).__mro__
    # pytest's outcome classes pose as builtins (`Skipped.__module__ == "builtins"`); their
    # base class does not.
    if any(k.__name__ == "OutcomeException" and k.__module__.startswith("_pytest") for k in mro):
        for klass in mro:
            if klass.__name__ in ("Skipped", "XFailed", "Failed", "Exit"):
                return klass.__name__
    return None


def _is_skip(exc: BaseException) -> bool:
    ut = _unittest()
    return (
        isinstance(exc, Skipped)
        or (ut is not None and isinstance(exc, ut.SkipTest))
        or _pytest_outcome(exc) == "Skipped"
    )


def _result(outcome: str, started: float, cap: _capture.Captured, message: str | None = None,
            tb: str | None = None) -> dict[str, Any]:
    """The test's result; its capture ends here (what its threads write later is late)."""
    out, err, log = cap.finish()
    result = {
        "outcome": outcome,
        "duration_s": perf_counter() - started,
        "message": message,
        "traceback": tb,
        "stdout": out,
        "stderr": err,
    }
    if log:
        result["log"] = log
    return result


def _test_id(item: Item) -> str:
    """The test's id as the report has it (for output that arrives after the test ended)."""
    suite = f"{item.suite_name}::" if item.suite_name else ""
    params = f"[{item.param_id}]" if item.param_id is not None else ""
    return f"{item.file_key}::{suite}{item.name}{params}"


def _call_optional(func: Callable[..., Any], arg: Any) -> Any:
    """pytest's xunit functions take their argument only if they name one."""
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    count = code.co_argcount if code is not None else 1
    if inspect.ismethod(func):
        count -= 1
    return func(arg) if count > 0 else func()


class _Ops:
    """How a step that may be async is carried out: on the loop, or inline on a thread."""

    def __init__(self, resolver: Resolver, sync: bool) -> None:
        self.resolver = resolver
        self.sync = sync


class _AsyncOps(_Ops):
    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    async def wait(self, fut: Future[Any]) -> Any:
        return fut.result() if fut.done() else await asyncio.wrap_future(fut)

    async def call_test(self, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None) -> bool:
        """Runs the test body; True when it was stopped by its timeout."""
        if _debugging.trace_tests:
            fn = _debugging.traced(fn)
        if timeout is None:
            await fn(**kwargs)
            return False
        try:
            async with asyncio.timeout(timeout) as cm:
                await fn(**kwargs)
        except TimeoutError:
            if cm.expired():
                return True
            raise
        return False

    async def teardown(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return await self.resolver.teardown_async(scope)


class _SyncOps(_Ops):
    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        if inspect.isawaitable(result):
            # An async hook of a sync test runs on the loop; this thread waits for it.
            return asyncio.run_coroutine_threadsafe(_awaited(result), self.resolver.loop).result()
        return result

    async def wait(self, fut: Future[Any]) -> Any:
        return fut.result()

    async def call_test(self, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None) -> bool:
        # A thread cannot be interrupted: the Rust runner enforces a sync test's timeout.
        if _debugging.trace_tests:
            fn = _debugging.traced(fn)
        fn(**kwargs)
        return False

    async def teardown(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return self.resolver.teardown_sync(scope)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def _once(claimed: tuple[Future[Any], bool], set_up: Callable[[], Any], ops: Any) -> Any:
    """Runs `set_up` if this caller claimed the future (the first test to get there), and
    gives every caller its value or its error."""
    fut, mine = claimed
    if mine:
        try:
            value = await set_up()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # the error is the caller's; the future only serves those waiting
            raise
        fut.set_result(value)
    return await ops.wait(fut)


def _first_callable(obj: Any, names: tuple[str, ...]) -> Callable[..., Any] | None:
    for name in names:
        found = getattr(obj, name, None)
        if callable(found):
            return found
    return None


class _FileState:
    """One file's state while its tests run: its module scope, suite instances, the classes
    that are set up (xunit `setup_class`, unittest `setUpClass`, class-scoped fixtures)."""

    def __init__(self, rel: str, module: Any, exclusive: bool) -> None:
        self.rel = rel
        self.module = module
        # The file runs alone, one test at a time (pytest's way): classes are torn down as
        # soon as the next test belongs to another class, and warnings filters apply.
        self.exclusive = exclusive
        self.scope = Scope("file")
        self._lock = threading.Lock()
        self.suites: dict[type, Future[Any]] = {}
        self.module_setup: Future[Any] | None = None
        self.classes: dict[type, tuple[Future[Any], Scope]] = {}
        self.open_classes: list[type] = []
        self.late_errors: list[tuple[str, BaseException]] = []
        self.keys: list[int] = []
        self.package: Scope | None = None  # the package scope its tests share, found once
        # The module's xunit functions, found once.
        self.setup_module = _first_callable(module, ("setUpModule", "setup_module"))
        self.teardown_module = _first_callable(module, ("tearDownModule", "teardown_module"))
        self.setup_function = _first_callable(module, ("setup_function",))
        self.teardown_function = _first_callable(module, ("teardown_function",))

    def claim_suite(self, cls: type) -> tuple[Future[Any], bool]:
        with self._lock:
            fut = self.suites.get(cls)
            if fut is not None:
                return fut, False
            fut = self.suites[cls] = Future()
            return fut, True

    def claim_module(self) -> tuple[Future[Any], bool]:
        with self._lock:
            if self.module_setup is not None:
                return self.module_setup, False
            self.module_setup = Future()
            return self.module_setup, True

    def claim_class(self, cls: type) -> tuple[Future[Any], Scope, bool]:
        with self._lock:
            found = self.classes.get(cls)
            if found is not None:
                return found[0], found[1], False
            fut: Future[Any] = Future()
            scope = Scope("class")
            self.classes[cls] = (fut, scope)
            return fut, scope, True

    @property
    def plain(self) -> bool:
        """Nothing of the module's runs around its tests (no xunit functions)."""
        return self.setup_module is None and self.teardown_module is None and (
            self.setup_function is None and self.teardown_function is None
        )

    def has_teardown(self) -> bool:
        return bool(self.suites or self.scope.finalizers or self.module_setup or self.classes or self.late_errors)


class Driver:
    """Created by the CLI on the event loop's thread; its methods are called by the Rust runner."""

    def __init__(self, loop: asyncio.AbstractEventLoop, root: str = ".", settings: PythonSettings | None = None) -> None:
        self.loop = loop
        self.root = root
        self.settings = settings = settings or PythonSettings()
        self.session = Scope("session")
        self.packages: dict[str, Scope] = {}
        self.resolver = Resolver(loop, self.session)
        self._async_ops = _AsyncOps(self.resolver, sync=False)
        self._sync_ops = _SyncOps(self.resolver, sync=True)
        self.items: list[Item] = []
        self._running: dict[int, _capture.Captured] = {}
        self.files: dict[str, _FileState] = {}
        self._lock = threading.Lock()
        self._conftests: dict[str, dict[str, FixtureDef] | BaseException] = {}
        self._conftest_modules: dict[str, ModuleType] = {}
        self._warned: set[str] = set()
        self.config = compat.Config(settings, root, self._warn)
        served.configure(self.config)
        assertion.configure(self.config)
        namespace_packages = settings.ini.get("consider_namespace_packages", "").strip().lower()
        configure_imports(settings.import_mode, settings.rootdir, namespace_packages in ("true", "1", "yes", "on"))
        self.rules = Rules(
            config=self.config,
            python_classes=list(settings.python_classes),
            python_functions=list(settings.python_functions),
            xfail_strict=settings.xfail_strict,
        )
        self.filterwarnings = list(settings.filterwarnings)
        for entry in reversed(settings.pythonpath):
            add_to_sys_path(str(entry))
        _debugging.configure(settings.debug)
        _capture.install(*(self._ini_value(name) for name in ("log_level", "log_format", "log_date_format")))
        self._configure_plugins()
        # What is loaded by now (dbtest, asyncio, the standard library) lives for the whole
        # run: keep it out of the collector's way, so collections triggered by tests stay cheap.
        gc.freeze()

    def _configure_plugins(self) -> None:
        """pytest's order: the plugins' options, the initial conftests (imported now, as pytest
        imports them), then `pytest_configure` and the session's start."""
        if self.config._plugin_manager is None:  # no plugin: configured with the first conftest
            self.config._configure_later = False
            return
        for conftest in plugins.initial_conftests(self.config):
            try:
                self._conftest(conftest)
            except _ConftestError:
                pass  # its error is its files'
        plugins.configure(self.config)

    def close(self) -> None:
        _capture.uninstall()
        _debugging.unconfigure()

    def check_options(self) -> None:
        """pytest's usage error for a command-line option nothing defines, found where pytest
        finds it: once the plugins and the initial conftests have added theirs (in the
        process that runs the files; workers name such an option when they end)."""
        if not plugins.undefined_options(self.config):
            return
        for conftest in plugins.initial_conftests(self.config):
            try:
                self._conftest(conftest)
            except _ConftestError:
                pass  # its error is its files'
        undefined = plugins.undefined_options(self.config)
        if undefined:
            self.close()
            raise plugins.UsageError(
                f"unrecognized option{'s' if len(undefined) > 1 else ''}: {' '.join(undefined)} (neither dbtest's "
                "nor defined by a pytest plugin or conftest of this run)"
            )

    def _ini_value(self, name: str) -> Any:
        """A pytest option or ini value the capture follows (`log_level`, ...), if set."""
        try:
            value = self.config.getoption(name, None)
            return value if value is not None else self.config.getini(name)
        except Exception:  # noqa: BLE001 - unset
            return None

    def _warn(self, message: str) -> None:
        """A warning for the user: printed at once, never silently dropped."""
        if message in self._warned:
            return
        self._warned.add(message)
        _capture.console_write(f"dbtest: warning: {message}\n", _capture.ERR)

    # --- collection (on a worker thread) ---------------------------------------------------

    def collect_file(
        self, path: str, rel: str, sys_path_entry: str, module_name: str, conftests: list[str],
        exclusive: bool = False,
    ) -> dict[str, Any]:
        _capture.idle()  # what an import prints is no test's
        trace_this_thread()  # an import on a thread the engine started
        try:
            if self._ignored_by_conftests(path, conftests):
                return {"tests": []}
            chain = [self._conftest(c) for c in reversed(conftests)]
            chain.extend(self.config.plugin_fixtures)
            if self._hooked("pytest_collectstart"):
                plugins.collectstart(self.config, path, rel)
            if not path.endswith(".py"):
                module = ModuleType(module_name)  # a text file of doctests (--doctest-glob)
                items = doctests.textfile_items(path, rel, self.settings.ini.get("doctest_optionflags"),
                                                self.settings.ini.get("doctest_encoding"))
            else:
                module, items = self._collect_module(path, rel, sys_path_entry, module_name, chain)
            for item in items:
                item.file_key = rel
            # Before conftest hooks see them, as pytest (its reordering plugin runs first).
            items = reorder_by_params(items)
            # A file that runs alone is collected with every other such file before any test
            # runs: the hook sees them all at once (`arrange_session`), as under pytest.
            items = self._modify(items, hook=not exclusive)
            self._check_marks(items, rel)
        except BaseException as exc:  # noqa: BLE001 - any import failure is the file's error
            if _is_skip(exc):
                return {"skipped": str(getattr(exc, "msg", None) or exc) or "skipped"}
            message, tb = describe_import_error(exc)
            return {"error": message, "traceback": tb}
        state = _FileState(rel, module, exclusive)
        tests = []
        with self._lock:
            self.files[rel] = state
            for item in items:
                key = len(self.items)
                self.items.append(item)
                state.keys.append(key)
                tests.append(_case(item, key))
        return {"tests": tests}

    def _collect_module(self, path: str, rel: str, sys_path_entry: str, module_name: str,
                        chain: list[dict[str, FixtureDef]]) -> tuple[ModuleType, list[Item]]:
        """A `.py` file's items: its tests if it is a test module, then its doctests under
        `--doctest-modules` (which walks every `.py` file), as pytest's doctest plugin."""
        settings = self.settings
        with_doctests = settings.doctest_modules and doctests.is_doctest_module(path)
        if Path(path).name == "conftest.py" and settings.doctest_modules:
            self._conftest(path)  # its doctests run in the module pytest imported as a conftest
            module = self._conftest_modules[path]
            is_test_module = False
        else:
            module = import_file(path, sys_path_entry, module_name)
            is_test_module = not settings.doctest_modules or self._is_test_module(path)
        items = FileCollector(module, rel, chain, self.rules, self._warn).collect() if is_test_module else []
        if with_doctests:
            found = doctests.module_items(module, rel, settings.ini.get("doctest_optionflags"))
            if found:
                self._warn_doctest_fixtures(rel, chain)
            items = found + items
        return module, items

    def _warn_doctest_fixtures(self, rel: str, chain: list[dict[str, FixtureDef]]) -> None:
        """pytest gives doctests the autouse fixtures and `doctest_namespace`; dbtest runs
        them without fixtures: say so where it may matter."""
        names = sorted({name for table in chain for name, fdef in table.items()
                        if fdef.autouse or name == "doctest_namespace"})
        if names:
            self._warn(f"{rel}: doctests run without fixtures; not applied to them: {', '.join(names)}")

    def _is_test_module(self, path: str) -> bool:
        """pytest's `python_files` (a file named on the command line always is one)."""
        file = Path(os.path.abspath(path))
        if any(Path(os.path.abspath(p)) == file for p in self.settings.search_paths):
            return True
        patterns = self.settings.python_files or ["test_*.py", "*_test.py"]
        return any(
            fnmatch.fnmatch(str(file) if "/" in pattern else file.name,
                            pattern if "/" not in pattern or os.path.isabs(pattern) else f"*/{pattern}")
            for pattern in patterns
        )

    def _ignored_by_conftests(self, path: str, conftests: list[str]) -> bool:
        """pytest's `collect_ignore` and `collect_ignore_glob` (`pytest_ignore_collect`): on the
        way from the search root down to the file, each folder and the file itself is checked
        against the innermost conftest above it that sets the name, whose entries are relative
        to that conftest's folder. A conftest inside an ignored folder is never imported."""
        file = Path(os.path.abspath(path))
        start = self._search_root(file)
        if file == start:
            return False  # a file named on the command line is collected whatever conftests say
        pending = list(conftests)  # outermost first
        loaded: list[ModuleType] = []
        for step in [*reversed(file.relative_to(start).parents[:-1]), file.relative_to(start)]:
            candidate = start / step
            while pending and candidate.parent.is_relative_to(Path(os.path.abspath(pending[0])).parent):
                conftest = pending.pop(0)
                self._conftest(conftest)
                loaded.append(self._conftest_modules[conftest])
            ignored = _conftest_paths(loaded, "collect_ignore")
            if candidate in ignored:
                return True
            globs = _conftest_paths(loaded, "collect_ignore_glob")
            if any(fnmatch.fnmatch(str(candidate), str(glob)) for glob in globs):
                return True
        return False

    def _search_root(self, file: Path) -> Path:
        """The searched path the file was found under: pytest checks what lies below it."""
        roots = [Path(os.path.abspath(p)) for p in self.settings.search_paths]
        under = [r for r in roots if r == file or file.is_relative_to(r)]
        if under:
            return max(under, key=lambda r: len(r.parts))
        return Path(os.path.abspath(self.root))

    def arrange_session(self, rels: list[str]) -> list[tuple[str, list[dict[str, Any]]]] | None:
        """`pytest_collection_modifyitems` once over the items of the files that run alone
        (`rels`, collected, in run order), as pytest calls it over the session's: the files in
        the order the hook leaves their items, each with the items it kept, in that order.
        None when no conftest or plugin implements the hook."""
        if not self._collection_hooked():
            return None
        keyed = [(key, self.items[key]) for rel in rels if rel in self.files for key in self.files[rel].keys]
        by_node = {id(node_for(item, self.config)): (key, item) for key, item in keyed}
        try:
            kept = compat.apply_modifyitems(self.config, [item.node for _, item in keyed])  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - a conftest's hook may raise anything
            self._warn(f"pytest_collection_modifyitems raised {describe_import_error(exc)[0]}; "
                       "the tests run as collected")
            return None
        arranged: dict[str, list[dict[str, Any]]] = {}
        for node in kept:
            found = by_node.get(id(node))
            if found is None:
                continue
            key, item = found
            self._evaluate_marks([item])
            arranged.setdefault(item.file_key, []).append(_case(item, key))
        return list(arranged.items())

    def _collection_hooked(self) -> bool:
        return self._hooked("pytest_collection_modifyitems") or self._hooked("pytest_collection_finish")

    def _modify(self, items: list[Item], hook: bool = True) -> list[Item]:
        """Conftest `pytest_collection_modifyitems` (unless `hook` is False), then pytest's
        skip and xfail marks."""
        if self._hooked("pytest_itemcollected"):  # as each item is collected (pytest-django's marks)
            for item in items:
                plugins.call(self.config, "pytest_itemcollected", item=node_for(item, self.config))
        if hook and self._collection_hooked():
            nodes = {id(node_for(i, self.config)): i for i in items}
            kept = compat.apply_modifyitems(self.config, [i.node for i in items])  # type: ignore[misc]
            items = [nodes[id(n)] for n in kept if id(n) in nodes]
        self._evaluate_marks(items)
        return items

    def _evaluate_marks(self, items: list[Item]) -> None:
        """pytest's skip and xfail marks, read once the marks are final."""
        for item in items:
            if item.pytest_marks or item.node is not None:
                node = node_for(item, self.config)
                item.pytest_marks = list(node.own_markers)
                self._tag_added_marks(item)
                try:
                    item.skip = compat.evaluate_skip(node)
                    item.xfail = compat.evaluate_xfail(node, self.rules.xfail_strict)
                except ValueError as exc:
                    item.skip = None
                    item.xfail = None
                    item.marks_error = str(exc)

    @staticmethod
    def _tag_added_marks(item: Item) -> None:
        """Marks a hook added (`pytest_itemcollected`, `pytest_collection_modifyitems`) are
        tags too, so `-m` selects by them as pytest does."""
        added = [m.name for m in item.pytest_marks
                 if m.name not in compat.BEHAVIOUR_MARKS and m.name not in item.marks.tags]
        if added:
            item.marks = dataclasses.replace(item.marks, tags=[*item.marks.tags, *dict.fromkeys(added)])

    def _check_marks(self, items: list[Item], rel: str) -> None:
        strict = self.settings.strict_markers
        for item in items:
            for mark in item.pytest_marks:
                if compat.mark_registered(self.config, mark.name):
                    continue
                if strict:
                    raise ValueError(
                        f"'{mark.name}' not found in `markers` configuration option "
                        f"(used by {item.name}); register it under markers in your pytest configuration"
                    )

    def _conftest(self, path: str) -> dict[str, FixtureDef]:
        with self._lock:
            cached = self._conftests.get(path)
        if cached is None:
            try:
                module = import_conftest(path)
                self._conftest_modules[path] = module
                cached = fixtures_in(vars(module), path)
                self.config.register_conftest(module, path)
            except BaseException as exc:  # noqa: BLE001
                cached = exc
            with self._lock:
                cached = self._conftests.setdefault(path, cached)
        if isinstance(cached, BaseException):
            raise _ConftestError(path) from cached
        return cached

    # --- running one test -----------------------------------------------------------------

    def run_sync(self, key: int, timeout: float | None) -> dict[str, Any]:
        trace_this_thread()
        return run_inline(self._run(key, timeout, self._sync_ops))

    def run_async(self, key: int, timeout: float | None) -> Any:
        return self._run(key, timeout, self._async_ops)

    def partial_output_sync(self, key: int) -> dict[str, str]:
        """What a test still running (past its timeout) has printed and logged so far."""
        cap = self._running.get(key)
        stdout, stderr, log = cap.texts() if cap is not None else ("", "", "")
        return {"stdout": stdout, "stderr": stderr, "log": log}

    @property
    def _runtest_hooks(self) -> bool:
        """A conftest hook runs around every test (conftests load as files are collected)."""
        if self.config._plugin_manager is None:  # no plugin, no conftest yet: most runs' tests
            return False
        return self._hooked("pytest_runtest_setup") or self._hooked("pytest_runtest_teardown") or (
            self._hooked("pytest_runtest_makereport") or self._hooked("pytest_runtest_logreport"))

    def _hooked(self, name: str) -> bool:
        return plugins.implemented(self.config, name)

    async def _run(self, key: int, timeout: float | None, ops: Any) -> dict[str, Any]:
        item = self.items[key]
        # Not while a debugger has the terminal (DESIGN section 4f).
        if ops.sync:
            _debugging.wait_for_terminal()
        else:
            await _debugging.wait_for_terminal_async()
        test_context(_test_id, item)
        cap, token = _capture.start(functools.partial(_test_id, item))
        self._running[key] = cap
        started = perf_counter()
        state = self.files[item.file_key]
        if state.exclusive or item.exclusive:
            # Nothing runs beside it: fds 1 and 2 can be its own (subprocesses, C code).
            _capture.reinstate()
            _capture.begin_fd(cap)
        else:
            _capture.release_fd()
        try:
            # Classes the previous test left open are torn down by the general path first.
            open_classes = state.exclusive and state.open_classes
            if item.plain and state.plain and not self._runtest_hooks and not open_classes:
                return await self._attempt_plain(item, timeout, ops, cap, started)
            marks = [m for m in item.pytest_marks if m.name == "filterwarnings"]
            if state.exclusive and (marks or self.filterwarnings):
                # Warnings filters are the whole process's: only for a file that runs alone.
                with _WarningFilters(self.filterwarnings, marks):
                    return await self._attempt(item, state, timeout, ops, cap, started)
            return await self._attempt(item, state, timeout, ops, cap, started)
        finally:
            _debugging.test_ended()
            cap.finish()
            _capture.current.reset(token)
            self._running.pop(key, None)

    async def _attempt_plain(self, item: Item, timeout: float | None, ops: Any, cap: _capture.Captured,
                             started: float) -> dict[str, Any]:
        """Most tests: a function with no fixtures, parameters, xunit functions or hooks to
        run around it (the general path costs more than such a test takes)."""
        outcome, message, tb = "passed", None, None
        served.reseed(functools.partial(_test_id, item), 0)
        try:
            if await ops.call_test(item.func, {}, timeout):
                outcome, message = "timeout", f"timed out after {timeout:g}s"
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a test may raise anything
            outcome, message, tb = self._classify(exc, "call")
            self._post_mortem(item, exc, outcome, tb, cap)
        return _result(outcome, started, cap, message, tb)

    async def _attempt(self, item: Item, state: _FileState, timeout: float | None, ops: Any,
                       cap: _capture.Captured, started: float) -> dict[str, Any]:
        scope = Scope("test") if (item.fixture_names or item.kind != "function" or item.callspec) else None
        instance = None
        phase = "setup"
        outcome, message, tb = "passed", None, None
        error: BaseException | None = None
        verdict = None
        request: TestRequest | None = None
        xfail = item.xfail
        _set_phase("setup")
        if xfail is not None and not xfail.run:
            return _result("xfailed", started, cap, f"[NOTRUN] {xfail.reason}".rstrip())
        if item.marks_error is not None:
            return _result("error", started, cap, item.marks_error)
        if item.unsupported_async:
            return _result(
                "failed", started, cap,
                "this test is marked for an event loop other than asyncio (trio, curio, twisted); "
                "dbtest runs coroutine tests on asyncio only",
            )
        served.reseed(functools.partial(_test_id, item), -1)
        try:
            await self._enter_module(state, item, ops)
            class_scope = await self._enter_classes(state, item, ops)
            instance = await self._instance(state, item, ops)
            if self._hooked("pytest_runtest_setup"):
                self.config.hook.pytest_runtest_setup(item=node_for(item, self.config))
            call_kwargs: dict[str, Any] = {}
            if scope is not None:
                node = node_for(item, self.config) if (item.fixture_names or item.callspec) else None
                if node is not None:
                    node.instance = instance
                request = TestRequest(self.resolver, node, item.chain, self._scopes(scope, class_scope, state, item),
                                      item.callspec, instance, ops.sync)
                values = await self.resolver.resolve(item.fixture_names, request)
                if node is not None:
                    node.funcargs = values
                call_kwargs = {n: request.values[n] if n in request.values else request.direct(n)[1]
                               for n in item.argnames}
            await self._setup_method(state, item, instance, ops)
            # Bound to the test's instance as `getattr(instance, name)` would (a unittest case runs
            # its own method; a callable without `__get__`, a functools.partial, is not bound).
            bind = getattr(item.func, "__get__", None) if instance is not None and item.kind != UNITTEST else None
            fn = bind(instance) if bind is not None else item.func
            if request is not None:
                fn = served.test_on_backend(fn, request)
            phase = "call"
            _set_phase("call")
            served.reseed(functools.partial(_test_id, item), 0)
            try:
                if item.kind == UNITTEST:
                    outcome, message, error = self._run_unittest(item, instance)
                    if error is not None and _debugging.post_mortem_on_failure:
                        self._post_mortem(item, error, outcome, _describe(error)[1], cap)
                elif item.probabilistic is not None:
                    from ._experiment import run_probabilistic_test

                    judged = await run_probabilistic_test(fn, item.probabilistic, self.root)
                    outcome, message, verdict = judged["outcome"], judged["message"], judged["verdict"]
                elif await ops.call_test(fn, call_kwargs, timeout):
                    outcome, message = "timeout", f"timed out after {timeout:g}s"
            finally:
                _set_phase("teardown")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a test may raise anything
            error = exc
            outcome, message, tb = self._classify(exc, phase)
            self._post_mortem(item, exc, outcome, tb, cap)
        finally:
            served.reseed(functools.partial(_test_id, item), 1)
            errors = []
            if self._hooked("pytest_runtest_teardown"):
                # A conftest's hook runs before the fixtures are torn down, as under pytest.
                try:
                    self.config.hook.pytest_runtest_teardown(item=node_for(item, self.config), nextitem=None)
                except BaseException as exc:  # noqa: BLE001 - a hook may raise anything
                    errors.append(("pytest_runtest_teardown", exc))
            errors += await self._leave(state, item, instance, ops)
            if scope is not None:
                errors += await ops.teardown(scope)
            if request is not None:
                request.restore_context()
            if errors and outcome in ("passed", "skipped", "xfailed"):
                name, failure = errors[0]
                message, tb = _describe(failure)
                outcome, message = "error", f"teardown of {name} failed: {message}"
                error = None
        if error is not None and tb is None and outcome == "failed" and item.kind == UNITTEST:
            described, tb = _describe(error)
            message = f"{message}: {described}" if message else described
        if xfail is not None and outcome in ("passed", "failed", "error"):
            outcome, message = self._judge_xfail(xfail, outcome, error, message)
        result = _result(outcome, started, cap, message, tb)
        if verdict is not None:
            result["verdict"] = verdict
        measured = request.values.get("benchmark") if request is not None else None
        report = getattr(measured, "report", None)
        if report is not None:
            result["benchmark"] = report
        if self._hooked("pytest_runtest_makereport") or self._hooked("pytest_runtest_logreport"):
            self._log_reports(item, result)
        return result

    def _log_reports(self, item: Item, result: dict[str, Any]) -> None:
        """Plugins' `pytest_runtest_makereport` / `_logreport`, once the test has ended."""
        try:
            plugins.log_reports(self.config, node_for(item, self.config), result)
        except BaseException as exc:  # noqa: BLE001 - a hook may raise anything
            message, tb = _describe(exc)
            result.update(outcome="error", message=f"pytest_runtest_logreport failed: {message}", traceback=tb)

    @staticmethod
    def _post_mortem(item: Item, exc: BaseException, outcome: str, tb: str | None, cap: _capture.Captured) -> None:
        """`--pdb`: at a failure or error, before teardown (as pytest's `pytest_exception_interact`);
        not for an expected failure."""
        if outcome in ("failed", "error") and item.xfail is None and _debugging.wants_post_mortem(exc):
            _debugging.post_mortem(exc, tb, cap.texts())

    @staticmethod
    def _judge_xfail(xfail: compat.Xfail, outcome: str, error: BaseException | None,
                     message: str | None) -> tuple[str, str | None]:
        """pytest's reading of an `xfail` mark once the test ran."""
        if outcome == "passed":
            if xfail.strict:
                return "failed", f"[XPASS(strict)] {xfail.reason}".rstrip()
            return "xpassed", xfail.reason or None
        if error is not None and xfail.raises is not None and not isinstance(error, xfail.raises):
            return outcome, message
        reason = xfail.reason
        return "xfailed", (f"{reason}: {message}" if reason and message else reason or message)

    def _run_unittest(self, item: Item, case: Any) -> tuple[str, str | None, BaseException | None]:
        from ._compat.unittest_case import run_case

        ran = run_case(case)
        return ran.outcome, ran.message, ran.exception

    def _scopes(self, test: Scope, class_scope: Scope | None, state: _FileState, item: Item) -> dict[str, Scope]:
        return {
            "test": test,
            "class": class_scope if class_scope is not None else state.scope,
            "file": state.scope,
            "package": self._package_scope(state, item),
            "session": self.session,
        }

    def _package_scope(self, state: _FileState, item: Item) -> Scope:
        if state.package is not None:
            return state.package
        module_file = getattr(item.module, "__file__", None) or item.file_key
        folder = str(Path(module_file).parent)
        with self._lock:
            scope = self.packages.get(folder)
            if scope is None:
                scope = self.packages[folder] = Scope("package")
            state.package = scope
            return scope

    def _classify(self, exc: BaseException, phase: str) -> tuple[str, str | None, str | None]:
        if _is_skip(exc):
            return "skipped", str(getattr(exc, "msg", None) or exc) or None, None
        kind = _pytest_outcome(exc)
        if kind == "XFailed":
            return "xfailed", str(getattr(exc, "msg", None) or exc) or None, None
        if kind == "Failed" and not getattr(exc, "pytrace", True):
            return ("error" if phase == "setup" else "failed"), str(getattr(exc, "msg", None) or exc), None
        message, tb = _describe(exc)
        if phase == "setup":
            if isinstance(exc, FixtureError):
                return "error", str(exc), None
            return "error", f"setup failed: {message}", tb
        return "failed", message, tb

    # --- modules and classes -------------------------------------------------------------

    async def _enter_module(self, state: _FileState, item: Item, ops: Any) -> None:
        """xunit `setup_module` / unittest's `setUpModule`, once per file."""
        setup = state.setup_module
        if setup is None and state.teardown_module is None:
            return

        async def set_up() -> None:
            if setup is not None:
                await ops.call(_call_optional, setup, state.module)

        await _once(state.claim_module(), set_up, ops)

    async def _enter_classes(self, state: _FileState, item: Item, ops: Any) -> Scope | None:
        """Sets up the test's classes (outermost first): class-scoped fixtures' scope, xunit
        `setup_class`, unittest `setUpClass`. In a file that runs alone, classes the previous
        test was in and this one is not are torn down first, as pytest does."""
        if item.kind == SUITE:
            return None
        # A module-level test after a class's tests closes the class too.
        if state.exclusive and state.open_classes and state.open_classes != item.classes:
            for cls in reversed(state.open_classes):
                if cls not in item.classes:
                    state.late_errors.extend(await self._leave_class(state, cls, ops))
        state.open_classes = list(item.classes)
        if not item.classes:
            return None
        scope: Scope | None = None
        for cls in item.classes:
            fut, scope, mine = state.claim_class(cls)
            await _once((fut, mine), functools.partial(self._setup_class, cls, item, ops), ops)
        return scope

    async def _setup_class(self, cls: type, item: Item, ops: Any) -> None:
        if item.kind == UNITTEST:
            from ._compat.unittest_case import class_skip_reason

            reason = class_skip_reason(cls)
            if reason is not None:
                raise _unittest().SkipTest(reason)
            try:
                await ops.call(cls.setUpClass)  # type: ignore[attr-defined]
            except BaseException:
                self._warn_set_up_before_fixtures(item)
                raise
        # pytest's xunit `setup_class` also on a TestCase, after `setUpClass`.
        setup = getattr(cls, "setup_class", None)
        if callable(setup):
            await ops.call(_call_optional, setup, cls)

    def _warn_set_up_before_fixtures(self, item: Item) -> None:
        """A `setUpClass` that failed may have needed what an autouse class-scoped fixture of
        a plugin or conftest sets up: pytest calls `setUpClass` from a class-scoped fixture of
        its own, after those; dbtest calls it before any fixture."""
        wider = []
        for name in item.fixture_names:
            found = next((table[name] for table in item.chain if name in table), None)
            if found is not None and found.autouse and found.scope == "class" and not found.in_class:
                wider.append(f"{name} ({found.origin})")
        if wider:
            self._warn(
                f"unittest setUpClass runs before the class-scoped autouse fixture{'s' if len(wider) > 1 else ''} "
                f"{', '.join(wider)} under dbtest, after {'them' if len(wider) > 1 else 'it'} under pytest; "
                "a setUpClass that depends on what such a fixture does fails (its error is the class's tests')"
            )

    async def _leave_class(self, state: _FileState, cls: type, ops: Any) -> list[tuple[str, BaseException]]:
        found = state.classes.pop(cls, None)
        if found is None:
            return []
        fut, scope = found
        errors = await ops.teardown(scope)
        if fut.done() and fut.exception() is None:
            try:
                ut = _unittest()
                if hasattr(cls, "teardown_class"):
                    await ops.call(_call_optional, cls.teardown_class, cls)
                if ut is not None and issubclass(cls, ut.TestCase):
                    case: Any = cls
                    await ops.call(case.tearDownClass)
                    case.doClassCleanups()
                    for exc_info in getattr(cls, "tearDown_exceptions", []):
                        errors.append((f"{cls.__name__}::doClassCleanups", exc_info[1]))
            except BaseException as exc:  # noqa: BLE001
                errors.append((f"{cls.__name__}::teardown_class", exc))
        return errors

    async def _instance(self, state: _FileState, item: Item, ops: Any) -> Any:
        cls = item.suite
        if cls is None:
            return None
        if item.kind == UNITTEST:
            # The case that runs the test, made before its fixtures as pytest does: it is
            # `request.instance`, and what xunit `setup_method` is given.
            return cls(item.name)
        if item.kind == CLASS:
            # A plain pytest-style class: a fresh instance per test.
            return cls()
        async def set_up() -> Any:
            made = cls()
            if hasattr(made, "setup_suite"):
                await ops.call(made.setup_suite)
            return made

        instance = await _once(state.claim_suite(cls), set_up, ops)
        if hasattr(instance, "setup"):
            await ops.call(instance.setup)
        return instance

    async def _setup_method(self, state: _FileState, item: Item, instance: Any, ops: Any) -> None:
        """xunit `setup_method` (classes) / `setup_function` (module functions)."""
        if item.kind == UNITTEST and instance is not None and hasattr(instance, "setup_method"):
            # pytest's unittest plugin passes the method, never optionally.
            await ops.call(instance.setup_method, item.func)
        elif item.kind == CLASS and instance is not None and hasattr(instance, "setup_method"):
            await ops.call(_call_optional, instance.setup_method, item.func)
        elif item.kind == "function" and state.setup_function is not None:
            await ops.call(_call_optional, state.setup_function, item.func)

    async def _leave(self, state: _FileState, item: Item, instance: Any, ops: Any) -> list[tuple[str, BaseException]]:
        args: tuple[Any, ...]
        if item.kind == SUITE:
            hook, target, args = "teardown", instance, ()
        elif item.kind in (CLASS, UNITTEST):
            hook, target, args = "teardown_method", instance, (item.func,)
        elif item.kind == "function" and state.teardown_function is not None:
            hook, target, args = "teardown_function", item.module, (item.func,)
        else:
            return []
        if target is None or not callable(getattr(target, hook, None)):
            return []
        try:
            if args:
                await ops.call(_call_optional, getattr(target, hook), args[0])
            else:
                await ops.call(getattr(target, hook))
        except BaseException as exc:  # noqa: BLE001
            return [(f"{type(target).__name__ if item.kind != 'function' else 'module'}::{hook}", exc)]
        return []

    # --- teardown (on the loop; a file with nothing to tear down, on its lane) ------------

    def finish_file_at_once(self, rel: str) -> bool:
        """Finishes the file here and now if it has nothing to tear down (no suites, no
        file-scoped fixtures): most files, spared a trip to the loop."""
        state = self.files.get(rel)
        if state is None:
            return True
        if state.has_teardown():
            return False
        del self.files[rel]
        self._forget_items(state)
        return True

    async def finish_file_async(self, rel: str) -> list[dict[str, Any]]:
        return await self._finish_file(rel, self._async_ops)

    def finish_file_sync(self, rel: str) -> list[dict[str, Any]]:
        """Tears a file down on the calling thread: a file that ran alone, on the one thread
        its tests ran on, so a thread-bound fixture value is closed where it was made."""
        trace_this_thread()
        return run_inline(self._finish_file(rel, self._sync_ops))

    async def _finish_file(self, rel: str, ops: Any) -> list[dict[str, Any]]:
        state = self.files.pop(rel, None)
        if state is None:
            return []
        _capture.idle()
        cap, token = _capture.start(rel, is_test=False)
        try:
            errors: list[tuple[str, BaseException]] = list(state.late_errors)
            for cls in reversed(list(state.classes)):
                errors += await self._leave_class(state, cls, ops)
            for cls, fut in state.suites.items():
                if fut.done() and fut.exception() is None and hasattr(fut.result(), "teardown_suite"):
                    try:
                        await ops.call(fut.result().teardown_suite)
                    except BaseException as exc:  # noqa: BLE001
                        errors.append((f"{cls.__name__}::teardown_suite", exc))
            errors += await ops.teardown(state.scope)
            module = state.module
            if state.module_setup is not None and state.module_setup.exception() is None:
                teardown = state.teardown_module
                if teardown is not None:
                    try:
                        await ops.call(_call_optional, teardown, module)
                    except BaseException as exc:  # noqa: BLE001
                        errors.append(("teardown_module", exc))
        finally:
            _capture.current.reset(token)
        self._forget_items(state)
        texts = cap.finish()
        return [_teardown_error(rel, name, exc, texts) for name, exc in errors]

    def _forget_items(self, state: _FileState) -> None:
        with self._lock:
            # The file's items are done with; free them (a long run should not grow).
            for key in state.keys:
                self.items[key] = None  # type: ignore[call-overload]

    async def finish_session_async(self) -> list[dict[str, Any]]:
        return await self._finish_session(self._async_ops)

    def finish_session_sync(self) -> list[dict[str, Any]]:
        """The session's teardown on the calling thread: the thread the tests that ran one
        at a time used, where their session fixtures were made."""
        trace_this_thread()
        return run_inline(self._finish_session(self._sync_ops))

    async def _finish_session(self, ops: Any) -> list[dict[str, Any]]:
        _capture.idle()
        cap, token = _capture.start("<session>", is_test=False)
        try:
            errors = []
            for scope in reversed(list(self.packages.values())):
                errors += await ops.teardown(scope)
            errors += await ops.teardown(self.session)
            errors += plugins.finish_session(self.config)
            # What conftests registered with config.add_cleanup, last first (as pytest).
            while self.config.cleanups:
                cleanup = self.config.cleanups.pop()
                try:
                    await ops.call(cleanup)
                except BaseException as exc:  # noqa: BLE001
                    errors.append(("config.add_cleanup", exc))
        finally:
            _capture.current.reset(token)
        texts = cap.finish()
        # Late output's last partial lines, before the run's summary is printed.
        _capture.flush_late()
        return [_teardown_error("<session>", name, exc, texts) for name, exc in errors]


class _WarningFilters:
    """pytest's `catch_warnings_for_item`: warnings are recorded (not printed), deprecation
    warnings always shown, then the configured filters, then the test's marks (nearest
    last, so it wins)."""

    def __init__(self, configured: list[str], marks: list[Any]) -> None:
        self._entries = (*configured, *(arg for mark in reversed(marks) for arg in mark.args))
        self._cm = warnings.catch_warnings(record=True)

    def __enter__(self) -> None:
        self._cm.__enter__()
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is None:  # a Python whose filters are kept otherwise: apply them one by one
            for args in _ALWAYS_DEPRECATION:
                warnings.filterwarnings(*args)
            for entry in self._entries:
                _apply_filter(entry)
            return
        # The same as applying them one by one (each goes first, replacing its equal), from a
        # block built once: this runs around every test of a file that runs alone.
        block = _filter_block(self._entries)
        warnings.filters = [*block, *(f for f in warnings.filters if f not in block)]
        mutated()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._cm.__exit__(kind, exc, tb)


_ALWAYS_DEPRECATION = (("always", "", DeprecationWarning), ("always", "", PendingDeprecationWarning))


@functools.lru_cache(maxsize=256)
def _filter_block(entries: tuple[str, ...]) -> tuple[Any, ...]:
    """The filters that pytest's deprecation defaults and `entries` put in front, in order."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for args in _ALWAYS_DEPRECATION:
            warnings.filterwarnings(*args)
        for entry in entries:
            _apply_filter(entry)
        return tuple(warnings.filters)


def _apply_filter(entry: str) -> None:
    warnings.filterwarnings(*_parsed_filter(entry))


@functools.lru_cache(maxsize=256)
def _parsed_filter(entry: str) -> tuple[Any, ...]:
    """A filter's arguments, parsed once: it is applied around every test of a file that runs
    alone."""
    try:
        from _pytest.config import parse_warning_filter

        return tuple(parse_warning_filter(entry, escape=False))
    except ImportError:
        pass
    parts = [p.strip() for p in entry.split(":")] + [""] * 5
    action, message, category, module, lineno = parts[:5]
    cat: type[Warning] = Warning
    if category:
        mod, _, name = category.rpartition(".")
        cat = getattr(__import__(mod or "builtins", fromlist=[name]), name)
    return (action or "default", message, cat, module, int(lineno or 0))


def _conftest_paths(conftests: list[ModuleType], name: str) -> list[Path]:
    """`name` of the innermost conftest that sets it, as paths (pytest's `_getconftest_pathlist`)."""
    for module in reversed(conftests):
        if not hasattr(module, name):
            continue
        entries = getattr(module, name)
        folder = Path(os.path.abspath(module.__file__ or ".")).parent
        return [
            Path(entry) if isinstance(entry, os.PathLike) else Path(os.path.abspath(folder / entry))
            for entry in entries
        ]
    return []


class _ConftestError(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"error in {path}")
        self.conftest_path = path


def _teardown_error(rel: str, name: str, exc: BaseException, texts: tuple[str, str, str]) -> dict[str, Any]:
    message, tb = _describe(exc)
    return {
        "id": f"{rel}::{name}",
        "name": name,
        "message": f"teardown of {name} failed: {message}",
        "traceback": tb,
        "stdout": texts[0],
        "stderr": texts[1],
        "log": texts[2],
    }


def _case(item: Item, key: int) -> dict[str, Any]:
    marks = item.marks
    return {
        "key": key,
        "name": item.name,
        "suite": item.suite_name,
        "params": item.param_id,
        "line": item.line,
        "tags": marks.tags,
        "skip": item.skip if item.skip is not None else marks.skip,
        "xfail": None if marks.xfail is None else {"reason": marks.xfail[0], "strict": marks.xfail[1]},
        "timeout": marks.timeout,
        "is_async": item.is_async,
        "concurrent": marks.concurrent,
        "retries": marks.retries,
        "serial": marks.serial,
        "exclusive": item.exclusive,
    }
