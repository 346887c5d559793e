"""Fixtures: definition, scopes, and setting them up from a test on a thread or on the loop."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from types import FunctionType
from typing import Any, Callable, Literal, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])
ScopeName = Literal["test", "file", "session"]
SCOPE_RANK = {"test": 0, "file": 1, "session": 2}
# pytest's scope names, so that plain pytest fixtures work unchanged.
_PYTEST_SCOPES = {"function": "test", "class": "file", "module": "file", "package": "session", "session": "session"}


class FixtureError(Exception):
    """A fixture could not be found or set up; the test is reported as `error`."""


def required_params(func: Callable[..., Any]) -> list[str]:
    """The parameters of `func` without a default: the fixtures it asks for."""
    if type(func) is FunctionType and not hasattr(func, "__wrapped__"):
        # Read off the code object: inspect.signature costs more than a trivial test.
        code = func.__code__
        positional = code.co_varnames[: code.co_argcount]
        defaults = len(func.__defaults__ or ())
        kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        kwdefaults = func.__kwdefaults__ or {}
        return [*positional[: len(positional) - defaults], *(k for k in kwonly if k not in kwdefaults)]
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


class FixtureDef:
    __slots__ = ("name", "func", "scope", "argnames", "is_async", "is_generator", "origin")

    def __init__(self, name: str, func: Callable[..., Any], scope: ScopeName, origin: str = "") -> None:
        if scope not in SCOPE_RANK:
            raise ValueError(f"fixture {name!r}: scope {scope!r} is not one of 'test', 'file', 'session'")
        self.name = name
        self.func = func
        self.scope = scope
        self.argnames = required_params(func)
        self.is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
        self.is_generator = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
        self.origin = origin

    def __repr__(self) -> str:
        return f"<fixture {self.name} scope={self.scope}>"


_ATTR = "__dbtest_fixture__"


@overload
def fixture(func: F) -> F: ...
@overload
def fixture(*, scope: ScopeName = "test", name: str | None = None) -> Callable[[F], F]: ...
def fixture(func: Any = None, *, scope: ScopeName = "test", name: str | None = None) -> Any:
    """Declare a fixture: tests get its value by naming it as a parameter. A generator fixture
    runs the code after `yield` as teardown, whatever the test's outcome."""

    def apply(f: F) -> F:
        setattr(f, _ATTR, FixtureDef(name or f.__name__, f, scope))
        return f

    return apply(func) if func is not None else apply


def fixture_def(name: str, obj: Any) -> FixtureDef | None:
    """The fixture `obj` declares, if any (dbtest's own, or pytest's)."""
    found = getattr(obj, _ATTR, None)
    if isinstance(found, FixtureDef):
        return found
    marker = getattr(obj, "_fixture_function_marker", None) or getattr(obj, "_pytestfixturefunction", None)
    if marker is not None:
        func = getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", obj)
        scope = _PYTEST_SCOPES.get(str(getattr(marker, "scope", "function")), "test")
        return FixtureDef(getattr(marker, "name", None) or name, func, scope)  # type: ignore[arg-type]
    return None


def fixtures_in(namespace: dict[str, Any], origin: str) -> dict[str, FixtureDef]:
    found: dict[str, FixtureDef] = {}
    for key, value in namespace.items():
        if callable(value):
            fdef = fixture_def(key, value)
            if fdef is not None:
                fdef.origin = origin
                found[fdef.name] = fdef
    return found


class Scope:
    """The fixture values of one scope instance (a test, a file, the session) and their
    teardowns. Values are futures so that tests on other threads or tasks asking for the same
    fixture at the same time wait for one set-up instead of making two."""

    def __init__(self, name: ScopeName) -> None:
        self.name = name
        self._values: dict[FixtureDef, Future[Any]] = {}
        self._lock = threading.Lock()
        self.finalizers: list[tuple[str, Any]] = []

    def claim(self, fdef: FixtureDef) -> tuple[Future[Any], bool]:
        """The future of `fdef`'s value, and whether the caller must set it up."""
        with self._lock:
            fut = self._values.get(fdef)
            if fut is not None:
                return fut, False
            fut = Future()
            self._values[fdef] = fut
            return fut, True

    def take_finalizers(self) -> list[tuple[str, Any]]:
        with self._lock:
            found, self.finalizers = self.finalizers, []
            self._values.clear()
            return found

    def add_finalizer(self, name: str, gen: Any) -> None:
        with self._lock:
            self.finalizers.append((name, gen))


async def _anext(gen: Any) -> Any:
    return await gen.__anext__()


def run_inline(coro: Any) -> Any:
    """Runs a coroutine whose awaits all complete at once (it never suspends) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("dbtest: a coroutine meant to run inline suspended; this is a bug in dbtest")


def _tmp_path() -> Any:
    path = Path(tempfile.mkdtemp(prefix="dbtest-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


BUILTIN_FIXTURES = {"tmp_path": FixtureDef("tmp_path", _tmp_path, "test", origin="dbtest")}


class Resolver:
    """Finds fixtures by name along a lookup chain and sets them up in the right scope."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session: Scope) -> None:
        self.loop = loop
        self.session = session

    @staticmethod
    def lookup(name: str, chain: list[dict[str, FixtureDef]]) -> FixtureDef:
        for table in chain:
            found = table.get(name)
            if found is not None:
                return found
        found = BUILTIN_FIXTURES.get(name)
        if found is not None:
            return found
        available = sorted({n for table in chain for n in table} | set(BUILTIN_FIXTURES))
        raise FixtureError(
            f"fixture {name!r} not found; available fixtures: {', '.join(available) or '(none)'}; "
            "define it with @dbtest.fixture in the test file or a conftest.py"
        )

    def _scope_for(self, fdef: FixtureDef, scopes: dict[str, Scope], needed_by: FixtureDef | None) -> Scope:
        if needed_by is not None and SCOPE_RANK[fdef.scope] < SCOPE_RANK[needed_by.scope]:
            raise FixtureError(
                f"fixture {needed_by.name!r} (scope {needed_by.scope}) cannot use {fdef.name!r} "
                f"(scope {fdef.scope}): a fixture may only use fixtures of the same or a wider scope"
            )
        return scopes[fdef.scope]

    # --- on the event loop (async tests) ---------------------------------------------------

    async def resolve_async(
        self, names: list[str], chain: list[dict[str, FixtureDef]], scopes: dict[str, Scope]
    ) -> dict[str, Any]:
        return {n: await self._get_async(n, chain, scopes, None, ()) for n in names}

    async def _get_async(self, name, chain, scopes, needed_by, path) -> Any:
        fdef = self._check_cycle(name, chain, path)
        scope = self._scope_for(fdef, scopes, needed_by)
        fut, mine = scope.claim(fdef)
        if not mine:
            return fut.result() if fut.done() else await asyncio.wrap_future(fut)
        try:
            kwargs = {d: await self._get_async(d, chain, scopes, fdef, path + (name,)) for d in fdef.argnames}
            value = await self._create_async(fdef, kwargs, scope)
        except BaseException as e:
            fut.set_exception(e)
            raise
        fut.set_result(value)
        return value

    async def _create_async(self, fdef: FixtureDef, kwargs: dict[str, Any], scope: Scope) -> Any:
        result = fdef.func(**kwargs)
        if inspect.isasyncgen(result):
            value = await result.__anext__()
            scope.add_finalizer(fdef.name, result)
            return value
        if inspect.isgenerator(result):
            value = next(result)
            scope.add_finalizer(fdef.name, result)
            return value
        if inspect.isawaitable(result):
            return await result
        return result

    # --- on a worker thread (sync tests) ---------------------------------------------------

    def resolve_sync(
        self, names: list[str], chain: list[dict[str, FixtureDef]], scopes: dict[str, Scope]
    ) -> dict[str, Any]:
        return {n: self._get_sync(n, chain, scopes, None, ()) for n in names}

    def _get_sync(self, name, chain, scopes, needed_by, path) -> Any:
        fdef = self._check_cycle(name, chain, path)
        scope = self._scope_for(fdef, scopes, needed_by)
        fut, mine = scope.claim(fdef)
        if not mine:
            return fut.result()
        try:
            kwargs = {d: self._get_sync(d, chain, scopes, fdef, path + (name,)) for d in fdef.argnames}
            if fdef.is_async:
                # Async fixtures live on the run's one loop, whoever asks for them.
                value = asyncio.run_coroutine_threadsafe(
                    self._create_async(fdef, kwargs, scope), self.loop
                ).result()
            else:
                result = fdef.func(**kwargs)
                if inspect.isgenerator(result):
                    value = next(result)
                    scope.add_finalizer(fdef.name, result)
                else:
                    value = result
        except BaseException as e:
            fut.set_exception(e)
            raise
        fut.set_result(value)
        return value

    def _check_cycle(self, name: str, chain, path: tuple[str, ...]) -> FixtureDef:
        if name in path:
            raise FixtureError(f"fixture cycle: {' -> '.join(path + (name,))}")
        return self.lookup(name, chain)

    # --- teardown ------------------------------------------------------------------------

    async def teardown_async(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return await self._teardown(scope, _anext)

    def teardown_sync(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return run_inline(self._teardown(scope, self._anext_on_loop))

    async def _teardown(self, scope: Scope, anext: Callable[[Any], Any]) -> list[tuple[str, BaseException]]:
        """Runs the scope's finalizers, last set up first; `anext` steps an async generator."""
        errors = []
        for name, gen in reversed(scope.take_finalizers()):
            try:
                if inspect.isasyncgen(gen):
                    await anext(gen)
                else:
                    next(gen)
                errors.append((name, FixtureError(f"fixture {name!r} yielded more than once")))
            except (StopIteration, StopAsyncIteration):
                pass
            except BaseException as e:
                errors.append((name, e))
        return errors

    async def _anext_on_loop(self, gen: Any) -> Any:
        """Steps an async generator for a thread other than the loop's: on the loop, waited
        for here (so this never suspends)."""
        return asyncio.run_coroutine_threadsafe(_anext(gen), self.loop).result()
