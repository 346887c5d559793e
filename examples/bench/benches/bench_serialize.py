"""Three ways to turn an order into bytes, compared with the standard library's json."""

import json
import marshal
import pickle

import dbtest

ORDER = {
    "id": 1042,
    "customer": {"id": 7, "email": "ann@example.com", "tier": "gold"},
    "lines": [{"sku": f"SKU-{i:04d}", "qty": i % 3 + 1, "cents": 1999 + i} for i in range(20)],
    "paid": True,
}

serialize = dbtest.BenchmarkGroup("serialize", baseline="json")


@serialize.bench("json")
def _():
    json.dumps(ORDER)


@serialize.bench("json-compact")
def _():
    json.dumps(ORDER, separators=(",", ":"))


@serialize.bench("pickle")
def _():
    pickle.dumps(ORDER, protocol=pickle.HIGHEST_PROTOCOL)


@serialize.bench("marshal")
def _():
    marshal.dumps(ORDER)
