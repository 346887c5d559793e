"""Decorators that mark tests, and where their marks are kept."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_ATTR = "__dbtest_marks__"


@dataclass
class Parametrize:
    argnames: list[str]
    argvalues: list[Any]
    ids: list[str] | None


@dataclass
class Marks:
    tags: list[str] = field(default_factory=list)
    skip: str | None = None
    xfail: tuple[str | None, bool] | None = None
    timeout: float | None = None
    # In the order the decorators were applied: the one nearest the `def` first.
    parametrize: list[Parametrize] = field(default_factory=list)
    concurrent: bool = False
    usefixtures: list[str] = field(default_factory=list)
    retries: int | None = None
    serial: str | None = None


def marks_of(obj: Any) -> Marks | None:
    # A class's marks live in its own __dict__ so that subclasses do not inherit them twice.
    if isinstance(obj, type):
        return obj.__dict__.get(_ATTR)
    return getattr(obj, _ATTR, None)


def _ensure(obj: Any) -> Marks:
    marks = marks_of(obj)
    if marks is None:
        marks = Marks()
        setattr(obj, _ATTR, marks)
    return marks


def tag(*names: str) -> Callable[[F], F]:
    """Tag a test or suite; select with `-t "db and not slow"`."""
    for name in names:
        if not isinstance(name, str) or not name or any(c.isspace() or c in "()" for c in name):
            raise ValueError(f"dbtest.tag: {name!r} is not a valid tag (use a word such as 'db' or 'slow')")

    def apply(obj: F) -> F:
        _ensure(obj).tags.extend(names)
        return obj

    return apply


def parametrize(
    argnames: str | Sequence[str], argvalues: Iterable[Any], ids: Sequence[str] | None = None
) -> Callable[[F], F]:
    """Run a test once per value (tuple of values for several names)."""
    names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    names = [n for n in names if n]
    if not names:
        raise ValueError("dbtest.parametrize: give at least one argument name, e.g. 'a,b'")
    values = list(argvalues)
    if ids is not None and len(ids) != len(values):
        raise ValueError(
            f"dbtest.parametrize: {len(ids)} ids for {len(values)} values; give one id per value"
        )

    def apply(obj: F) -> F:
        _ensure(obj).parametrize.append(Parametrize(names, values, list(ids) if ids else None))
        return obj

    return apply


def skip(reason: str | Callable[..., Any] = "") -> Any:
    """`@dbtest.skip("why")`: never run the test (or any test of a suite)."""
    if callable(reason):  # used bare: @dbtest.skip
        _ensure(reason).skip = ""
        return reason

    def apply(obj: F) -> F:
        _ensure(obj).skip = reason
        return obj

    return apply


def skip_if(condition: bool, reason: str = "") -> Callable[[F], F]:
    """Skip when `condition` is true (evaluated when the module is imported)."""

    def apply(obj: F) -> F:
        if condition:
            _ensure(obj).skip = reason or "condition is true"
        return obj

    return apply


def xfail(reason: str | None = None, strict: bool = False) -> Callable[[F], F]:
    """Expected to fail: a failure is `xfailed`, a pass is `xpassed` (`failed` when strict)."""

    def apply(obj: F) -> F:
        _ensure(obj).xfail = (reason, strict)
        return obj

    return apply


def timeout(seconds: float) -> Callable[[F], F]:
    """Fail the test as `timeout` when it runs longer than `seconds`."""
    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ValueError(f"dbtest.timeout: {seconds!r} is not a positive number of seconds")

    def apply(obj: F) -> F:
        _ensure(obj).timeout = float(seconds)
        return obj

    return apply


def flaky(retries: int = 2) -> Callable[[F], F]:
    """Run a failing test up to `retries` more times; a later pass is reported as flaky."""
    if not (isinstance(retries, int) and retries >= 0):
        raise ValueError(f"dbtest.flaky: retries={retries!r} must be a whole number of 0 or more")

    def apply(obj: F) -> F:
        _ensure(obj).retries = retries
        return obj

    return apply


def serial(resource: str) -> Callable[[F], F]:
    """Tests (or suites) naming the same resource never run at the same time, in any file."""
    if not (isinstance(resource, str) and resource):
        raise ValueError("dbtest.serial: name the shared resource, e.g. @dbtest.serial(\"db\")")

    def apply(obj: F) -> F:
        _ensure(obj).serial = resource
        return obj

    return apply


def concurrent(obj: F) -> F:
    """Let this test (or every test of this suite) overlap with its concurrent neighbours."""
    _ensure(obj).concurrent = True
    return obj


class Skipped(Exception):
    """Raised by `dbtest.skip_test()` inside a test to skip it at run time."""


def skip_test(reason: str = "") -> None:
    """Skip the running test from inside it."""
    raise Skipped(reason)
