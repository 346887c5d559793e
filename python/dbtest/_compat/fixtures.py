"""Fixtures: definition, scopes, and setting them up for a test on a thread or on the loop.

The model is pytest's (DESIGN section 4b): scopes function (dbtest's "test"), class, module
("file"), package and session; `params` (one test per value, `request.param`), `autouse`,
overriding by name (a fixture may ask for the one it overrides), fixtures defined in test
classes, and `request`. dbtest's own `@dbtest.fixture` is the same model with its own names.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import FunctionType
from typing import Any, Literal, TypeVar, overload

from .._errors import FixtureError
from . import served

__all__ = ["FixtureError"]

F = TypeVar("F", bound=Callable[..., Any])
ScopeName = Literal["test", "class", "file", "package", "session"]
SCOPES: tuple[ScopeName, ...] = ("test", "class", "file", "package", "session")
SCOPE_RANK = {name: rank for rank, name in enumerate(SCOPES)}
# pytest's scope names, so that plain pytest fixtures work unchanged.
PYTEST_SCOPES: dict[str, ScopeName] = {
    "function": "test", "class": "class", "module": "file", "package": "package", "session": "session",
    "test": "test", "file": "file",
}
_PYTEST_NAMES = {"test": "function", "class": "class", "file": "module", "package": "package", "session": "session"}


def _mock_patch_args(func: Any) -> int:
    """How many leading arguments `@mock.patch` decorators fill in (they are not fixtures)."""
    patchings = getattr(func, "patchings", None)
    if not patchings:
        return 0
    defaults = []
    for name in ("mock", "unittest.mock"):
        module = __import__("sys").modules.get(name)
        if module is not None and hasattr(module, "DEFAULT"):
            defaults.append(module.DEFAULT)
    return len([p for p in patchings if not p.attribute_name and any(p.new is d for d in defaults)])


def required_params(func: Callable[..., Any], bound: bool = False) -> list[str]:
    """The parameters of `func` without a default: the fixtures it asks for (as pytest's
    getfuncargnames: without `self` when `bound`, without those `mock.patch` fills in)."""
    if type(func) is FunctionType and not hasattr(func, "__wrapped__"):
        # Read off the code object: inspect.signature costs more than a trivial test.
        code = func.__code__
        positional = code.co_varnames[: code.co_argcount]
        defaults = len(func.__defaults__ or ())
        kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        kwdefaults = func.__kwdefaults__ or {}
        names = [*positional[: len(positional) - defaults], *(k for k in kwonly if k not in kwdefaults)]
        if bound and positional and code.co_posonlyargcount == 0:
            names = names[1:]
        return names
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return []
    names = [
        p.name
        for p in params
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if bound and not inspect.ismethod(func) and not any(p.kind is p.POSITIONAL_ONLY for p in params):
        names = names[1:]
    if hasattr(func, "__wrapped__"):
        names = names[_mock_patch_args(func) :]
    return names


class FixtureDef:
    __slots__ = (
        "argnames",
        "autouse",
        "func",
        "ids",
        "in_class",
        "is_async",
        "is_generator",
        "name",
        "origin",
        "params",
        "scope",
    )

    def __init__(
        self,
        name: str,
        func: Callable[..., Any],
        scope: str,
        origin: str = "",
        *,
        params: list[Any] | None = None,
        ids: Any = None,
        autouse: bool = False,
        in_class: bool = False,
    ) -> None:
        normal = PYTEST_SCOPES.get(scope) if isinstance(scope, str) else None
        if normal is None:
            raise ValueError(
                f"fixture {name!r}: scope {scope!r} is not one of 'test', 'file', 'session' "
                "(or pytest's 'function', 'class', 'module', 'package', 'session')"
            )
        self.name = name
        self.func = func
        self.scope: ScopeName = normal
        self.in_class = in_class
        self.argnames = required_params(func, bound=in_class)
        unwrapped = inspect.unwrap(func)
        self.is_async = inspect.iscoroutinefunction(unwrapped) or inspect.isasyncgenfunction(unwrapped)
        self.is_generator = inspect.isgeneratorfunction(unwrapped) or inspect.isasyncgenfunction(unwrapped)
        self.origin = origin
        self.params = list(params) if params is not None else None
        self.ids = ids
        self.autouse = autouse

    @property
    def pytest_scope(self) -> str:
        return _PYTEST_NAMES[self.scope]

    def __repr__(self) -> str:
        return f"<fixture {self.name} scope={self.scope}>"


_ATTR = "__dbtest_fixture__"


@overload
def fixture(func: F) -> F: ...
@overload
def fixture(
    *, scope: str = "test", name: str | None = None, params: list[Any] | None = None, autouse: bool = False,
    ids: Any = None,
) -> Callable[[F], F]: ...
def fixture(
    func: Any = None, *, scope: str = "test", name: str | None = None, params: list[Any] | None = None,
    autouse: bool = False, ids: Any = None,
) -> Any:
    """Declare a fixture: tests get its value by naming it as a parameter. A generator fixture
    runs the code after `yield` as teardown, whatever the test's outcome."""

    def apply(f: F) -> F:
        setattr(f, _ATTR, FixtureDef(name or f.__name__, f, scope, params=params, autouse=autouse, ids=ids))
        return f

    return apply(func) if func is not None else apply


def fixture_def(name: str, obj: Any, in_class: bool = False) -> FixtureDef | None:
    """The fixture `obj` declares, if any (dbtest's own, or pytest's)."""
    found = getattr(obj, _ATTR, None) if not isinstance(obj, type) else None
    if isinstance(found, FixtureDef):
        if in_class and not found.in_class:
            found = FixtureDef(found.name, found.func, found.scope, params=found.params, ids=found.ids,
                               autouse=found.autouse, in_class=True)
        return found
    marker = _pytest_fixture_marker(obj)
    if marker is None:
        return None
    func = getattr(obj, "_fixture_function", None) or getattr(obj, "__wrapped__", obj)
    if isinstance(func, staticmethod):
        in_class = False  # bound to nothing: pytest passes it no instance
    if isinstance(func, (staticmethod, classmethod)):
        func = func.__func__
    scope = getattr(marker, "scope", "function")
    if callable(scope):
        scope = "function"
    params = getattr(marker, "params", None)
    return FixtureDef(
        getattr(marker, "name", None) or name,
        func,
        str(scope),
        params=list(params) if params is not None else None,
        ids=getattr(marker, "ids", None),
        autouse=bool(getattr(marker, "autouse", False)),
        in_class=in_class,
    )


def _pytest_fixture_marker(obj: Any) -> Any:
    """pytest's marker on a `@pytest.fixture` function, as its `getfixturemarker` decides:
    only an instance of its marker type counts, since an object whose `__getattr__` answers
    every name (`unittest.mock.call`, `sqlalchemy.func`) has the attribute too."""
    pytest_fixtures = sys.modules.get("_pytest.fixtures")
    if pytest_fixtures is None or isinstance(obj, type):
        return None  # a pytest fixture exists only once pytest is imported
    marker_type = getattr(pytest_fixtures, "FixtureFunctionMarker", None)
    if marker_type is None:
        return None
    for attr in ("_fixture_function_marker", "_pytestfixturefunction"):  # pytest >= 8.4, older
        try:
            marker = getattr(obj, attr, None)
        except Exception:  # noqa: BLE001, S112 - pytest's safe_getattr: a raising __getattr__ is no marker
            continue
        if isinstance(marker, marker_type):
            return marker
    return None


def fixtures_in(namespace: dict[str, Any], origin: str, in_class: bool = False) -> dict[str, FixtureDef]:
    found: dict[str, FixtureDef] = {}
    for key, value in list(namespace.items()):
        if callable(value) or isinstance(value, (staticmethod, classmethod)):
            fdef = fixture_def(key, value, in_class)
            if fdef is not None:
                fdef.origin = origin
                found[fdef.name] = fdef
    return found


class Scope:
    """The fixture values of one scope instance (a test, a class, a file, a package, the
    session) and their teardowns. Values are futures so that tests on other threads or tasks
    asking for the same fixture at the same time wait for one set-up instead of making two."""

    def __init__(self, name: ScopeName) -> None:
        self.name = name
        self._values: dict[Any, Future[Any]] = {}
        self._lock = threading.Lock()
        self.finalizers: list[tuple[str, Any]] = []
        # What set each finalizer up (a fixture's cache key), to tear one fixture down alone.
        self._owners: list[Any] = []
        # The parameter each parametrized fixture holds now: pytest keeps one at a time.
        self._params: dict[int, int] = {}
        # The context variables each value's set-up set: every test that gets the value sees them.
        self.context_changes: dict[Any, ContextChanges] = {}

    def claim(self, key: Any) -> tuple[Future[Any], bool]:
        """The future of the value under `key`, and whether the caller must set it up."""
        with self._lock:
            fut = self._values.get(key)
            if fut is not None:
                return fut, False
            fut = Future()
            self._values[key] = fut
            return fut, True

    def take_finalizers(self) -> list[tuple[str, Any]]:
        with self._lock:
            found, self.finalizers, self._owners = self.finalizers, [], []
            self._values.clear()
            self._params.clear()
            self.context_changes.clear()
            return found

    def add_finalizer(self, name: str, gen: Any, owner: Any = None) -> None:
        """`gen`: a fixture's generator (stepped once more) or a plain callable."""
        with self._lock:
            self.finalizers.append((name, gen))
            self._owners.append(owner)

    def switch_param(self, fixture: int, index: int) -> list[tuple[str, Any]]:
        """Makes `index` the parameter `fixture` holds in this scope; the finalizers of the
        value it held for another parameter, which the caller must run first (pytest tears a
        parametrized fixture down before it sets it up with its next parameter)."""
        with self._lock:
            held = self._params.get(fixture)
            self._params[fixture] = index
            if held is None or held == index:
                return []
            stale_key = (fixture, held)
            self._values.pop(stale_key, None)
            self.context_changes.pop(stale_key, None)
            keep = [(f, o) for f, o in zip(self.finalizers, self._owners, strict=True) if o != stale_key]
            stale = [f for f, o in zip(self.finalizers, self._owners, strict=True) if o == stale_key]
            self.finalizers = [f for f, _ in keep]
            self._owners = [o for _, o in keep]
            return stale


ContextChanges = list[tuple[contextvars.ContextVar[Any], Any]]
# Steps an async generator (in the context given, if one is), on the loop or from a thread.
Stepper = Callable[[Any, "contextvars.Context | None"], Any]


async def _anext(gen: Any, context: contextvars.Context | None = None) -> Any:
    """Steps an async generator; in `context` when given (a fixture's own: see `_InContext`)."""
    if context is None:
        return await gen.__anext__()
    _take_runner_state(context)
    return await asyncio.create_task(_step(gen), context=context)


def _take_runner_state(context: contextvars.Context) -> None:
    """Gives a fixture's own context dbtest's state of the caller: what its teardown prints
    belongs to the teardown running now (a file's, the session's), not to the test that set
    the fixture up, and caplog sees the phase of now."""
    from .. import _capture

    state: list[contextvars.ContextVar[Any]] = [_capture.current]
    builtins = sys.modules.get("dbtest._compat.builtins")
    if builtins is not None:
        state.append(builtins.phase)
    for var in state:
        context.run(var.set, var.get())


async def _step(gen: Any) -> Any:
    return await gen.__anext__()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class _InContext:
    """A generator fixture's teardown (its generator, or a finalizer its set-up added), with
    the context its set-up ran in: both run in that one context (pytest-asyncio's rule), so a
    context variable reset with the token its set-up got works, whichever test, task or
    thread tears the fixture down."""

    __slots__ = ("context", "gen")

    def __init__(self, gen: Any, context: contextvars.Context) -> None:
        self.gen = gen
        self.context = context


def context_changes(context: contextvars.Context) -> ContextChanges:
    """The variables `context` holds with another value than the current context: what a
    fixture's set-up, run in a copy of the current context, set."""
    changed: ContextChanges = []
    for var, value in context.items():
        try:
            if var.get() is value:
                continue
        except LookupError:
            pass
        changed.append((var, value))
    return changed


def _gets_fixtures_by_name(func: Callable[..., Any]) -> bool:
    """Whether the fixture function calls `request.getfixturevalue` (read off its code)."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    return code is not None and "getfixturevalue" in code.co_names


def _async_in_reach(chain: Chain) -> bool:
    """Whether a test with this lookup chain can see an async fixture (else a fixture that
    asks for one by name stays on the loop's thread, where its values are made otherwise)."""
    return any(fdef.is_async for table in chain for fdef in table.values())


def run_inline(coro: Any) -> Any:
    """Runs a coroutine whose awaits all complete at once (it never suspends) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("dbtest: a coroutine meant to run inline suspended; this is a bug in dbtest")


def _builtin_table() -> dict[str, FixtureDef]:
    from .benchmark import FIXTURES
    from .builtins import BUILTINS

    table = {**BUILTINS, **FIXTURES}
    own = {name: FixtureDef(name, func, scope, origin="dbtest") for name, (func, scope) in table.items()}
    return {**own, **served.fixtures()}


_BUILTINS: dict[str, FixtureDef] | None = None


def builtin_fixtures() -> dict[str, FixtureDef]:
    global _BUILTINS
    if _BUILTINS is None:
        _BUILTINS = _builtin_table()
    return _BUILTINS


_PROCESS_WIDE: frozenset[str] | None = None


def process_wide() -> frozenset[str]:
    """Fixtures whose tests run with nothing beside them: they patch what the whole process
    shares, or (`benchmark`) time code, which is never done beside other work."""
    global _PROCESS_WIDE
    if _PROCESS_WIDE is None:
        from .builtins import PROCESS_WIDE

        _PROCESS_WIDE = PROCESS_WIDE | {"benchmark"}
    return _PROCESS_WIDE


Chain = list[dict[str, FixtureDef]]

_plugin_fixtures: dict[str, str] | None = None


def plugin_providing(name: str) -> str | None:
    """The installed pytest plugin (a `pytest11` entry point) that defines fixture `name`,
    if one does: named when a test asks for a fixture only a plugin provides. Looked up only
    then, since it imports every plugin module."""
    global _plugin_fixtures
    if _plugin_fixtures is None:
        _plugin_fixtures = {}
        from importlib.metadata import entry_points

        for ep in entry_points(group="pytest11"):
            try:
                module = __import__(ep.value.split(":")[0], fromlist=["_"])
            except BaseException:  # noqa: BLE001, S112 - a plugin that cannot be imported provides nothing
                continue
            dist = getattr(ep, "dist", None)
            label = f"{dist.name} ({ep.value})" if dist is not None else ep.value
            for fixture_name in fixtures_in(vars(module), ep.value):
                _plugin_fixtures.setdefault(fixture_name, label)
    return _plugin_fixtures.get(name)


def lookup(name: str, chain: Chain, below: FixtureDef | None = None) -> FixtureDef | None:
    """The fixture `name` nearest the test along `chain` (nearest table first, built-ins
    last); with `below`, the one that `below` overrides (a fixture asking for its own name)."""
    start = 0
    if below is not None:
        for i, table in enumerate(chain):
            if table.get(below.name) is below:
                start = i + 1
                break
    for table in chain[start:]:
        found = table.get(name)
        if found is not None and found is not below:
            return found
    found = builtin_fixtures().get(name)
    return found if found is not below else None


def autouse_names(chain: Chain) -> list[str]:
    """The autouse fixtures a test sees, outermost first (as pytest orders them)."""
    names: list[str] = []
    for table in reversed(chain):
        for fdef in table.values():
            if fdef.autouse and fdef.name not in names:
                names.append(fdef.name)
    return names


def _depth_first() -> bool:
    """Whether the fixture closure is walked depth first, as pytest 9 does (7.x and 8.x walk
    it breadth first). The installed pytest decides; a suite that never imported it (dbtest's
    own fixtures) gets the newest rule."""
    fixtures_module = sys.modules.get("_pytest.fixtures")
    return fixtures_module is None or hasattr(fixtures_module, "traverse_fixture_closure")


def closure(initial: list[str], chain: Chain, direct: set[str]) -> tuple[list[str], list[FixtureDef]]:
    """Every fixture name a test needs, in pytest's order (`getfixtureclosure`: its initial
    names and what they need, walked as the installed pytest walks them, then wider scopes
    first), and the definitions found for them (overrides followed). The order decides the
    order of the parts of a test's id that fixture params give."""
    names, defs = _closure_depth_first(initial, chain, direct) if _depth_first() else _closure_breadth_first(
        initial, chain, direct)

    def rank(name: str) -> int:
        fdef = None if name in direct else lookup(name, chain)
        return SCOPE_RANK[fdef.scope] if fdef is not None else 0

    names.sort(key=rank, reverse=True)  # stable: names of one scope keep the walk's order
    return names, defs


def _override_chain(name: str, chain: Chain) -> list[FixtureDef]:
    """The definitions of `name`, nearest first: each one below overrides the next."""
    found: list[FixtureDef] = []
    fdef = lookup(name, chain)
    while fdef is not None and fdef not in found:
        found.append(fdef)
        fdef = lookup(name, chain, below=fdef)
    return found


def _closure_depth_first(initial: list[str], chain: Chain, direct: set[str]) -> tuple[list[str], list[FixtureDef]]:
    """pytest 9's `traverse_fixture_closure`: each name once, where it is first reached; a
    fixture asking for its own name reaches the definition it overrides."""
    names: dict[str, None] = {}
    defs: list[FixtureDef] = []
    depth: dict[str, int] = {}  # how far down its override chain a name is being walked

    def visit(name: str) -> None:
        level = depth.get(name)
        if level == 0:
            return
        if level is None:
            names[name] = None
            depth[name] = level = 0
        if name in direct or name == "request":
            return
        found = _override_chain(name, chain)
        if level >= len(found):
            return
        fdef = found[level]
        if fdef not in defs:
            defs.append(fdef)
        depth[name] = level + 1
        for arg in fdef.argnames:
            visit(arg)
        depth[name] = level

    for name in initial:
        visit(name)
    return list(names), defs


def _closure_breadth_first(initial: list[str], chain: Chain, direct: set[str]) -> tuple[list[str], list[FixtureDef]]:
    """pytest 7's and 8's walk: initial names, then what they need, level by level."""
    names = list(dict.fromkeys(initial))
    defs: list[FixtureDef] = []
    seen_defs: set[int] = set()
    i = 0
    while i < len(names):
        name = names[i]
        i += 1
        if name in direct or name == "request":
            continue
        fdef = lookup(name, chain)
        while fdef is not None and id(fdef) not in seen_defs:
            seen_defs.add(id(fdef))
            defs.append(fdef)
            for arg in fdef.argnames:
                if arg not in names:
                    names.append(arg)
            # A fixture that asks for its own name uses the one it overrides.
            fdef = lookup(name, chain, below=fdef) if name in fdef.argnames else None
    return names, defs


class SubRequest:
    """`request` as a fixture (or the test) sees it: the test's node and config, and for a
    fixture its `param`, scope and finalizers."""

    def __init__(self, test: TestRequest, fdef: FixtureDef | None, scope: Scope | None,
                 param: Any = None, param_index: int = 0, has_param: bool = False) -> None:
        self._test = test
        self._fdef = fdef
        self._scope = scope
        self.param_index = param_index
        if has_param:
            self.param = param
        self.fixturename = fdef.name if fdef is not None else None
        self._key = None if fdef is None else ((id(fdef), param_index) if has_param else id(fdef))
        # The context the fixture's set-up runs in, when it has one of its own (see `_start`).
        self.context: contextvars.Context | None = None

    @property
    def node(self) -> Any:
        return self._test.node

    @property
    def config(self) -> Any:
        return self._test.config

    @property
    def scope(self) -> str:
        return self._fdef.pytest_scope if self._fdef is not None else "function"

    @property
    def function(self) -> Any:
        return self._test.node.function

    @property
    def cls(self) -> Any:
        return self._test.node.cls

    @property
    def instance(self) -> Any:
        return self._test.instance

    @property
    def module(self) -> Any:
        return self._test.node.module

    @property
    def path(self) -> Any:
        return self._test.node.path

    @property
    def fspath(self) -> Any:
        return self._test.node.fspath

    @property
    def keywords(self) -> Any:
        return self._test.node.keywords

    @property
    def session(self) -> Any:
        return self._test.node.session

    @property
    def fixturenames(self) -> list[str]:
        return list(self._test.node.fixturenames)

    def applymarker(self, marker: Any) -> None:
        self._test.node.add_marker(marker)

    def addfinalizer(self, finalizer: Callable[[], Any]) -> None:
        scope = self._scope if self._scope is not None else self._test.scopes["test"]
        owner = self._key
        found = finalizer if self.context is None else _InContext(finalizer, self.context)
        scope.add_finalizer(self.fixturename or "request.addfinalizer", found, owner)

    def getfixturevalue(self, argname: str) -> Any:
        return self._test.getfixturevalue(argname)

    def raiseerror(self, msg: str | None) -> None:
        raise FixtureError(msg or "fixture error")

    def __repr__(self) -> str:
        return f"<SubRequest {self.fixturename!r} for {self._test.node!r}>"


class TestRequest:
    """Everything one test's fixture set-up needs: where to look, what scopes to use, the
    parameters of its call, and the `request` of the test itself."""

    __test__ = False

    def __init__(self, resolver: Resolver, node: Any, chain: Chain, scopes: dict[str, Scope],
                 callspec: Any, instance: Any, sync: bool) -> None:
        self.resolver = resolver
        self.node = node
        self.config = node.config if node is not None else None
        self.chain = chain
        self.scopes = scopes
        self.callspec = callspec
        self.instance = instance
        self.sync = sync
        self.values: dict[str, Any] = {}
        self._context_tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []

    def see_context(self, changes: ContextChanges) -> None:
        """Sets what a fixture's set-up set in the caller's context: the test sees the context
        its fixtures made, as under pytest-asyncio."""
        for var, value in changes:
            self._context_tokens.append((var, var.set(value)))

    def restore_context(self) -> None:
        """Undoes `see_context` once the test is torn down (a thread's context outlives it)."""
        while self._context_tokens:
            var, token = self._context_tokens.pop()
            try:
                var.reset(token)
            except ValueError:
                pass  # set in another context (a fixture set up on a thread): nothing to undo here

    def direct(self, name: str) -> tuple[bool, Any]:
        spec = self.callspec
        if spec is not None and name in spec.params and name not in spec.indirect:
            return True, spec.params[name]
        return False, None

    def getfixturevalue(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        on_loop = self.resolver.on_loop_thread()
        value = run_inline(self.resolver.get(name, self, None, (), sync=True, on_loop=on_loop))
        self.values[name] = value
        return value


class Resolver:
    """Finds fixtures along a lookup chain and sets them up in their scopes. One coroutine
    does it for both kinds of test: on the loop it really awaits; for a sync test (`sync`)
    every step completes inline, so it is driven to its end with a single `send`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, session: Scope) -> None:
        self.loop = loop
        self.session = session

    @staticmethod
    def on_loop_thread() -> bool:
        """Whether the caller runs on the event loop (inside a coroutine test or fixture)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    @staticmethod
    def not_found(name: str, chain: Chain) -> FixtureError:
        plugin = plugin_providing(name)
        if plugin is not None:
            from .plugins import served_by_engine

            served = served_by_engine(plugin.rsplit("(", 1)[-1].rstrip(")").split(":")[0])
            why = (f"its job is dbtest's engine ({served.how}), which does not provide this fixture"
                   if served is not None else "it is not loaded in this run (-p no:, or it failed to import: "
                   "see the warnings above)")
            return FixtureError(f"fixture {name!r} comes from the pytest plugin {plugin}, and {why}")
        available = sorted({n for table in chain for n in table} | set(builtin_fixtures()) | {"request"})
        return FixtureError(
            f"fixture {name!r} not found; available fixtures: {', '.join(available)}; "
            "define it with @dbtest.fixture or @pytest.fixture in the test file or a conftest.py"
        )

    async def resolve(self, names: list[str], request: TestRequest) -> dict[str, Any]:
        out = {}
        for name in names:
            value = await self.get(name, request, None, (), sync=request.sync)
            request.values[name] = value
            out[name] = value
        return out

    async def get(self, name: str, request: TestRequest, needed_by: FixtureDef | None,
                  path: tuple[tuple[str, int], ...], *, sync: bool, on_loop: bool = False) -> Any:
        if name == "request":
            return SubRequest(request, needed_by, None) if needed_by is not None else SubRequest(request, None, None)
        below = needed_by if needed_by is not None and needed_by.name == name else None
        if below is None:
            is_direct, value = request.direct(name)
            if is_direct:
                return value
        fdef = lookup(name, request.chain, below)
        if fdef is None:
            raise self.not_found(name, request.chain)
        if below is None and (name, id(fdef)) in path:
            raise FixtureError(f"fixture cycle: {' -> '.join(p for p, _ in path)} -> {name}")
        if needed_by is not None and SCOPE_RANK[fdef.scope] < SCOPE_RANK[needed_by.scope]:
            raise FixtureError(
                f"fixture {needed_by.name!r} (scope {needed_by.pytest_scope}) cannot use {fdef.name!r} "
                f"(scope {fdef.pytest_scope}): a fixture may only use fixtures of the same or a wider scope"
            )
        spec = request.callspec
        has_param = spec is not None and name in spec.indirect
        param = spec.params[name] if has_param else None
        index = spec.indices.get(name, 0) if has_param else 0
        scope = request.scopes[fdef.scope]
        key = (id(fdef), index) if has_param else id(fdef)
        if has_param and fdef.scope != "test":
            stale = scope.switch_param(id(fdef), index)
            if stale:
                anext = self._anext_on_loop if sync else _anext
                errors = await self._finalize(stale, anext)
                if errors:
                    raise FixtureError(f"teardown of {errors[0][0]} (before its next parameter) failed: "
                                       f"{errors[0][1]!r}") from errors[0][1]
        fut, mine = scope.claim(key)
        if not mine:
            if fut.done() or sync:
                value = fut.result()
            else:
                value = await asyncio.wrap_future(fut)
            changes = scope.context_changes.get(key)
            if changes:
                request.see_context(changes)
            return value
        try:
            kwargs = {}
            for arg in fdef.argnames:
                kwargs[arg] = await self.get(arg, request, fdef, path + ((name, id(fdef)),), sync=sync, on_loop=on_loop)
            sub = SubRequest(request, fdef, scope, param, index, has_param)
            if "request" in fdef.argnames:
                kwargs["request"] = sub
            backend = None
            if fdef.is_async and served.anyio_requested(request):
                # anyio's plugin sets the fixture up on the test's backend, which it asks for.
                backend = await self.get(served.ANYIO_BACKEND, request, fdef, path + ((name, id(fdef)),),
                                         sync=sync, on_loop=on_loop)
            value, changes = await self._create(fdef, kwargs, scope, key, request, sync=sync, on_loop=on_loop,
                                                backend=backend)
        except BaseException as e:
            fut.set_exception(e)
            # The error is the caller's; the future only serves tests waiting for the value.
            fut.exception()
            raise
        if changes:
            scope.context_changes[key] = changes
            request.see_context(changes)
        fut.set_result(value)
        return value

    def _function(self, fdef: FixtureDef, request: TestRequest) -> Callable[..., Any]:
        if not fdef.in_class:
            return fdef.func
        instance = request.instance
        if instance is None and request.node is not None and request.node.cls is not None:
            instance = request.node.cls()
        return fdef.func.__get__(instance) if instance is not None else fdef.func

    async def _create(self, fdef: FixtureDef, kwargs: dict[str, Any], scope: Scope, key: Any,
                      request: TestRequest, *, sync: bool, on_loop: bool,
                      backend: Any = None) -> tuple[Any, ContextChanges]:
        func = self._function(fdef, request)
        if backend is not None:
            func = served.fixture_on_backend(func, backend)
        if fdef.is_async and sync:
            if on_loop:
                raise FixtureError(
                    f"async fixture {fdef.name!r} cannot be set up by getfixturevalue() inside a coroutine; "
                    "ask for it as a parameter instead"
                )
            # Async fixtures live on the run's one loop, whoever asks for them.
            return asyncio.run_coroutine_threadsafe(self._start(fdef, func, kwargs, scope, key, True),
                                                    self.loop).result()
        if (not sync and not fdef.is_async and "request" in fdef.argnames and _gets_fixtures_by_name(func)
                and _async_in_reach(request.chain)):
            return await self._start_off_loop(fdef, func, kwargs, scope, key)
        return await self._start(fdef, func, kwargs, scope, key, not sync)

    async def _start_off_loop(self, fdef: FixtureDef, func: Callable[..., Any], kwargs: dict[str, Any],
                              scope: Scope, key: Any) -> tuple[Any, ContextChanges]:
        """Sets up, for a test on the loop, a sync fixture that may ask for an async one by
        name: on a thread, in a copy of the caller's context, so that the async fixture it asks
        for is set up on the loop, which stays free meanwhile (as pytest-asyncio serves it)."""
        context = contextvars.copy_context()
        value, changes = await self.loop.run_in_executor(
            None, context.run, run_inline, self._start(fdef, func, kwargs, scope, key, True))
        return value, [*context_changes(context), *changes]

    @staticmethod
    async def _start(fdef: FixtureDef, func: Callable[..., Any], kwargs: dict[str, Any], scope: Scope,
                     key: Any, own_context: bool) -> tuple[Any, ContextChanges]:
        """Sets the fixture up. An async fixture, and a generator set up for an async test
        (`own_context`), runs in a context of its own (a copy of the caller's), where its
        teardown runs too, and what it set there the caller then sees
        (`TestRequest.see_context`): pytest-asyncio's rule. Otherwise the fixture runs in the
        caller's context, the thread's for a sync test, as pytest runs it in its thread's."""
        if not (fdef.is_async or (fdef.is_generator and own_context)):
            result = func(**kwargs)
            if inspect.isgenerator(result):
                try:
                    value = next(result)
                except StopIteration:
                    raise FixtureError(f"fixture {fdef.name!r} did not yield a value") from None
                scope.add_finalizer(fdef.name, result, key)
                return value, []
            return (await result if inspect.isawaitable(result) else result), []
        context = contextvars.copy_context()
        sub = kwargs.get("request")
        if isinstance(sub, SubRequest):
            sub.context = context
        result = context.run(func, **kwargs)
        if inspect.isasyncgen(result):
            value = await _anext(result, context)
            scope.add_finalizer(fdef.name, _InContext(result, context), key)
        elif inspect.isgenerator(result):
            try:
                value = context.run(next, result)
            except StopIteration:
                raise FixtureError(f"fixture {fdef.name!r} did not yield a value") from None
            scope.add_finalizer(fdef.name, _InContext(result, context), key)
        elif inspect.isawaitable(result):
            value = await asyncio.create_task(_awaited(result), context=context)
        else:
            value = result
        return value, context_changes(context)

    # --- teardown ------------------------------------------------------------------------

    async def teardown_async(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return await self._teardown(scope, _anext)

    def teardown_sync(self, scope: Scope) -> list[tuple[str, BaseException]]:
        return run_inline(self._teardown(scope, self._anext_on_loop))

    async def _teardown(self, scope: Scope, anext: Stepper) -> list[tuple[str, BaseException]]:
        """Runs the scope's finalizers, last set up first; `anext` steps an async generator."""
        return await self._finalize(scope.take_finalizers(), anext)

    @staticmethod
    async def _finalize(finalizers: list[tuple[str, Any]], anext: Stepper) -> list[tuple[str, BaseException]]:
        errors: list[tuple[str, BaseException]] = []
        for name, gen in reversed(finalizers):
            context = None
            if isinstance(gen, _InContext):
                gen, context = gen.gen, gen.context
            try:
                if inspect.isasyncgen(gen):
                    await anext(gen, context)
                elif inspect.isgenerator(gen):
                    if context is not None:
                        _take_runner_state(context)
                        context.run(next, gen)
                    else:
                        next(gen)
                else:
                    if context is not None:
                        _take_runner_state(context)
                    result = context.run(gen) if context is not None else gen()
                    if inspect.isawaitable(result):
                        await anext(_Awaiting(result), context)
                    continue
                errors.append((name, FixtureError(f"fixture {name!r} yielded more than once")))
            except (StopIteration, StopAsyncIteration):
                pass
            except BaseException as e:  # noqa: BLE001 - a teardown error is reported, the rest still run
                errors.append((name, e))
        return errors

    async def _anext_on_loop(self, gen: Any, context: contextvars.Context | None = None) -> Any:
        """Steps an async generator for a thread other than the loop's: on the loop, waited
        for here (so this never suspends)."""
        return asyncio.run_coroutine_threadsafe(_anext(gen, context), self.loop).result()


class _Awaiting:
    """An awaitable finalizer (from `addfinalizer`) seen as a one-step async generator."""

    def __init__(self, awaitable: Any) -> None:
        self._awaitable = awaitable

    async def __anext__(self) -> Any:
        await self._awaitable
        raise StopAsyncIteration
