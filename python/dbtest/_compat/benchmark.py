"""pytest-benchmark's `benchmark` fixture, measured by dbtest bench's engine (DESIGN 4b, 5):
`benchmark(fn, *args, **kwargs)` calibrates and times rounds with pytest-benchmark's budget
(its defaults, its `--benchmark-*` options and the `benchmark` mark's arguments), so a suite
takes as long as it did under pytest-benchmark; `benchmark.pedantic(...)` runs exactly the
rounds it is told to. The figures go into the test's entry of the report (`benchmark`). A
test that uses the fixture runs with nothing beside it: a benchmark is never timed beside
other work."""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from time import perf_counter_ns
from typing import Any

_clock: tuple[float, float] | None = None


def _timer_info() -> tuple[float, float]:
    """The clock's resolution and the empty loop's cost, in seconds (measured once)."""
    global _clock
    if _clock is None:
        from .._bench import empty_call_ns, timer_resolution_ns

        _clock = (timer_resolution_ns() / 1e9, empty_call_ns() / 1e9)
    return _clock


class FixtureAlreadyUsed(Exception):
    """The `benchmark` fixture measures one thing per test, as pytest-benchmark's."""


# pytest-benchmark's budget: option dest (and mark argument) -> its default.
BUDGET_DEFAULTS: dict[str, Any] = {
    "min_time": 0.000005,
    "max_time": 1.0,
    "min_rounds": 5,
    "warmup": False,
    "warmup_iterations": 100_000,
    "calibration_precision": 10,
}


def _budget(config: Any, marker: Any) -> dict[str, Any]:
    """The engine's settings for `benchmark(fn)`: the mark's arguments win over the
    options, as in pytest-benchmark."""
    chosen = dict(BUDGET_DEFAULTS)
    if config is not None:
        for name, default in BUDGET_DEFAULTS.items():
            chosen[name] = config.getoption(f"benchmark_{name}", default)
    if marker is not None:
        chosen.update({k: v for k, v in marker.kwargs.items() if k in BUDGET_DEFAULTS})
    resolution_s, _ = _timer_info()
    # pytest-benchmark: a round lasts at least min_time, and at least precision clock steps.
    min_round = max(float(chosen["min_time"]), resolution_s * float(chosen["calibration_precision"]))
    # Its warm-up is counted in calls; the engine's in rounds of the calibrated size, so a
    # warm-up asked for is the engine's usual few rounds.
    warmup_rounds = 3 if chosen["warmup"] not in (False, None, "off", "no", "false") else 0
    return {
        "warmup_rounds": warmup_rounds,
        "min_rounds": max(1, int(chosen["min_rounds"])),
        "max_time_s": float(chosen["max_time"]),
        "min_round_time_s": min_round,
    }


class BenchmarkFixture:
    def __init__(self, name: str, disabled: bool, budget: dict[str, Any] | None = None) -> None:
        self.name = name
        self.disabled = disabled
        self.budget = budget or {}
        self.extra_info: dict[str, Any] = {}
        self.group: str | None = None
        self.stats: dict[str, Any] | None = None
        self.report: dict[str, Any] | None = None
        self._used = False

    def _claim(self) -> None:
        if self._used:
            raise FixtureAlreadyUsed(f"fixture 'benchmark' can be used only once per test ({self.name})")
        self._used = True

    def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._claim()
        if self.disabled:
            return function_to_benchmark(*args, **kwargs)
        last: list[Any] = [None]

        def round_ns(iterations: int) -> int:
            fn = function_to_benchmark
            start = perf_counter_ns()
            for _ in repeat(None, iterations):
                last[0] = fn(*args, **kwargs)
            return perf_counter_ns() - start

        self._measure(round_ns, **self.budget)
        return last[0]

    def pedantic(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        setup: Callable[[], Any] | None = None,
        rounds: int = 1,
        warmup_rounds: int = 0,
        iterations: int = 1,
    ) -> Any:
        self._claim()
        if iterations < 1 or rounds < 1:
            raise ValueError("benchmark.pedantic: rounds and iterations must be at least 1")
        if setup is not None and iterations > 1:
            raise ValueError("benchmark.pedantic: a setup function can only be used with iterations=1")
        last: list[Any] = [None]

        def arguments() -> tuple[tuple[Any, ...], dict[str, Any]]:
            if setup is None:
                return args, kwargs or {}
            made = setup()
            return made if made is not None else (args, kwargs or {})

        if self.disabled:
            call_args, call_kwargs = arguments()
            return target(*call_args, **call_kwargs)

        def round_ns(count: int) -> int:
            # The engine's "iteration" is one round of `iterations` calls; figures per call.
            total = 0
            for _ in repeat(None, count):
                call_args, call_kwargs = arguments()
                start = perf_counter_ns()
                for _ in repeat(None, iterations):
                    last[0] = target(*call_args, **call_kwargs)
                total += perf_counter_ns() - start
            return total // iterations

        self._measure(round_ns, warmup_rounds=warmup_rounds, min_rounds=rounds, max_time_s=1e-9,
                      min_round_time_s=1e-12)
        return last[0]

    def _measure(self, round_ns: Callable[[int], int], **settings: Any) -> None:
        from .. import _core

        resolution_s, overhead_s = _timer_info()
        clock = {"resolution_s": resolution_s, "overhead_s": overhead_s}
        answer = _core.measure_callable(round_ns, self.name, clock, settings)
        if answer.get("error"):
            raise RuntimeError(f"benchmark {self.name}: {answer['error'].get('message')}")
        self.stats = answer.get("stats")
        self.report = {
            "iterations_per_round": answer.get("iterations_per_round"),
            "rounds": len(answer.get("rounds") or []),
            "stats": self.stats,
            "warnings": answer.get("warnings") or [],
            "extra_info": self.extra_info,
        }


def benchmark(request: Any) -> Any:
    config = request.config
    disabled = False
    skip = False
    if config is not None:
        disabled = bool(config.getoption("benchmark_disable", False))
        skip = bool(config.getoption("benchmark_skip", False))
    if skip:
        from .._marks import Skipped

        raise Skipped("benchmark tests are skipped (--benchmark-skip)")
    node = request.node
    marker = node.get_closest_marker("benchmark") if node is not None else None
    return BenchmarkFixture(node.name if node is not None else "benchmark", disabled, _budget(config, marker))


FIXTURES: dict[str, tuple[Callable[..., Any], str]] = {"benchmark": (benchmark, "function")}
