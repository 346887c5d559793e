"""Turns an imported test module into test items: functions, suites, parametrize, marks."""

from __future__ import annotations

import inspect
import itertools
import linecache
from dataclasses import dataclass, field
from types import CodeType, FunctionType, ModuleType
from typing import Any, Callable

from ._fixtures import FixtureDef, fixtures_in, required_params
from ._marks import Marks, Parametrize, marks_of


class TestSuite:
    """Base class of test suites: `test_*` methods share one instance per file, with hooks
    `setup_suite` / `teardown_suite` (once) and `setup` / `teardown` (around each test),
    sync or async. Class attributes: `tags = (...)`, `concurrent = True`."""

    tags: tuple[str, ...] = ()
    concurrent: bool = False
    serial: str | None = None


@dataclass
class Item:
    func: Callable[..., Any]
    name: str
    line: int
    suite: type | None
    params: dict[str, Any]
    param_id: str | None
    marks: Marks
    fixture_names: list[str]
    is_async: bool
    # `@dbtest.probabilistic_test(spec=...)`: the spec id; the function judges each sample.
    probabilistic: str | None = None
    # The fixtures this test can see, nearest first (suite-less module, then conftests).
    chain: list[dict[str, FixtureDef]] = field(default_factory=list)
    file_key: str = ""


def _merged(*sources: Marks | None) -> Marks:
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


def _pytest_marks(obj: Any) -> Marks | None:
    """Marks set with `@pytest.mark.*`, read without importing pytest."""
    found = getattr(obj, "pytestmark", None)
    if not found:
        return None
    if isinstance(obj, type):
        found = obj.__dict__.get("pytestmark", [])
    marks = Marks()
    for mark in found if isinstance(found, list) else [found]:
        name, args, kwargs = getattr(mark, "name", None), getattr(mark, "args", ()), getattr(mark, "kwargs", {})
        if name == "skip":
            marks.skip = kwargs.get("reason", args[0] if args else "")
        elif name == "skipif":
            if args and all(bool(a) for a in args):
                marks.skip = kwargs.get("reason", "condition is true")
        elif name == "xfail":
            if not args or all(bool(a) for a in args):
                marks.xfail = (kwargs.get("reason"), bool(kwargs.get("strict", False)))
        elif name == "parametrize":
            argnames, argvalues = args[0], list(args[1])
            names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
            ids = kwargs.get("ids")
            marks.parametrize.append(Parametrize(names, argvalues, list(ids) if ids and not callable(ids) else None))
        elif name == "timeout" and args:
            marks.timeout = float(args[0])
        elif name == "usefixtures":
            marks.usefixtures.extend(args)
        elif name == "flaky":
            marks.retries = int(kwargs.get("reruns", kwargs.get("max_runs", 2)))
        elif name in ("asyncio", "anyio", "filterwarnings"):
            pass
        elif name:
            marks.tags.append(name)
    # pytest applies decorators bottom-up but stores marks top-down.
    marks.parametrize.reverse()
    return marks


def marks_for(obj: Any) -> Marks | None:
    own, pytest_marks = marks_of(obj), _pytest_marks(obj)
    if own is None and pytest_marks is None:
        return None
    return _merged(own, pytest_marks)


_ID_SCALARS = (int, float, str, bool, type(None))


def _value_id(value: Any, argname: str, index: int) -> str:
    if isinstance(value, _ID_SCALARS):
        text = str(value)
        return text.encode("unicode_escape").decode("ascii") if isinstance(value, str) else text
    name = getattr(value, "__name__", None)
    if isinstance(name, str) and (inspect.isclass(value) or inspect.isfunction(value)):
        return name
    return f"{argname}{index}"


def _expand(p: Parametrize) -> list[tuple[dict[str, Any], str, Marks | None]]:
    out = []
    for i, raw in enumerate(p.argvalues):
        # pytest.param(...) carries values, its own id and marks.
        values, own_id, marks = raw, None, None
        if type(raw).__name__ == "ParameterSet" and hasattr(raw, "values"):
            values, own_id = raw.values, raw.id
            marks = _pytest_marks(type("_", (), {"pytestmark": list(raw.marks)})) if raw.marks else None
            if len(p.argnames) == 1:
                values = values[0]
        if len(p.argnames) == 1:
            values = (values,)
        values = tuple(values)
        if len(values) != len(p.argnames):
            raise ValueError(
                f"parametrize({','.join(p.argnames)!r}): value #{i} {raw!r} has {len(values)} items, "
                f"expected {len(p.argnames)}"
            )
        if own_id is not None:
            pid = own_id
        elif p.ids is not None:
            pid = str(p.ids[i])
        else:
            pid = "-".join(_value_id(v, n, i) for v, n in zip(values, p.argnames))
        out.append((dict(zip(p.argnames, values)), pid, marks))
    return out


def _signature_fixtures(func: Callable[..., Any], skip: set[str]) -> list[str]:
    return [name for name in required_params(func) if name not in skip]


def _items_for(func: Callable[..., Any], name: str, suite: type | None, outer: Marks) -> list[Item]:
    own = marks_for(func)
    # Marks are never changed once made, so an unmarked test shares its module's or suite's.
    base = outer if own is None else _merged(outer, own)
    # Most tests are plain functions, whose facts are read off the code object directly
    # (inspect's general answers cost more than a trivial test takes to run).
    plain = type(func) is FunctionType and not hasattr(func, "__wrapped__")
    code = func.__code__ if plain else getattr(inspect.unwrap(func), "__code__", None)
    line = _def_line(code)
    probabilistic = getattr(func, "__dbtest_probabilistic__", None)
    # A probabilistic test samples its use case on the event loop; its one parameter is the
    # sample's result, not a fixture.
    is_async = probabilistic is not None or (
        bool(code.co_flags & inspect.CO_COROUTINE) if plain else inspect.iscoroutinefunction(func)
    )
    if own is None and probabilistic is None and not base.parametrize and plain:
        # The common case, without the general case's merging and copying.
        names = [n for n in required_params(func) if n != "self" or suite is None]
        if base.usefixtures:
            names = list(dict.fromkeys(base.usefixtures + names))
        return [
            Item(func=func, name=name, line=line, suite=suite, params={}, param_id=None, marks=base,
                 fixture_names=names, is_async=is_async)
        ]
    skip = {"self"} if suite is not None else set()
    combos: list[tuple[dict[str, Any], list[str], list[Marks | None]]] = [({}, [], [])]
    for p in base.parametrize:
        combos = [
            ({**params, **new}, ids + [pid], ms + [m])
            for (params, ids, ms), (new, pid, m) in itertools.product(combos, _expand(p))
        ]
    items = []
    for params, ids, extra in combos:
        marks = base
        if base.parametrize or any(m is not None for m in extra):
            marks = _merged(base, *extra)
            marks.parametrize = []
        fixture_names = marks.usefixtures + (
            [] if probabilistic is not None else _signature_fixtures(func, skip | set(params))
        )
        items.append(
            Item(
                func=func,
                name=name,
                line=line,
                suite=suite,
                params=params,
                param_id="-".join(ids) if ids else None,
                marks=marks,
                fixture_names=list(dict.fromkeys(fixture_names)),
                is_async=is_async,
                probabilistic=probabilistic,
            )
        )
    return items


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


def _is_test_function(name: str, obj: Any) -> bool:
    return name.startswith("test") and (inspect.isfunction(obj) or inspect.iscoroutinefunction(obj))


def _suite_members(cls: type) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__:
            seen.setdefault(name, None)
    return [(n, getattr(cls, n)) for n in seen if _is_test_function(n, getattr(cls, n, None))]


def is_suite(obj: Any) -> bool:
    if not inspect.isclass(obj):
        return False
    if issubclass(obj, TestSuite):
        return obj is not TestSuite
    # A plain pytest-style class: named Test*, no constructor of its own.
    return obj.__name__.startswith("Test") and obj.__init__ is object.__init__


def collect_module(module: ModuleType) -> tuple[list[Item], dict[str, FixtureDef]]:
    namespace = vars(module)
    fixtures = fixtures_in(namespace, getattr(module, "__file__", "") or "")
    module_marks = _merged(
        Marks(tags=list(namespace.get("tags", ()) or ()), concurrent=namespace.get("concurrent") is True),
        _pytest_marks(module) if isinstance(namespace.get("pytestmark"), (list, tuple)) else None,
    )
    items: list[Item] = []
    for name, obj in list(namespace.items()):
        if name in fixtures or getattr(obj, "__dbtest_fixture__", None) is not None:
            continue
        if _is_test_function(name, obj):
            items.extend(_items_for(obj, name, None, module_marks))
        elif is_suite(obj):
            cls_marks = _merged(
                module_marks,
                Marks(
                    tags=list(getattr(obj, "tags", ()) or ()),
                    concurrent=getattr(obj, "concurrent", False) is True,
                    serial=getattr(obj, "serial", None) if isinstance(getattr(obj, "serial", None), str) else None,
                ),
                marks_for(obj),
            )
            for mname, meth in _suite_members(obj):
                items.extend(_items_for(meth, mname, obj, cls_marks))
    return items, fixtures
