def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_benchmark_call(benchmark):
    assert benchmark(fib, 12) == 144


def test_benchmark_pedantic(benchmark):
    calls = []

    def setup():
        calls.append(1)
        return (10,), {}

    assert benchmark.pedantic(fib, setup=setup, rounds=4, warmup_rounds=1) == 55
    assert len(calls) >= 5
