"""Use cases of known success rates for dbtest's own experiment tests.

`coin` succeeds exactly when `index % 10 < RATE_TENTHS` (COIN_TENTHS, default 9): a rate
known in advance and the same in every run, so verdicts are deterministic."""

import asyncio
import os
import time

import dbtest


def _tenths() -> int:
    return int(os.environ.get("COIN_TENTHS", "9"))


@dbtest.use_case("coin")
async def coin(ctx: dbtest.Context):
    await asyncio.sleep(float(os.environ.get("COIN_SLEEP", "0")))
    ctx.record(tokens=10, cost_usd=0.001)
    ok = ctx.index % 10 < _tenths()
    return {"ok": ok, "index": ctx.index, "factors": ctx.factors, "seed": ctx.seed}


@dbtest.use_case("coin.sync")
def coin_sync(ctx: dbtest.Context):
    time.sleep(float(os.environ.get("COIN_SLEEP", "0")))
    return ctx.index % 10 < _tenths()


@dbtest.use_case("coin.sample")
def coin_sample(ctx: dbtest.Context):
    if ctx.index % 10 == 9:
        assert ctx.index < 0, "index ends in 9"
    return dbtest.Sample(success=None, data={"ok": True, "level": ctx.factors.get("level")})


@dbtest.use_case("coin.flaky")
async def coin_flaky(ctx: dbtest.Context):
    # Infrastructure trouble on the first attempt of every third sample; always on index 4.
    if ctx.index == 4 or (ctx.index % 3 == 0 and ctx.attempt == 0):
        raise ConnectionError(f"reset on attempt {ctx.attempt}")
    return True
