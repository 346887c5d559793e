import pytest


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_benchmark_call(benchmark):
    assert benchmark(fib, 12) == 144


# pytest-benchmark's budget, as the mark sets it: 7 rounds at least, no time beyond them.
@pytest.mark.benchmark(min_rounds=7, max_time=0.0)
def test_benchmark_budget_from_the_mark(benchmark):
    assert benchmark(fib, 8) == 21


def test_benchmark_pedantic(benchmark):
    calls = []

    def setup():
        calls.append(1)
        return (10,), {}

    assert benchmark.pedantic(fib, setup=setup, rounds=4, warmup_rounds=1) == 55
    assert len(calls) >= 5
