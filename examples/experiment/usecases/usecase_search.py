"""The use case under test: a product search that asks a model for JSON."""

from __future__ import annotations

import json

import dbtest
from standin import StandInModel


@dbtest.use_case("shop.search")
async def search(ctx: dbtest.Context) -> dict:
    model = StandInModel(ctx.factors["model"], seed=ctx.seed)
    reply = await model.complete(
        "red running shoes under 100 euros, as a JSON list of {name, price}",
        temperature=ctx.factors["temperature"],
    )
    ctx.record(tokens=reply.tokens, cost_usd=reply.cost_usd)
    try:
        products = json.loads(reply.text)
        valid = isinstance(products, list)
    except ValueError:
        products, valid = [], False
    return {
        "valid_json": valid,
        "results": len(products),
        "cheapest": min((p["price"] for p in products), default=None),
        "latency_ms": round(reply.latency_ms, 1),
    }
