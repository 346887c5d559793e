"""The Python half of `dbtest unit`: the Rust runner calls these methods to import a file,
run one test (on a worker thread, or as a coroutine on the run's event loop) and tear down.

One protocol serves both kinds of test: `_run` is a coroutine whose awaits go through an
`_Ops` object. The async ops really await on the loop; the sync ops do their work inline and
never suspend, so a sync test drives the same coroutine to its end with a single `send`.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
from concurrent.futures import Future
from pathlib import Path
from time import perf_counter
from typing import Any, Callable

from . import _capture
from ._collect import Item, TestSuite, collect_module
from ._fixtures import FixtureDef, FixtureError, Resolver, Scope, fixtures_in, run_inline
from ._loader import add_to_sys_path, describe_import_error, import_file, load_as
from ._marks import Skipped

_PACKAGE_DIR = str(Path(__file__).resolve().parent)
_HIDDEN = (_PACKAGE_DIR, str(Path(asyncio.__file__).resolve().parent))


def _describe(exc: BaseException) -> tuple[str, str]:
    from ._failure import describe

    return describe(exc, hide_dirs=_HIDDEN)


def _is_skip(exc: BaseException) -> bool:
    kind = type(exc)
    return isinstance(exc, Skipped) or (kind.__name__ == "Skipped" and kind.__module__.startswith("_pytest"))


def _result(outcome: str, started: float, cap: _capture.Captured, message: str | None = None,
            tb: str | None = None) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "duration_s": perf_counter() - started,
        "message": message,
        "traceback": tb,
        "stdout": "".join(cap.out),
        "stderr": "".join(cap.err),
    }


class _Ops:
    """How a step that may be async is carried out: on the loop, or inline on a thread."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver


class _AsyncOps(_Ops):
    async def resolve(self, item: Item, scopes: dict[str, Scope]) -> dict[str, Any]:
        return await self.resolver.resolve_async(item.fixture_names, item.chain, scopes)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    async def wait(self, fut: Future[Any]) -> Any:
        return fut.result() if fut.done() else await asyncio.wrap_future(fut)

    async def call_test(self, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None) -> bool:
        """Runs the test body; True when it was stopped by its timeout."""
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
    async def resolve(self, item: Item, scopes: dict[str, Scope]) -> dict[str, Any]:
        return self.resolver.resolve_sync(item.fixture_names, item.chain, scopes)

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
        fn(**kwargs)
        return False

    async def teardown(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return self.resolver.teardown_sync(scope)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class _FileState:
    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.scope = Scope("file")
        self._lock = threading.Lock()
        self.suites: dict[type, Future[Any]] = {}
        self.keys: list[int] = []

    def claim_suite(self, cls: type) -> tuple[Future[Any], bool]:
        with self._lock:
            fut = self.suites.get(cls)
            if fut is not None:
                return fut, False
            fut = self.suites[cls] = Future()
            return fut, True


class Driver:
    """Created by the CLI on the event loop's thread; its methods are called by the Rust runner."""

    def __init__(self, loop: asyncio.AbstractEventLoop, root: str = ".") -> None:
        self.loop = loop
        self.root = root
        self.session = Scope("session")
        self.resolver = Resolver(loop, self.session)
        self._async_ops = _AsyncOps(self.resolver)
        self._sync_ops = _SyncOps(self.resolver)
        self.items: list[Item] = []
        self._running: dict[int, _capture.Captured] = {}
        self.files: dict[str, _FileState] = {}
        self._lock = threading.Lock()
        self._conftests: dict[str, dict[str, FixtureDef] | BaseException] = {}
        _capture.install()
        # What is loaded by now (dbtest, asyncio, the standard library) lives for the whole
        # run: keep it out of the collector's way, so collections triggered by tests stay cheap.
        gc.freeze()

    def close(self) -> None:
        _capture.uninstall()

    # --- collection (on a worker thread) ---------------------------------------------------

    def collect_file(
        self, path: str, rel: str, sys_path_entry: str, module_name: str, conftests: list[str]
    ) -> dict[str, Any]:
        try:
            chain = [self._conftest(c) for c in reversed(conftests)]
            module = import_file(path, sys_path_entry, module_name)
            items, own = collect_module(module)
        except BaseException as exc:  # noqa: BLE001 - any import failure is the file's error
            message, tb = describe_import_error(exc)
            return {"error": message, "traceback": tb}
        chain.insert(0, own)
        state = _FileState(rel)
        tests = []
        with self._lock:
            self.files[rel] = state
            for item in items:
                item.chain = chain
                item.file_key = rel
                key = len(self.items)
                self.items.append(item)
                state.keys.append(key)
                tests.append(_case(item, key))
        return {"tests": tests}

    def _conftest(self, path: str) -> dict[str, FixtureDef]:
        with self._lock:
            cached = self._conftests.get(path)
        if cached is None:
            try:
                add_to_sys_path(str(Path(path).parent))
                module = load_as(f"conftest__dbtest_{abs(hash(path)):x}", path)
                cached = fixtures_in(vars(module), path)
            except BaseException as exc:  # noqa: BLE001
                cached = exc
            with self._lock:
                cached = self._conftests.setdefault(path, cached)
        if isinstance(cached, BaseException):
            raise _ConftestError(path) from cached
        return cached

    # --- running one test -----------------------------------------------------------------

    def run_sync(self, key: int, timeout: float | None) -> dict[str, Any]:
        return run_inline(self._run(key, timeout, self._sync_ops))

    def run_async(self, key: int, timeout: float | None) -> Any:
        return self._run(key, timeout, self._async_ops)

    def partial_output(self, key: int) -> tuple[str, str]:
        """What a test still running (past its timeout) has printed so far."""
        cap = self._running.get(key)
        return ("".join(cap.out), "".join(cap.err)) if cap is not None else ("", "")

    async def _run(self, key: int, timeout: float | None, ops: Any) -> dict[str, Any]:
        item = self.items[key]
        cap = _capture.Captured()
        self._running[key] = cap
        token = _capture.current.set(cap)
        started = perf_counter()
        state = self.files[item.file_key]
        # Only fixtures use the test's scope: a test without them skips making one.
        scope = Scope("test") if item.fixture_names else None
        instance = None
        phase = "setup"
        outcome, message, tb = "passed", None, None
        verdict = None
        try:
            try:
                instance = await self._enter_suite(state, item, ops)
                call_kwargs = {}
                if scope is not None:
                    kwargs = await ops.resolve(item, {"test": scope, "file": state.scope, "session": self.session})
                    call_kwargs = {n: kwargs[n] for n in item.fixture_names if n not in item.marks.usefixtures}
                call_kwargs.update(item.params)
                fn = item.func.__get__(instance) if instance is not None else item.func
                phase = "call"
                if item.probabilistic is not None:
                    from ._experiment import run_probabilistic_test

                    judged = await run_probabilistic_test(fn, item.probabilistic, self.root)
                    outcome, message, verdict = judged["outcome"], judged["message"], judged["verdict"]
                elif await ops.call_test(fn, call_kwargs, timeout):
                    outcome, message = "timeout", f"timed out after {timeout:g}s"
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - a test may raise anything
                outcome, message, tb = self._classify(exc, phase)
            finally:
                errors = await self._leave_suite(item, instance, ops)
                if scope is not None:
                    errors += await ops.teardown(scope)
                if errors and outcome in ("passed", "skipped"):
                    name, exc = errors[0]
                    message, tb = _describe(exc)
                    outcome, message = "error", f"teardown of {name} failed: {message}"
            result = _result(outcome, started, cap, message, tb)
            if verdict is not None:
                result["verdict"] = verdict
            return result
        finally:
            _capture.current.reset(token)
            self._running.pop(key, None)

    @staticmethod
    def _classify(exc: BaseException, phase: str) -> tuple[str, str | None, str | None]:
        if _is_skip(exc):
            return "skipped", str(getattr(exc, "msg", None) or exc) or None, None
        message, tb = _describe(exc)
        if phase == "setup":
            if isinstance(exc, FixtureError):
                return "error", str(exc), None
            return "error", f"setup failed: {message}", tb
        return "failed", message, tb

    async def _enter_suite(self, state: _FileState, item: Item, ops: Any) -> Any:
        cls = item.suite
        if cls is None:
            return None
        if not issubclass(cls, TestSuite):
            # A plain pytest-style class: a fresh instance per test, pytest's method hooks.
            instance = cls()
            if hasattr(instance, "setup_method"):
                await ops.call(instance.setup_method, item.func)
            return instance
        fut, mine = state.claim_suite(cls)
        if mine:
            try:
                instance = cls()
                if hasattr(instance, "setup_suite"):
                    await ops.call(instance.setup_suite)
            except BaseException as exc:
                fut.set_exception(exc)
                raise
            fut.set_result(instance)
        instance = await ops.wait(fut)
        if hasattr(instance, "setup"):
            await ops.call(instance.setup)
        return instance

    async def _leave_suite(self, item: Item, instance: Any, ops: Any) -> list[tuple[str, BaseException]]:
        hook = "teardown" if isinstance(instance, TestSuite) else "teardown_method"
        if instance is None or not hasattr(instance, hook):
            return []
        try:
            args = () if hook == "teardown" else (item.func,)
            await ops.call(getattr(instance, hook), *args)
        except BaseException as exc:  # noqa: BLE001
            return [(f"{type(instance).__name__}::{hook}", exc)]
        return []

    # --- teardown (on the loop; a file with nothing to tear down, on its lane) ------------

    def finish_file_at_once(self, rel: str) -> bool:
        """Finishes the file here and now if it has nothing to tear down (no suites, no
        file-scoped fixtures): most files, spared a trip to the loop."""
        state = self.files.get(rel)
        if state is None:
            return True
        if state.suites or state.scope.finalizers:
            return False
        del self.files[rel]
        self._forget_items(state)
        return True

    async def finish_file(self, rel: str) -> list[dict[str, Any]]:
        state = self.files.pop(rel, None)
        if state is None:
            return []
        cap = _capture.Captured()
        token = _capture.current.set(cap)
        try:
            errors: list[tuple[str, BaseException]] = []
            for cls, fut in state.suites.items():
                if fut.done() and fut.exception() is None and hasattr(fut.result(), "teardown_suite"):
                    try:
                        await self._async_ops.call(fut.result().teardown_suite)
                    except BaseException as exc:  # noqa: BLE001
                        errors.append((f"{cls.__name__}::teardown_suite", exc))
            errors += await self.resolver.teardown_async(state.scope)
        finally:
            _capture.current.reset(token)
        self._forget_items(state)
        return [_teardown_error(rel, name, exc, cap) for name, exc in errors]

    def _forget_items(self, state: _FileState) -> None:
        with self._lock:
            # The file's items are done with; free them (a long run should not grow).
            for key in state.keys:
                self.items[key] = None  # type: ignore[call-overload]

    async def finish_session(self) -> list[dict[str, Any]]:
        cap = _capture.Captured()
        token = _capture.current.set(cap)
        try:
            errors = await self.resolver.teardown_async(self.session)
        finally:
            _capture.current.reset(token)
        return [_teardown_error("<session>", name, exc, cap) for name, exc in errors]


class _ConftestError(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"error in {path}")
        self.conftest_path = path


def _teardown_error(rel: str, name: str, exc: BaseException, cap: _capture.Captured) -> dict[str, Any]:
    message, tb = _describe(exc)
    return {
        "id": f"{rel}::{name}",
        "name": name,
        "message": f"teardown of {name} failed: {message}",
        "traceback": tb,
        "stdout": "".join(cap.out),
        "stderr": "".join(cap.err),
    }


def _case(item: Item, key: int) -> dict[str, Any]:
    marks = item.marks
    return {
        "key": key,
        "name": item.name,
        "suite": item.suite.__name__ if item.suite is not None else None,
        "params": item.param_id,
        "line": item.line,
        "tags": marks.tags,
        "skip": marks.skip,
        "xfail": None if marks.xfail is None else {"reason": marks.xfail[0], "strict": marks.xfail[1]},
        "timeout": marks.timeout,
        "is_async": item.is_async,
        "concurrent": marks.concurrent,
        "retries": marks.retries,
        "serial": marks.serial,
    }
