"""A use case for the artifact tests: data that a spreadsheet would run as formulas, and a
call log (ARTIFACT_CALLS names the file) so a test can tell that no call was made."""

import asyncio
import os

import dbtest


@dbtest.use_case("artifacts.formula")
async def formula(ctx: dbtest.Context):
    calls = os.environ.get("ARTIFACT_CALLS")
    if calls:
        with open(calls, "a") as f:
            f.write(f"{ctx.index}\n")
    await asyncio.sleep(float(os.environ.get("ARTIFACT_SLEEP", "0")))
    ctx.record(tokens=5, cost_usd=0.0005)
    return {
        "ok": ctx.index % 4 != 0,
        "query": "=HYPERLINK(\"http://evil\")" if ctx.index % 2 else "@SUM(A1)",
        "note": "<script>alert(1)</script>",
    }
