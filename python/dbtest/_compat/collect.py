"""Turns an imported test module into test items, by pytest's rules (DESIGN section 4b):
functions and `Test*` classes named by `python_functions` / `python_classes`, nested classes,
`unittest.TestCase` subclasses, dbtest's `TestSuite`, fixtures in the module and its classes,
parametrization (marks, fixture `params`, `pytest_generate_tests`) with pytest's ids, and
marks: skip, skipif, xfail, usefixtures, filterwarnings, custom marks as tags."""

from __future__ import annotations

import functools
import inspect
import itertools
import linecache
import sys
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

from .._marks import Marks, marks_of
from . import config as compat
from . import served
from .fixtures import (
    Chain,
    FixtureDef,
    autouse_names,
    closure,
    fixtures_in,
    process_wide,
    required_params,
)


class TestSuite:
    """Base class of test suites: `test_*` methods share one instance per file, with hooks
    `setup_suite` / `teardown_suite` (once) and `setup` / `teardown` (around each test),
    sync or async. Class attributes: `tags = (...)`, `concurrent = True`."""

    tags: tuple[str, ...] = ()
    concurrent: bool = False
    serial: str | None = None


# Marks of async libraries other than asyncio (pytest-trio, ...): their tests need that loop.
_OTHER_ASYNC_LIBRARIES = frozenset({"trio", "curio", "twisted"})

# What kind of class a test belongs to decides how it is set up and run.
FUNCTION, SUITE, CLASS, UNITTEST = "function", "suite", "class", "unittest"


@dataclass(slots=True)
class Item:
    func: Callable[..., Any]
    name: str
    line: int
    suite: type | None
    param_id: str | None
    marks: Marks
    # The fixtures to set up, in order (autouse, usefixtures, then the test's arguments).
    fixture_names: list[str]
    # The test function's own arguments that are fixtures or parameters (what it is called with).
    argnames: list[str]
    is_async: bool
    kind: str = FUNCTION
    # Test classes from the outermost, for nested pytest classes (`Outer::Inner`).
    classes: list[type] = field(default_factory=list)
    callspec: compat.CallSpec | None = None
    # `@dbtest.probabilistic_test(spec=...)`: the spec id; the function judges each sample.
    probabilistic: str | None = None
    # The fixtures this test can see, nearest first (classes, module, then conftests).
    chain: Chain = field(default_factory=list)
    file_key: str = ""
    module: ModuleType | None = None
    # pytest's marks of the test, nearest first (function, parameters, classes, module).
    pytest_marks: list[Any] = field(default_factory=list)
    xfail: compat.Xfail | None = None
    skip: str | None = None
    exclusive: bool = False
    # A coroutine test pytest would not run (no asyncio mark in strict mode).
    unsupported_async: bool = False
    node: compat.Node | None = None
    # Why the test's marks could not be read (a skipif condition that raised): its error.
    marks_error: str | None = None

    @property
    def plain(self) -> bool:
        """A module-level function with nothing to set up, judge or mark at run time."""
        return (
            self.kind == FUNCTION and not self.fixture_names and self.callspec is None and self.xfail is None
            and self.probabilistic is None and not self.unsupported_async and not self.pytest_marks
        )

    @property
    def suite_name(self) -> str | None:
        if not self.classes:
            return None
        return "::".join(c.__name__ for c in self.classes)

    def full_name(self) -> str:
        return f"{self.name}[{self.param_id}]" if self.param_id is not None else self.name


@dataclass
class Rules:
    """How the file is read: pytest's configuration (`python_classes`, ...) and hooks."""

    config: compat.Config
    python_classes: list[str]
    python_functions: list[str]
    xfail_strict: bool

    def __post_init__(self) -> None:
        self.function_name = compat.name_matcher(self.python_functions)
        self.class_name = compat.name_matcher(self.python_classes)


def _def_line(code: CodeType | None) -> int:
    """The line of the `def` itself: a decorated function's code starts at its first decorator."""
    if code is None:
        return 0
    first = code.co_firstlineno
    source = linecache.getlines(code.co_filename)
    for line, text in enumerate(itertools.islice(source, first - 1, first + 199), start=first):
        text = text.lstrip()
        if not text:
            break
        if text.startswith(("def ", "async def ")):
            return line
    return first


def _collectable(obj: Any) -> bool:
    return getattr(obj, "__test__", True) is not False


def _is_test_function(name: str, obj: Any, rules: Rules) -> bool:
    if not rules.function_name(name):
        return False
    if type(obj) is FunctionType and not obj.__dict__:
        # A plain function with no attributes: no marks, no `__test__ = False`, no fixture.
        return True
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return (
        (type(obj) is FunctionType or inspect.isfunction(obj) or inspect.isfunction(inspect.unwrap(obj)) if callable(obj) else False)
        and _collectable(obj)
        and getattr(obj, "__dbtest_fixture__", None) is None
        and getattr(obj, "_fixture_function_marker", None) is None
    )


def is_suite(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, TestSuite) and obj is not TestSuite


def _class_kind(name: str, obj: Any, rules: Rules, warn: Callable[[str], None]) -> str | None:
    if not inspect.isclass(obj) or not _collectable(obj):
        return None
    if is_suite(obj):
        return SUITE
    # A module that never imported unittest holds no TestCase (and dbtest does not import it).
    ut = sys.modules.get("unittest")
    if ut is not None and issubclass(obj, ut.TestCase):
        return UNITTEST if obj.__module__ != "unittest" else None
    if not rules.class_name(name):
        return None
    if obj.__init__ is not object.__init__ or getattr(obj, "__new__", object.__new__) is not object.__new__:
        warn(f"cannot collect test class {obj.__name__!r} because it has a "
             "__init__ or __new__ constructor (as pytest, dbtest skips it)")
        return None
    return CLASS


def _class_marks(classes: list[type]) -> list[Any]:
    """pytest marks of nested classes, innermost first, each with those of its bases."""
    out: list[Any] = []
    for cls in reversed(classes):
        for klass in cls.__mro__:
            out.extend(compat.unpack_marks(klass, own_only=True))
    return out


def _merge_dbtest(*sources: Marks | None) -> Marks:
    out = Marks()
    for m in sources:
        if m is None:
            continue
        out.tags.extend(t for t in m.tags if t not in out.tags)
        out.skip = m.skip if m.skip is not None else out.skip
        out.xfail = m.xfail or out.xfail
        out.timeout = m.timeout if m.timeout is not None else out.timeout
        out.parametrize.extend(m.parametrize)
        out.concurrent = out.concurrent or m.concurrent
        out.usefixtures.extend(m.usefixtures)
        out.retries = m.retries if m.retries is not None else out.retries
        out.serial = m.serial if m.serial is not None else out.serial
    return out


class FileCollector:
    """Collects one imported module."""

    def __init__(self, module: ModuleType, rel: str, conftest_chain: Chain, rules: Rules,
                 warn: Callable[[str], None]) -> None:
        self.module = module
        self.rel = rel
        self.rules = rules
        self.warn = lambda message: warn(f"{rel}: {message}")
        namespace = vars(module)
        self.fixtures = fixtures_in(namespace, getattr(module, "__file__", "") or "")
        self.chain: Chain = [self.fixtures, *conftest_chain]
        self.module_pytest_marks = compat.unpack_marks(module)
        self.module_marks = Marks(
            tags=[t for t in namespace.get("tags", ()) if isinstance(t, str)]
            if isinstance(namespace.get("tags"), (list, tuple)) else [],
            concurrent=namespace.get("concurrent") is True,
        )
        # Whether anything may parametrize a test beyond its own marks.
        self.generates = compat.plugins.implemented(rules.config, "pytest_generate_tests") or hasattr(
            module, "pytest_generate_tests")
        self._autouse: dict[int, list[str]] = {}

    def collect(self) -> list[Item]:
        items: list[Item] = []
        for name, obj in list(vars(self.module).items()):
            if name in self.fixtures:
                continue
            if _is_test_function(name, obj, self.rules):
                items.extend(self._items(obj, name, [], self.chain, FUNCTION, self.module_marks))
            else:
                kind = _class_kind(name, obj, self.rules, self.warn)
                if kind is not None:
                    items.extend(self._class_items(obj, [obj], kind, self.chain))
        return items

    # --- classes ---------------------------------------------------------------------------

    def _class_items(self, cls: type, classes: list[type], kind: str, outer_chain: Chain) -> list[Item]:
        table: dict[str, FixtureDef] = {}
        for klass in reversed(cls.__mro__):
            if klass is object:
                continue
            table.update(fixtures_in(dict(klass.__dict__), f"{self.rel}::{cls.__name__}", in_class=True))
        chain = [table, *outer_chain] if table else outer_chain
        outer = self.module_marks
        if kind == SUITE:
            serial = getattr(cls, "serial", None)
            outer = _merge_dbtest(
                self.module_marks,
                Marks(tags=list(getattr(cls, "tags", ()) or ()), concurrent=getattr(cls, "concurrent", False) is True,
                      serial=serial if isinstance(serial, str) else None),
                marks_of(cls),
            )
        else:
            outer = _merge_dbtest(self.module_marks, marks_of(cls))
        items: list[Item] = []
        if kind == UNITTEST:
            for mname in sys.modules["unittest"].TestLoader().getTestCaseNames(cls):
                items.extend(self._items(getattr(cls, mname), mname, classes, chain, UNITTEST, outer))
            return items
        seen: set[str] = set()
        members: list[list[tuple[str, Any]]] = []
        for klass in cls.__mro__:
            found = []
            for mname, member in klass.__dict__.items():
                if mname in seen:
                    continue
                seen.add(mname)
                found.append((mname, member))
            members.append(found)
        # Methods inherited from base classes come before the subclass's own (as pytest).
        for found in reversed(members):
            for mname, member in found:
                if mname in table:
                    continue
                if _is_test_function(mname, member, self.rules):
                    func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
                    items.extend(self._items(func, mname, classes, chain, kind, outer,
                                             static=isinstance(member, staticmethod)))
                elif kind == CLASS and inspect.isclass(member):
                    inner = _class_kind(mname, member, self.rules, self.warn)
                    if inner == CLASS:
                        items.extend(self._class_items(member, [*classes, member], CLASS, chain))
        return items

    # --- one test function -----------------------------------------------------------------

    def _items(self, func: Any, name: str, classes: list[type], chain: Chain, kind: str, outer: Marks,
               static: bool = False) -> list[Item]:
        # A function without attributes carries no marks of any kind (most tests).
        bare = type(func) is FunctionType and not func.__dict__
        own = None if bare else marks_of(func)
        base = outer if own is None else _merge_dbtest(outer, own)
        plain = bare or (type(func) is FunctionType and not hasattr(func, "__wrapped__"))
        code = func.__code__ if plain else getattr(inspect.unwrap(func), "__code__", None)
        line = _def_line(code)
        probabilistic = None if bare else getattr(func, "__dbtest_probabilistic__", None)
        is_coroutine = kind != UNITTEST and (  # unittest runs its own coroutines
            bool(code.co_flags & inspect.CO_COROUTINE) if plain and code is not None else (
                inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(inspect.unwrap(func))
            )
        )
        bound = bool(classes) and not static
        pytest_marks = [] if bare else compat.unpack_marks(func)
        class_marks = _class_marks(classes) if classes else []
        marks_all = [*pytest_marks, *class_marks, *self.module_pytest_marks]
        suite = classes[-1] if classes else None
        args = [] if probabilistic is not None or kind == UNITTEST else required_params(func, bound=bound)
        autouse = self._autouse.get(id(chain))
        if autouse is None:
            autouse = self._autouse[id(chain)] = autouse_names(chain)
        implicit = served.implicit_fixtures(func, is_coroutine, marks_all)
        if (
            not marks_all and not base.parametrize and not autouse and not args and not base.usefixtures
            and probabilistic is None and not self.generates and not implicit
        ):
            # The common case, without the general case's work.
            return [Item(func=func, name=name, line=line, suite=suite, param_id=None, marks=base,
                         fixture_names=[], argnames=[], is_async=is_coroutine or probabilistic is not None,
                         kind=kind, classes=list(classes), probabilistic=probabilistic, chain=chain,
                         module=self.module)]
        usefixtures = [*base.usefixtures]
        for mark in marks_all:
            if mark.name == "usefixtures":
                usefixtures.extend(a for a in mark.args if a not in usefixtures)
        usefixtures.extend(a for a in implicit if a not in usefixtures)
        direct_by_marks: set[str] = set()
        for mark in marks_all:
            if mark.name == "parametrize":
                indirect = mark.kwargs.get("indirect", False)
                for n in compat.parametrize_argnames(mark):
                    if indirect is not True and (not indirect or n not in indirect):
                        direct_by_marks.add(n)
        for p in base.parametrize:
            direct_by_marks.update(p.argnames)
        initial = [*autouse, *usefixtures, *args]
        fixturenames, defs = closure(initial, chain, direct_by_marks)
        node_base = f"{self.rel}::{'::'.join(c.__name__ for c in classes)}{'::' if classes else ''}{name}"
        definition = compat.Node(
            name=name, originalname=name, nodeid=node_base, path=_module_path(self.module.__file__ or self.rel),
            module=self.module, cls=suite, function=func, marks=marks_all, config=self.rules.config,
            callspec=None, fixturenames=fixturenames,
        )
        metafunc = compat.Metafunc(definition, fixturenames, self.rules.config)
        metafunc._fixture_scope = functools.partial(_pytest_scope, chain=chain)
        calls = self._parametrize(metafunc, chain, fixturenames, marks_all, base, suite)
        items = []
        specs: list[compat.CallSpec | None] = list(calls) or [None]
        for spec in specs:
            marks = [*pytest_marks, *(spec.marks if spec else []), *class_marks, *self.module_pytest_marks]
            dbtest_marks = base
            direct = {n for n in spec.params if n not in spec.indirect} if spec else set()
            call_args = [a for a in args if a not in direct] if direct else args
            names = [n for n in dict.fromkeys([*autouse, *usefixtures, *call_args]) if n not in direct]
            if served.ANYIO_BACKEND in fixturenames and served.ANYIO_BACKEND not in {*direct, *names}:
                # Set up as pytest does every fixture of the closure; anyio's plugin reads it.
                names.append(served.ANYIO_BACKEND)
            # Higher scopes first, as pytest sets them up (the sort is stable).
            names.sort(key=lambda n: -_scope_rank(n, chain))
            tags = list(base.tags)
            for mark in marks:
                if mark.name not in compat.BEHAVIOUR_MARKS and mark.name not in tags:
                    tags.append(mark.name)
            timeout = base.timeout
            retries = base.retries
            for mark in marks:
                if mark.name == "timeout" and timeout is None and (mark.args or "timeout" in mark.kwargs):
                    # pytest-timeout's mark; 0 is no timeout for this test.
                    timeout = float(mark.args[0] if mark.args else mark.kwargs["timeout"])
                if mark.name == "flaky" and retries is None:
                    retries = int(mark.kwargs.get("reruns", mark.kwargs.get("max_runs", 2)))
            if tags != base.tags or timeout != base.timeout or retries != base.retries:
                dbtest_marks = Marks(tags=tags, skip=base.skip, xfail=base.xfail, timeout=timeout,
                                     concurrent=base.concurrent, usefixtures=base.usefixtures,
                                     retries=retries, serial=base.serial)
            uses = set(fixturenames)
            shared = process_wide()
            exclusive = bool(uses & shared) or any(d.name in shared for d in defs)
            is_async = is_coroutine or probabilistic is not None
            unsupported_async = False
            if is_coroutine and any(m.name in _OTHER_ASYNC_LIBRARIES for m in marks):
                # dbtest runs coroutine tests on its asyncio loop, marked or not (as
                # pytest-asyncio's auto mode); a test for another event loop cannot run there.
                unsupported_async = True
            item = Item(
                func=func, name=name, line=line, suite=suite, param_id=spec.id if spec and spec.idlist else None,
                marks=dbtest_marks, fixture_names=names, argnames=args, is_async=is_async and not unsupported_async,
                kind=kind, classes=list(classes), callspec=spec, probabilistic=probabilistic, chain=chain,
                module=self.module, pytest_marks=marks, exclusive=exclusive, unsupported_async=unsupported_async,
            )
            items.append(item)
        return items

    def _parametrize(self, metafunc: compat.Metafunc, chain: Chain, fixturenames: list[str], marks: list[Any],
                     base: Marks, suite: type | None) -> list[compat.CallSpec]:
        """The test's calls, by pytest's order: `pytest_generate_tests` of the module, the class
        and the conftests, then fixture params, then parametrize marks (nearest first)."""
        methods = []
        if hasattr(self.module, "pytest_generate_tests"):
            methods.append(self.module.pytest_generate_tests)
        if suite is not None and hasattr(suite, "pytest_generate_tests"):
            methods.append(suite().pytest_generate_tests)
        if methods or compat.plugins.implemented(self.rules.config, "pytest_generate_tests"):
            # pytest's own call: the module's and the class's join the plugins' and conftests'.
            compat.plugins.call_extra(self.rules.config, "pytest_generate_tests", methods, {"metafunc": metafunc})
        marked = set()
        for mark in marks:
            if mark.name == "parametrize":
                marked.update(compat.parametrize_argnames(mark))
        for p in base.parametrize:
            marked.update(p.argnames)
        from .fixtures import lookup

        for name in fixturenames:
            if name in marked or name in metafunc._parametrized:
                continue
            fdef = lookup(name, chain)
            while fdef is not None:
                if fdef.params is not None:
                    metafunc.parametrize(name, fdef.params, indirect=True, scope=fdef.pytest_scope, ids=fdef.ids)
                    break
                fdef = lookup(name, chain, below=fdef) if name in fdef.argnames else None
        for mark in marks:
            if mark.name == "parametrize":
                metafunc.parametrize(*mark.args, **mark.kwargs)
        # dbtest's own @dbtest.parametrize, nearest the def first.
        for p in base.parametrize:
            metafunc.parametrize(",".join(p.argnames), p.argvalues, ids=p.ids)
        return metafunc._calls


def _pytest_scope(name: str, chain: Chain) -> str | None:
    from .fixtures import lookup

    fdef = lookup(name, chain)
    return fdef.pytest_scope if fdef is not None else None


# pytest's scopes that hold many tests, widest first (`HIGH_SCOPES`).
_HIGH_SCOPES = ("session", "package", "module", "class")


class _ParamValueKey:
    """pytest 9's `ParamValueKey`: a parameter is known by its value when hashable (so equal
    values of two parametrizations share one set-up), by its index otherwise."""

    __slots__ = ("by_value", "hash", "key")

    def __init__(self, value: Any, index: int) -> None:
        try:
            self.hash, self.key, self.by_value = hash(value), value, True
        except TypeError:
            self.hash, self.key, self.by_value = hash(index), index, False

    def __hash__(self) -> int:
        return self.hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ParamValueKey):
            return NotImplemented
        if self.by_value != other.by_value:
            return False
        if not self.by_value:
            return bool(self.key == other.key)  # two indices
        if self.key is other.key:
            return True
        if type(self.key) is not type(other.key):
            return False
        try:
            return bool(self.key == other.key)
        except (TypeError, ValueError, RuntimeError):
            return False


def _params_by_value() -> bool:
    """pytest 9 groups by a parameter's value, 7.x and 8.x by its index (the installed pytest
    decides; without it, the newest rule)."""
    fixtures_module = sys.modules.get("_pytest.fixtures")
    return fixtures_module is None or hasattr(fixtures_module, "ParamValueKey")


def _param_keys(item: Item, scope: str, by_value: bool) -> dict[tuple[Any, ...], None]:
    """pytest's `get_param_argkeys`: the parameters of `item` that live in `scope`, each with
    the instance of the scope it lives in (its folder, file, class)."""
    spec = item.callspec
    if spec is None:
        return {}
    path = getattr(item.module, "__file__", None) or item.file_key
    where: tuple[Any, ...]
    if scope == "session":
        where = (None, None)
    elif scope == "package":
        where = (str(Path(path).parent), None)
    elif scope == "module":
        where = (path, None)
    else:
        where = (path, item.suite)
    keys: dict[tuple[Any, ...], None] = {}
    for name, index in spec.indices.items():
        if spec.scopes.get(name, "function") != scope:
            continue
        param: Any = _ParamValueKey(spec.params[name], index) if by_value else index
        keys[(name, param, *where)] = None
    return keys


def reorder_by_params(items: list[Item]) -> list[Item]:
    """pytest's `reorder_items`: tests that share a parameter of a session-, package-, module-
    or class-scoped fixture are moved together (first use first), so that the fixture is set
    up once per parameter instead of at every switch. dbtest runs a file in one task, so it
    does this within a file; tests of other files are never moved between its tests."""
    by_value = _params_by_value()
    keys_of: dict[str, dict[int, dict[tuple[Any, ...], None]]] = {}
    items_of: dict[str, dict[tuple[Any, ...], OrderedDict[int, None]]] = {}
    for scope in _HIGH_SCOPES:
        keys_of[scope] = {}
        items_of[scope] = {}
        for i, item in enumerate(items):
            found = _param_keys(item, scope, by_value)
            if found:
                keys_of[scope][i] = found
                for key in found:
                    items_of[scope].setdefault(key, OrderedDict())[i] = None
    if not any(keys_of.values()):
        return items
    order = _reorder_at_scope(dict.fromkeys(range(len(items))), keys_of, items_of, 0)
    return [items[i] for i in order]


def _reorder_at_scope(indices: dict[int, None], keys_of: dict[str, dict[int, dict[tuple[Any, ...], None]]],
                      items_of: dict[str, dict[tuple[Any, ...], OrderedDict[int, None]]], level: int) -> dict[int, None]:
    """pytest's `reorder_items_atscope`, over the positions of the tests."""
    if level == len(_HIGH_SCOPES) or len(indices) < 3:
        return indices
    scope = _HIGH_SCOPES[level]
    scoped_items = items_of[scope]
    scoped_keys = keys_of[scope]
    ignore: set[tuple[Any, ...]] = set()
    queue = deque(indices)
    done: dict[int, None] = {}
    while queue:
        no_key: dict[int, None] = {}
        slicing_key = None
        while queue:
            i = queue.popleft()
            if i in done or i in no_key:
                continue
            keys = dict.fromkeys(k for k in scoped_keys.get(i, ()) if k not in ignore)
            if not keys:
                no_key[i] = None
                continue
            slicing_key, _ = keys.popitem()
            matching = [j for j in scoped_items[slicing_key] if j in indices]
            for j in reversed(matching):
                queue.appendleft(j)
                # Keep each key's tests in the order they will now run in.
                for other in _HIGH_SCOPES:
                    for key in keys_of[other].get(j, ()):
                        same = items_of[other][key]
                        same[j] = None
                        same.move_to_end(j, last=False)
            break
        if no_key:
            done.update(_reorder_at_scope(no_key, keys_of, items_of, level + 1))
        if slicing_key is not None:
            ignore.add(slicing_key)
    return done


def _scope_rank(name: str, chain: Chain) -> int:
    from .fixtures import SCOPE_RANK, lookup

    fdef = lookup(name, chain)
    return SCOPE_RANK[fdef.scope] if fdef is not None else 0


@functools.lru_cache(maxsize=4096)
def _module_path(file: str) -> Path:
    return Path(file)


def node_for(item: Item, config: compat.Config) -> compat.Node:
    """The pytest view of `item` (made on first use: most tests never need one)."""
    if item.node is None:
        nodeid = item.file_key
        if item.classes:
            nodeid += "::" + item.suite_name  # type: ignore[operator]
        nodeid += "::" + item.full_name()
        module = item.module
        path = _module_path(getattr(module, "__file__", None) or item.file_key)
        item.node = compat.Node(
            name=item.full_name(), originalname=item.name, nodeid=nodeid, path=path, module=module,
            cls=item.suite, function=item.func, marks=item.pytest_marks, config=config,
            callspec=item.callspec, fixturenames=item.fixture_names,
        )
    return item.node
