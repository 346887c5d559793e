"""A probabilistic test of a design without Python: `dbtest unit` samples the approved spec
ticket-triage:v1 through the models, prompt, middleware and judge it was approved with, and
calls this function with each sample's result (the names `success` sees: text, json, row,
usage, latency_ms, cost_usd, judge). An assertion failure fails that sample; the verdict
rests on the spec's statistics."""

import dbtest


@dbtest.probabilistic_test(spec="ticket-triage:v1")
def test_triage(sample):
    assert sample["cost_usd"] < 0.001, f"one triage cost {sample['cost_usd']} USD"
    assert "@" not in sample["text"], "the reply repeats an email address"
