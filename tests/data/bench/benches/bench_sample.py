"""Benchmarks of known shape for the end-to-end tests of `dbtest bench`."""

import asyncio
import os
import time

import dbtest

# The end-to-end tests make the "work" benchmark slower between runs to exercise the gate.
SCALE = float(os.environ.get("SAMPLE_WORK_SCALE", "1"))


def spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


work = dbtest.BenchmarkGroup("work", baseline="short")


@work.bench("short")
def _():
    spin(100e-6 * SCALE)


@work.bench("long")
def _():
    spin(300e-6)


@work.bench("sized", params=[1, 2], setup=lambda n: n * 50e-6)
def _(seconds):
    spin(seconds)


@dbtest.bench
def bench_noop():
    pass


@dbtest.bench
async def bench_async_sleep0():
    await asyncio.sleep(0)


@dbtest.bench
def bench_raises():
    raise ZeroDivisionError("division by zero, on purpose")
