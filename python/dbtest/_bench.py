"""The benchmark API (`BenchmarkGroup`, `@dbtest.bench`) and the timed loops the Rust engine
drives. The engine decides how many iterations a round has and how many rounds to run; this
module only times rounds, as tightly as Python allows."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from time import perf_counter_ns
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY_ATTR = "__dbtest_benchmarks__"


@dataclass
class Benchmark:
    group: str | None  # None: the file's name stands in for it
    name: str
    func: Callable[..., Any]
    setup: Callable[..., Any] | None = None
    params: Sequence[Any] | None = None
    line: int = 0
    is_async: bool = False
    baseline: bool = False


@dataclass
class BenchmarkGroup:
    """Benchmarks compared with each other; each is reported relative to `baseline`.

        group = dbtest.BenchmarkGroup("serialize", baseline="json")

        @group.bench("json")
        def _(): json.dumps(DATA)
    """

    name: str
    baseline: str | None = None
    members: list[Benchmark] = field(default_factory=list)

    def bench(
        self,
        name: str | None = None,
        *,
        setup: Callable[..., Any] | None = None,
        params: Sequence[Any] | None = None,
    ) -> Callable[[F], F]:
        """Add a benchmark. `setup` runs once before timing starts and its return value is
        passed in; with `params` the benchmark runs once per value (passed to `setup` if
        there is one, else to the benchmark)."""

        def apply(func: F) -> F:
            label = name or func.__name__
            if any(b.name == label for b in self.members):
                raise ValueError(f"BenchmarkGroup {self.name!r}: two benchmarks are named {label!r}")
            self.members.append(_make(self.name, label, func, setup, params))
            return func

        return apply


def _make(group: str | None, name: str, func: Callable[..., Any], setup: Any, params: Any) -> Benchmark:
    if params is not None:
        params = list(params)
        if not params:
            raise ValueError(f"benchmark {name!r}: params is empty; give at least one value or leave it out")
    code = getattr(inspect.unwrap(func), "__code__", None)
    return Benchmark(
        group=group,
        name=name,
        func=func,
        setup=setup,
        params=params,
        line=code.co_firstlineno if code else 0,
        is_async=inspect.iscoroutinefunction(func),
    )


def bench(func: F | None = None, *, name: str | None = None, setup: Any = None, params: Any = None) -> Any:
    """A standalone benchmark; its group is its file. Usable bare (`@dbtest.bench`) or with
    options (`@dbtest.bench(setup=make_data)`)."""

    def apply(f: F) -> F:
        setattr(f, _REGISTRY_ATTR, _make(None, name or f.__name__, f, setup, params))
        return f

    return apply(func) if func is not None else apply


@dataclass
class Case:
    """One benchmark with one parameter value: what the engine measures."""

    bench: Benchmark
    group: str
    param: Any
    has_param: bool
    _arguments: tuple[Any, ...] | None = None

    def arguments(self) -> tuple[Any, ...]:
        """The benchmark's arguments; `setup` runs on the first call only (data to work on is
        made once, not once per round, so an expensive setup does not eat the time budget)."""
        if self._arguments is None:
            b = self.bench
            if b.setup is not None:
                self._arguments = (b.setup(self.param) if self.has_param else b.setup(),)
            else:
                self._arguments = (self.param,) if self.has_param else ()
        return self._arguments


def collect_benchmarks(namespace: dict[str, Any], default_group: str) -> list[Case]:
    groups: list[BenchmarkGroup] = []
    standalone: list[Benchmark] = []
    for value in list(namespace.values()):
        if isinstance(value, BenchmarkGroup) and value not in groups:
            groups.append(value)
        found = getattr(value, _REGISTRY_ATTR, None)
        if isinstance(found, Benchmark) and found not in standalone:
            standalone.append(found)
    cases: list[Case] = []
    for g in groups:
        if g.baseline is not None and g.baseline not in {b.name for b in g.members}:
            raise ValueError(
                f"BenchmarkGroup {g.name!r}: baseline {g.baseline!r} is not one of its benchmarks "
                f"({', '.join(b.name for b in g.members) or 'none'})"
            )
        for b in g.members:
            b.baseline = b.name == g.baseline
            cases.extend(_cases(b, g.name))
    for b in standalone:
        cases.extend(_cases(b, default_group))
    return cases


def _cases(b: Benchmark, group: str) -> list[Case]:
    if b.params is None:
        return [Case(b, group, None, False)]
    return [Case(b, group, p, True) for p in b.params]


def param_label(value: Any) -> str:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return str(value)
    return repr(value)[:40]


def time_round(case: Case, iterations: int) -> int:
    """Nanoseconds for `iterations` calls; setup is done before the clock starts."""
    args = case.arguments()
    fn = case.bench.func
    start = perf_counter_ns()
    for _ in repeat(None, iterations):
        fn(*args)
    return perf_counter_ns() - start


async def time_round_async(case: Case, iterations: int) -> int:
    args = case.arguments()
    fn = case.bench.func
    start = perf_counter_ns()
    for _ in repeat(None, iterations):
        await fn(*args)
    return perf_counter_ns() - start


def _empty() -> None:
    pass


def timer_resolution_ns(samples: int = 2000) -> int:
    """The smallest step perf_counter_ns really takes on this machine."""
    best = None
    for _ in range(samples):
        a = perf_counter_ns()
        b = perf_counter_ns()
        while b == a:
            b = perf_counter_ns()
        if best is None or b - a < best:
            best = b - a
    return best or 1


def empty_call_ns(iterations: int = 200_000, rounds: int = 5) -> float:
    """What one iteration of the timed loop costs with nothing to do: the floor under every
    figure, reported so that a benchmark near it is read with care."""
    case = Case(Benchmark(None, "empty", _empty), "", None, False)
    return min(time_round(case, iterations) for _ in range(rounds)) / iterations


class BenchDriver:
    """What the Rust engine calls: load a file, measure the clock, time a round."""

    def __init__(self, disable_gc: bool) -> None:
        self.cases: list[Case] = []
        self.disable_gc = disable_gc

    def collect_file(
        self, path: str, rel: str, sys_path_entry: str, module_name: str, conftests: list[str],
        exclusive: bool = False,
    ) -> dict[str, Any]:
        from ._loader import describe_import_error, import_file

        try:
            module = import_file(path, sys_path_entry, module_name)
            default_group = rel.rsplit("/", 1)[-1].removesuffix(".py")
            cases = collect_benchmarks(vars(module), default_group)
        except BaseException as exc:  # noqa: BLE001 - the file's error, reported; others go on
            message, tb = describe_import_error(exc)
            return {"error": message, "traceback": tb}
        found = []
        for case in cases:
            found.append(
                {
                    "key": len(self.cases),
                    "group": case.group,
                    "name": case.bench.name,
                    "params": param_label(case.param) if case.has_param else None,
                    "line": case.bench.line,
                    "baseline": case.bench.baseline,
                    "is_async": case.bench.is_async,
                }
            )
            self.cases.append(case)
        return {"benchmarks": found}

    def clock(self) -> dict[str, float]:
        return {"resolution_s": timer_resolution_ns() / 1e9, "overhead_s": empty_call_ns() / 1e9}

    def round_sync(self, key: int, iterations: int) -> int | dict[str, Any]:
        import gc

        case = self.cases[key]
        enabled = gc.isenabled()
        if self.disable_gc:
            gc.disable()
        try:
            return time_round(case, iterations)
        except BaseException as exc:  # noqa: BLE001
            return _error(exc)
        finally:
            if enabled and self.disable_gc:
                gc.enable()

    async def round_async(self, key: int, iterations: int) -> int | dict[str, Any]:
        import gc

        case = self.cases[key]
        enabled = gc.isenabled()
        if self.disable_gc:
            gc.disable()
        try:
            return await time_round_async(case, iterations)
        except BaseException as exc:  # noqa: BLE001
            return _error(exc)
        finally:
            if enabled and self.disable_gc:
                gc.enable()

    @staticmethod
    def environment() -> dict[str, Any]:
        import platform
        import sys

        return {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "python_build": " ".join(platform.python_build()),
            "platform": platform.platform(),
            "executable": sys.executable,
        }


def _error(exc: BaseException) -> dict[str, Any]:
    """A round that raised, as the engine reads it (dbtest_bench::BenchError)."""
    from ._failure import describe_failure

    message, tb = describe_failure(exc)
    return {"message": message, "traceback": tb}
