"""pytest-codspeed outside CodSpeed: its benchmark fixture calls the function once."""

calls: list[int] = []


def work(n):
    calls.append(n)
    return n * 2


def test_called_once(codspeed_benchmark):
    assert codspeed_benchmark(work, 21) == 42
    assert calls == [21]


def test_pedantic_called_once(codspeed_benchmark):
    calls.clear()
    result = codspeed_benchmark.pedantic(work, setup=lambda: ((4,), {}), rounds=100)
    assert result == 8
    assert calls == [4]
