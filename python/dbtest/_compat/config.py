"""What a suite written for pytest sees of pytest's objects (DESIGN section 4b): the config
(`config.getoption`, `getini`), the nodes that hooks and `request.node` are given, the
metafunc of `pytest_generate_tests`, marks and their evaluation, and the conftest hooks.

pytest's runner is never loaded (plugins and hooks: `plugins`). Where pytest is installed (a
suite written for it imports it), its plain data types are used as they are (marks,
`ParameterSet`, the id maker), so ids and marks are pytest's own; dbtest's own stand-ins serve
when it is not.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace as Namespace
from typing import Any

from . import plugins
from .benchmark import BUDGET_DEFAULTS

_NOTSET = object()

def pytest_module() -> Any:
    """pytest, when installed (None otherwise); imported only when a suite needs it."""
    try:
        import pytest
    except ImportError:
        return None
    return pytest


# --- marks ---------------------------------------------------------------------------


@dataclass
class Mark:
    """A mark where pytest is not installed (pytest's own `Mark` is used where it is)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def unpack_marks(obj: Any, own_only: bool = False) -> list[Any]:
    """The marks stored on `obj` by `@pytest.mark.*` (or `pytestmark = ...`), in the order
    pytest keeps them: the decorator nearest the `def` first."""
    if isinstance(obj, type) and own_only:
        found = obj.__dict__.get("pytestmark", [])
    else:
        found = getattr(obj, "pytestmark", [])
    if not isinstance(found, (list, tuple)):
        found = [found]
    out = []
    for m in found:
        m = getattr(m, "mark", m)  # a MarkDecorator holds its Mark
        if getattr(m, "name", None) is not None:
            out.append(m)
    return out


def as_mark(marker: Any) -> Any:
    if isinstance(marker, str):
        pytest = pytest_module()
        return getattr(pytest.mark, marker).mark if pytest else Mark(marker)
    return getattr(marker, "mark", marker)


# Marks with a meaning of their own; every other mark is a tag.
BEHAVIOUR_MARKS = frozenset(
    {
        "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "timeout",
        "asyncio", "anyio", "flaky", "tryfirst", "trylast",
    }
)


@dataclass
class Xfail:
    reason: str
    run: bool
    strict: bool
    raises: Any


def _eval_condition(condition: Any, item: Node, mark_name: str) -> tuple[bool, str]:
    """pytest's skipif/xfail condition: a bool, or a string evaluated with os, sys, platform,
    config and the test module's globals."""
    if isinstance(condition, str):
        import platform

        namespace: dict[str, Any] = {"os": os, "sys": sys, "platform": platform, "config": item.config}
        module = item.module
        if module is not None:
            namespace.update(vars(module))
        func = getattr(item.obj, "__func__", item.obj)
        namespace.update(getattr(func, "__globals__", {}) or {})
        try:
            code = compile(condition, f"<{mark_name} condition>", "eval")
            return bool(eval(code, namespace)), condition
        except BaseException as exc:
            raise ValueError(f"error evaluating {mark_name}({condition!r}): {type(exc).__name__}: {exc}") from exc
    return bool(condition), ""


def evaluate_skip(item: Node) -> str | None:
    """The skip reason from skip / skipif marks, if the test is to be skipped."""
    for mark in item.iter_markers("skipif"):
        conditions = mark.args if mark.args else ((mark.kwargs["condition"],) if "condition" in mark.kwargs else ())
        if not conditions:
            return mark.kwargs.get("reason", "")
        for condition in conditions:
            hit, text = _eval_condition(condition, item, "skipif")
            if hit:
                reason = mark.kwargs.get("reason")
                if reason is None:
                    if not text:
                        raise ValueError("skipif with a boolean condition needs reason=...")
                    reason = "condition: " + text
                return reason
    for mark in item.iter_markers("skip"):
        return mark.kwargs.get("reason", mark.args[0] if mark.args else "unconditional skip")
    return None


def evaluate_xfail(item: Node, strict_default: bool) -> Xfail | None:
    for mark in item.iter_markers("xfail"):
        run = mark.kwargs.get("run", True)
        strict = mark.kwargs.get("strict", strict_default)
        raises = mark.kwargs.get("raises", None)
        conditions = mark.args[:1] if mark.args else (
            (mark.kwargs["condition"],) if "condition" in mark.kwargs else ()
        )
        reason = mark.kwargs.get("reason", mark.args[1] if len(mark.args) > 1 else "")
        if not conditions:
            return Xfail(reason, run, strict, raises)
        for condition in conditions:
            hit, text = _eval_condition(condition, item, "xfail")
            if hit:
                return Xfail(reason or ("condition: " + text if text else ""), run, strict, raises)
    return None


# --- parametrization -------------------------------------------------------------------


@dataclass
class CallSpec:
    """One combination of parameters, as pytest's CallSpec2: values by name, whether each
    goes to a fixture (`indirect`) or to the test, each value's index, the id parts, marks."""

    params: dict[str, Any] = field(default_factory=dict)
    indices: dict[str, int] = field(default_factory=dict)
    indirect: set[str] = field(default_factory=set)
    scopes: dict[str, str] = field(default_factory=dict)
    idlist: list[str] = field(default_factory=list)
    marks: list[Any] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "-".join(self.idlist)

    def getparam(self, name: str) -> Any:
        return self.params[name]


def _fallback_ids(argnames: Sequence[str], sets: list[Any], ids: Any) -> list[str]:
    """Ids without pytest installed: pytest's rules for the common value types."""
    out = []
    for i, ps in enumerate(sets):
        if ps.id is not None:
            out.append(str(ps.id))
        elif ids is not None and not callable(ids) and i < len(ids) and ids[i] is not None:
            out.append(str(ids[i]))
        else:
            parts = []
            for value, name in zip(ps.values, argnames, strict=True):
                made = ids(value) if callable(ids) else None
                parts.append(_idval(made if made is not None else value, name, i))
            out.append("-".join(parts))
    return _unique(out)


def _idval(value: Any, argname: str, index: int) -> str:
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii")
    if isinstance(value, bytes):
        return value.decode("ascii", "backslashreplace")
    if value is None or isinstance(value, (int, float, bool, complex)):
        return str(value)
    name = getattr(value, "__name__", None)
    if isinstance(name, str):
        return name
    return f"{argname}{index}"


def _unique(ids: list[str]) -> list[str]:
    from collections import Counter, defaultdict

    counts = Counter(ids)
    if len(counts) == len(ids):
        return ids
    suffixes: dict[str, int] = defaultdict(int)
    taken = set(ids)
    for i, id_ in enumerate(ids):
        if counts[id_] > 1:
            sep = "_" if id_ and id_[-1].isdigit() else ""
            new = f"{id_}{sep}{suffixes[id_]}"
            while new in taken:
                suffixes[id_] += 1
                new = f"{id_}{sep}{suffixes[id_]}"
            ids[i] = new
            suffixes[id_] += 1
    return ids


@dataclass
class _ParamSet:
    values: tuple[Any, ...]
    marks: list[Any]
    id: str | None


def parameter_sets(argnames: Any, argvalues: Any) -> tuple[list[str], list[Any]]:
    """pytest's reading of `parametrize(argnames, argvalues)`: the names, and a parameter set
    (values, marks, id) per value."""
    pytest = pytest_module()
    if pytest is not None:
        from _pytest.mark.structures import ParameterSet

        names, force_tuple = ParameterSet._parse_parametrize_args(argnames, argvalues)
        return list(names), ParameterSet._parse_parametrize_parameters(list(argvalues), force_tuple)
    if isinstance(argnames, str):
        trailing = argnames.rstrip().endswith(",")
        names = [n.strip() for n in argnames.split(",") if n.strip()]
        force_tuple = len(names) == 1 and not trailing
    else:
        names, force_tuple = list(argnames), False
    sets = []
    for v in argvalues:
        if isinstance(v, _ParamSet):
            sets.append(v)
        else:
            sets.append(_ParamSet((v,) if force_tuple else tuple(v), [], None))
    return names, sets


def parametrize_argnames(mark: Any) -> list[str]:
    """The names a `parametrize` mark gives values to."""
    argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
    if isinstance(argnames, str):
        return [n.strip() for n in argnames.split(",") if n.strip()]
    return list(argnames)


def make_ids(argnames: Sequence[str], sets: list[Any], ids: Any, nodeid: str, hook: Any = None,
             func_name: str | None = None) -> list[str]:
    pytest = pytest_module()
    if pytest is None:
        return _fallback_ids(argnames, sets, ids)
    from _pytest.python import IdMaker

    idfn = ids if callable(ids) else None
    id_list = None if ids is None or callable(ids) else list(ids)
    fields = {
        "argnames": argnames, "parametersets": sets, "idfn": idfn, "ids": id_list, "config": hook, "nodeid": nodeid,
    }
    if "func_name" in _id_maker_fields(IdMaker):
        fields["func_name"] = func_name  # pytest 7.x and 8.x name the function in errors
    maker = IdMaker(**fields)
    return [str(i) for i in maker.make_unique_parameterset_ids()]


@functools.cache
def _id_maker_fields(maker: type) -> frozenset[str]:
    """The arguments of the installed pytest's IdMaker (an attrs class before 7.3, then a
    dataclass; 9.x dropped `func_name`)."""
    import inspect

    return frozenset(inspect.signature(maker).parameters)


class _IdHookConfig:
    """What pytest's id maker asks of a config: conftests' `pytest_make_parametrize_id`."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self.hook = self

    def getini(self, name: str) -> Any:
        if name in ("strict_parametrization_ids", "strict"):
            return False
        try:
            value = self._config.getini(name)
        except ValueError:
            value = None
        if name == "parametrize_long_str_id_strategy":
            return value or "short"
        return value

    def pytest_make_parametrize_id(self, config: Any, val: Any, argname: str) -> str | None:
        if not plugins.implemented(self._config, "pytest_make_parametrize_id"):
            return None
        made = plugins.call(self._config, "pytest_make_parametrize_id", config=self._config, val=val, argname=argname)
        return None if made is None else str(made)


class Metafunc:
    """What `pytest_generate_tests(metafunc)` is given."""

    def __init__(self, definition: Node, fixturenames: list[str], config: Config) -> None:
        self.definition = definition
        self.function = definition.function
        self.cls = definition.cls
        self.module = definition.module
        self.config = config
        self.fixturenames = fixturenames
        self._calls: list[CallSpec] = []
        self._parametrized: set[str] = set()
        # The pytest scope of the fixture a name resolves to (None: no fixture), for the scope
        # of a `parametrize` call that names none.
        self._fixture_scope: Callable[[str], str | None] = lambda name: None

    def parametrize(
        self,
        argnames: Any,
        argvalues: Any,
        indirect: bool | Sequence[str] = False,
        ids: Any = None,
        scope: str | None = None,
        *,
        _param_mark: Any = None,
    ) -> None:
        names, sets = parameter_sets(argnames, argvalues)
        nodeid = self.definition.nodeid
        empty = not sets
        if empty:
            reason = (
                f"got empty parameter set {names!r}, function {self.function.__name__} at "
                f"{getattr(self.function, '__code__', None) and self.function.__code__.co_filename}"
                f":{getattr(self.function, '__code__', None) and self.function.__code__.co_firstlineno}"
            )
            pytest = pytest_module()
            skip = pytest.mark.skip(reason=reason).mark if pytest else Mark("skip", (), {"reason": reason})
            sets = [_ParamSet(tuple(_NOTSET for _ in names), [skip], "NOTSET")]
            # pytest 9 names the empty set's call NOTSET; 7.x and 8.x leave it to the id
            # maker, which gives a value it cannot show its name and index (`x0`).
            named = pytest is None or getattr(pytest, "version_tuple", (9,)) >= (9,)
            id_list = ["NOTSET" if named else "-".join(f"{n}0" for n in names)]
        else:
            hook = _IdHookConfig(self.config) if self.config is not None else None
            id_list = make_ids(names, sets, ids, nodeid, hook, getattr(self.function, "__name__", None))
        if indirect is True:
            indirect_names = set(names)
        elif indirect:
            indirect_names = set(indirect)
        else:
            indirect_names = set()
        if scope is None:
            scope = self._inferred_scope(names, indirect_names)
        for name in names:
            if name in self._parametrized:
                raise ValueError(f"{nodeid}: duplicate parametrization of {name!r}")
        self._parametrized.update(names)
        new_calls = []
        for call in self._calls or [CallSpec()]:
            for index, (ps, pid) in enumerate(zip(sets, id_list, strict=True)):
                spec = CallSpec(
                    params=dict(call.params),
                    indices=dict(call.indices),
                    indirect=set(call.indirect),
                    scopes=dict(call.scopes),
                    idlist=[*call.idlist, pid],
                    marks=[*call.marks, *[as_mark(m) for m in ps.marks]],
                )
                for name, value in zip(names, ps.values, strict=True):
                    spec.params[name] = value
                    spec.indices[name] = index
                    if name in indirect_names:
                        spec.indirect.add(name)
                    if scope is not None:
                        spec.scopes[name] = scope
                new_calls.append(spec)
        self._calls = new_calls

    def _inferred_scope(self, names: list[str], indirect_names: set[str]) -> str:
        """pytest's `_infer_parametrize_scope`: when every name goes to a fixture, the
        narrowest of their fixtures' scopes; otherwise function."""
        if not names or not all(n in indirect_names for n in names):
            return "function"
        order = ("function", "class", "module", "package", "session")
        scopes = [s for s in map(self._fixture_scope, names) if s is not None]
        return min(scopes, key=order.index, default="function")


# --- nodes -----------------------------------------------------------------------------


class Keywords(dict):
    """`item.keywords`: names and marks of the item and its parents."""


@functools.lru_cache(maxsize=4096)
def _folder_keywords(path: Path) -> tuple[str, ...]:
    """The folders above a test file that pytest adds to its keywords (one file, many nodes)."""
    return path.parent.parts[-3:]


class Node:
    """A test as hooks and `request.node` see it (pytest's `Function`, as far as suites
    use it)."""

    def __init__(
        self,
        *,
        name: str,
        originalname: str,
        nodeid: str,
        path: Path,
        module: Any,
        cls: type | None,
        function: Any,
        marks: list[Any],
        config: Config,
        callspec: CallSpec | None,
        fixturenames: list[str],
    ) -> None:
        self.name = name
        self.originalname = originalname
        self.nodeid = nodeid
        self.path = path
        self.module = module
        self.cls = cls
        self.function = function
        self.obj = function
        self.own_markers: list[Any] = list(marks)
        self.config = config
        self.session = config.session
        self.callspec = callspec
        self.fixturenames = fixturenames
        self.funcargs: dict[str, Any] = {}
        self.user_properties: list[tuple[str, Any]] = []
        self.stash: dict[Any, Any] = {}
        self._store = self.stash
        self.instance: Any = None
        self.parent = _Parent(self)
        self.keywords = Keywords({name: True, originalname: True, path.name: True})
        if cls is not None:
            self.keywords[cls.__name__] = True
        for part in _folder_keywords(path):
            self.keywords[part] = True
        for mark in marks:
            self.keywords[mark.name] = mark

    @property
    def fspath(self) -> Any:
        from .builtins import _legacy_path

        return _legacy_path(self.path)

    @property
    def ihook(self) -> Any:
        return self.config.hook

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """pytest's `Function` where pytest is loaded: plugins check `isinstance(item,
        pytest.Function)` before they use an item (isinstance reads `__class__`)."""
        python = sys.modules.get("_pytest.python")
        return python.Function if python is not None else Node

    @property
    def location(self) -> tuple[str, int | None, str]:
        rel = self.nodeid.split("::", 1)[0]
        code = getattr(getattr(self.function, "__func__", self.function), "__code__", None)
        line = code.co_firstlineno - 1 if code is not None else None
        return rel, line, self.nodeid.split("::", 1)[-1].replace("::", ".")

    def iter_markers(self, name: str | None = None) -> Iterator[Any]:
        for mark in self.own_markers:
            if name is None or mark.name == name:
                yield mark

    def iter_markers_with_node(self, name: str | None = None) -> Iterator[tuple[Node, Any]]:
        for mark in self.iter_markers(name):
            yield self, mark

    def get_closest_marker(self, name: str, default: Any = None) -> Any:
        return next(self.iter_markers(name), default)

    def add_marker(self, marker: Any, append: bool = True) -> None:
        mark = as_mark(marker)
        if append:
            self.own_markers.append(mark)
        else:
            self.own_markers.insert(0, mark)
        self.keywords[mark.name] = mark

    def listextrakeywords(self) -> set[str]:
        return set()

    def listchain(self) -> list[Any]:
        return [self.parent, self]

    def getparent(self, cls: Any) -> Any:
        return None

    def add_report_section(self, when: str, key: str, content: str) -> None:
        pass

    def __repr__(self) -> str:
        return f"<Function {self.name}>"


class _Parent:
    def __init__(self, node: Node) -> None:
        self.name = node.cls.__name__ if node.cls is not None else node.path.name
        self.obj = node.cls if node.cls is not None else node.module
        self.nodeid = node.nodeid.rsplit("::", 1)[0]
        self.config = node.config
        self.path = node.path


# --- config and options ------------------------------------------------------------------


class _OptionGroup:
    def __init__(self, parser: Parser) -> None:
        self._parser = parser

    def addoption(self, *names: str, **attrs: Any) -> None:
        self._parser.addoption(*names, **attrs)

    _addoption = addoption


class Parser:
    """What `pytest_addoption(parser)` is given: options and ini keys are recorded with their
    defaults, and an option's value is read from pytest's arguments (`addopts`, the command
    line) as its argparse definition says, so `config.getoption` and `getini` answer as
    pytest would."""

    def __init__(self, config: Config, args: Sequence[str] = ()) -> None:
        self._config = config
        self._args = list(args)
        self._options: list[tuple[Sequence[str], dict[str, Any]]] = []

    def addoption(self, *names: str, **attrs: Any) -> None:
        dest = attrs.get("dest")
        if dest is None:
            longs = [n for n in names if n.startswith("--")]
            dest = (longs[0] if longs else names[0]).lstrip("-").replace("-", "_")
        action = attrs.get("action")
        if "default" in attrs:
            default = attrs["default"]
        elif action == "store_true":
            default = False
        elif action == "store_false":
            default = True
        elif action in ("append", "count"):
            default = None if action == "append" else 0
        else:
            default = None
        for name in names:
            self._config._option_dests[name] = dest
        if not hasattr(self._config.option, dest):
            setattr(self._config.option, dest, default)
        attrs = dict(attrs, dest=dest, default=default)
        self._options.append((names, attrs))
        if any(_given(name, self._args) for name in names):
            self._parse(names, attrs, self._args, self._config.option)

    def _parse(self, names: Sequence[str], attrs: dict[str, Any], args: Sequence[str], into: Any) -> None:
        import argparse

        parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
        try:
            parser.add_argument(*names, **attrs)
            known, _ = parser.parse_known_args(list(args))
        except (argparse.ArgumentError, ValueError, TypeError, SystemExit) as exc:
            self._config._warn(f"option {'/'.join(names)}: {exc}; its default is used")
            return
        setattr(into, attrs["dest"], getattr(known, attrs["dest"]))

    def parse_known_args(self, args: Sequence[str], namespace: Any = None) -> Any:
        """pytest's: the options added so far, read from `args` (pytest-django's
        `pytest_load_initial_conftests` reads its `--ds` so), over pytest's own."""
        from argparse import Namespace

        known = Namespace(**{"help": False, "version": False, **vars(self._config.option)})
        for names, attrs in self._options:
            setattr(known, attrs["dest"], attrs["default"])
            if any(_given(name, args) for name in names):
                self._parse(names, attrs, args, known)
        if namespace is not None:
            vars(namespace).update(vars(known))
            return namespace
        return known

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> _OptionGroup:
        return _OptionGroup(self)

    def addini(self, name: str, help: str = "", type: str | None = None, default: Any = _NOTSET) -> None:
        if default is _NOTSET:
            default = {"linelist": [], "args": [], "paths": [], "bool": False, "pathlist": []}.get(type or "", "")
            if type in ("int", "float"):
                default = {"int": 0, "float": 0.0}[type]
        self._config._ini_types[name] = (type, default)

    def processoption(self, option: Any) -> None:
        pass


def _given(name: str, args: Sequence[str]) -> bool:
    if name.startswith("--"):
        return any(a == name or a.startswith(name + "=") for a in args)
    return any(a.startswith(name) and not a.startswith("--") for a in args)


# pytest's own options that suites read through config.getoption, with its defaults.
_PYTEST_OPTIONS: dict[str, Any] = {
    "verbose": 0,
    "capture": "fd",
    "basetemp": None,
    "exitfirst": False,
    "maxfail": 0,
    "runxfail": False,
    "strict_markers": False,
    "tbstyle": "auto",
    "showlocals": False,
    "reportchars": "",
    "usepdb": False,
    "lf": False,
    "last_failed": False,
    "collectonly": False,
    "assertmode": "rewrite",
    "importmode": "prepend",
    "rootdir": None,
    "color": "auto",
    "numprocesses": None,
    "dist": "no",
    # Read by plugins (syrupy's report, ...), pytest's defaults.
    "pyargs": False,
    "deselect": None,
    "ignore": None,
    "ignore_glob": None,
    "keepduplicates": False,
    "confcutdir": None,
    "noconftest": False,
    "failedfirst": False,
    "newfirst": False,
    "cacheclear": False,
    "stepwise": False,
    "doctestmodules": False,
    "fulltrace": False,
    "setuponly": False,
    "setupplan": False,
    "setupshow": False,
    "override_ini": None,
    "inifilename": None,
    "disable_warnings": False,
    "xmlpath": None,
    "trace": False,
    "benchmark_disable": False,
    "benchmark_skip": False,
    "benchmark_only": False,
    **{f"benchmark_{name}": default for name, default in BUDGET_DEFAULTS.items()},
}
_PYTEST_DESTS = {"-v": "verbose", "--verbose": "verbose", "-x": "exitfirst", "--strict-markers": "strict_markers",
                 "-m": "markexpr", "-k": "keyword", "--basetemp": "basetemp", "--capture": "capture",
                 "-n": "numprocesses", "--runxfail": "runxfail"}
# ini keys of pytest and the types they are read as (the rest are plain strings).
_PYTEST_INI_TYPES: dict[str, tuple[str | None, Any]] = {
    "markers": ("linelist", []),
    "filterwarnings": ("linelist", []),
    "testpaths": ("args", []),
    "python_files": ("args", ["test_*.py", "*_test.py"]),
    "python_classes": ("args", ["Test"]),
    "python_functions": ("args", ["test"]),
    "norecursedirs": ("args", []),
    "usefixtures": ("args", []),
    "pythonpath": ("paths", []),
    "xfail_strict": ("bool", False),
    "asyncio_mode": (None, "strict"),
    "log_level": (None, None),
    "log_format": (None, None),
    "log_date_format": (None, None),
    "empty_parameter_set_mark": (None, "skip"),
    "console_output_style": (None, "progress"),
    "addopts": ("args", []),
    "required_plugins": ("args", []),
    "minversion": (None, None),
}


class _Session:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.items: list[Any] = []
        self.testscollected = 0
        self.testsfailed = 0
        self.shouldstop = False
        self.shouldfail = False
        self.exitstatus = 0
        self.name = "session"
        self.path = config.rootpath
        self.nodeid = ""


class Config:
    """pytest's `config`, as conftests and fixtures use it: options (from the project's
    pytest configuration and `pytest_addoption` defaults), ini values, hooks, markers."""

    def __init__(self, settings: Any, rootdir: str, warn: Callable[[str], None]) -> None:
        """`warn` tells the user something once (the driver drops repeats)."""
        self._settings = settings
        self.rootpath = Path(getattr(settings, "rootdir", None) or rootdir)
        ini_file = getattr(settings, "ini_file", None)
        self.inipath = Path(ini_file) if ini_file else None
        self.inifile = self.inipath
        self._ini: dict[str, str] = dict(getattr(settings, "ini", None) or {})
        self._ini_types: dict[str, tuple[str | None, Any]] = dict(_PYTEST_INI_TYPES)
        self._ini_added: dict[str, list[str]] = {}
        self._option_dests: dict[str, str] = dict(_PYTEST_DESTS)
        self.option = Namespace(**_PYTEST_OPTIONS)
        self.option.markexpr = getattr(settings, "markexpr", None) or ""
        self.option.keyword = getattr(settings, "keyword", None) or ""
        self.option.strict_markers = bool(getattr(settings, "strict_markers", False))
        self.known_args_namespace = self.option
        self.args: list[str] = plugins.file_or_dir()
        self.option.file_or_dir = list(self.args)
        self.invocation_params = Namespace(args=tuple(plugins.command_line_args()), dir=Path.cwd(), plugins=())
        self.markers: list[str] = list(getattr(settings, "markers", None) or [])
        self.stash: dict[Any, Any] = {}
        self._store = self.stash
        self.cache = None
        self.session = _Session(self)
        self._warn = warn
        self.plugin_fixtures: list[Any] = []
        self.cleanups: list[Callable[[], Any]] = []
        # The plugin manager, made when the run has a plugin or a conftest (`pluginmanager`).
        self._plugin_manager: Any = None
        self._parser: Parser | None = None
        self._conftest_names: set[str] = set()
        self._served: set[str] = set()
        self._served_names: list[str] = []  # served plugins registered under their name
        # Plugins found now are configured once the initial conftests are registered (the
        # driver calls `plugins.configure`).
        self._configure_later = True
        plugins.start(self)

    @property
    def pluginmanager(self) -> Any:
        if self._plugin_manager is None:
            plugins.make_manager(self)
        return self._plugin_manager

    @property
    def hook(self) -> Any:
        return self.pluginmanager.hook

    @property
    def rootdir(self) -> Any:
        from .builtins import _legacy_path

        return _legacy_path(self.rootpath)

    def getoption(self, name: str, default: Any = _NOTSET, skip: bool = False) -> Any:
        dest = self._option_dests.get(name, name.lstrip("-").replace("-", "_"))
        value = getattr(self.option, dest, _NOTSET)
        if value is _NOTSET or (value is None and skip):
            if default is not _NOTSET:
                return default
            if skip:
                pytest = pytest_module()
                if pytest is not None:
                    pytest.skip(f"no {name!r} option found")
            raise ValueError(f"no option named {name!r}")
        return value

    def getvalue(self, name: str) -> Any:
        return self.getoption(name)

    def getini(self, name: str) -> Any:
        kind, default = self._ini_types.get(name, (None, _NOTSET))
        raw = self._ini.get(name)
        added = self._ini_added.get(name, [])
        if raw is None:
            if name == "markers":
                return [*self.markers, *added]
            if default is _NOTSET:
                if name in self._ini or added:
                    return added
                raise ValueError(f"unknown configuration value: {name!r}")
            return [*default, *added] if isinstance(default, list) else default
        if kind == "linelist":
            return [line.strip() for line in raw.splitlines() if line.strip()] + added
        if kind in ("args", "paths", "pathlist"):
            import shlex

            values = shlex.split(raw) if kind == "args" else raw.split()
            if kind != "args":
                base = self.inipath.parent if self.inipath else self.rootpath
                return [base / v for v in values]
            return values + added
        if kind == "bool":
            return raw.strip().lower() in ("1", "true", "yes", "y", "t", "on")
        if kind in ("int", "float"):
            return (int if kind == "int" else float)(raw.strip())
        return raw

    def addinivalue_line(self, name: str, line: str) -> None:
        self._ini_added.setdefault(name, []).append(line)
        if name == "markers":
            self.markers.append(line.split(":", 1)[0].split("(", 1)[0].strip())

    def issue_config_time_warning(self, warning: Warning, stacklevel: int) -> None:
        self._warn(str(warning))

    def add_cleanup(self, func: Callable[[], Any]) -> None:
        self.cleanups.append(func)

    def get_terminal_writer(self) -> Any:
        return None

    def getvalueorskip(self, name: str) -> Any:
        return self.getoption(name, skip=True)

    # --- plugins and hooks ---------------------------------------------------------------

    def register_conftest(self, module: Any, path: str) -> None:
        """A conftest, as pytest registers it: its hooks (`pytest_addoption` and
        `pytest_configure` are historic: a late conftest gets them too), its `pytest_plugins`
        (through the manager), and what the session's start gives (`plugins.session_started`)."""
        pm = self.pluginmanager
        if pm.get_plugin(path) is not None:
            return
        self._conftest_names.add(path)
        pm.register(module, name=path)
        if not hasattr(pm, "consider_module"):  # a bare pluggy manager (no pytest)
            plugins._taken_in(self, pm, module, path)
        plugins.session_started(self, module)


def mark_registered(config: Config, name: str) -> bool:
    builtin = BEHAVIOUR_MARKS | {"no_cover"}
    return name in builtin or name in config.markers


def apply_modifyitems(config: Config, nodes: list[Node]) -> list[Node]:
    """`pytest_collection_modifyitems` over `nodes` (the session's files that run alone, or
    one file that overlaps): hooks may reorder, deselect (`items[:] = ...`) and add marks. Then
    `pytest_collection_finish`, with them as `session.items`."""
    items = list(nodes)
    if plugins.implemented(config, "pytest_collection_modifyitems"):
        plugins.call(config, "pytest_collection_modifyitems", session=config.session, config=config, items=items)
    if plugins.implemented(config, "pytest_collection_finish"):
        config.session.items = items
        plugins.call(config, "pytest_collection_finish", session=config.session)
    return items


def name_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """`names_match` for fixed patterns, as fast as `str.startswith` for plain prefixes."""
    patterns = list(patterns)
    if not any(c in p for p in patterns for c in "*?["):
        prefixes = tuple(patterns)
        return lambda name: name.startswith(prefixes)
    return lambda name: names_match(name, patterns)


def names_match(name: str, patterns: Iterable[str]) -> bool:
    """pytest's python_classes / python_functions: a prefix, or a glob when it has one."""
    import fnmatch

    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            if fnmatch.fnmatch(name, pattern):
                return True
        elif name.startswith(pattern):
            return True
    return False
