"""A probabilistic test: `dbtest unit` runs the approved spec's samples and calls this
function with each result; an assertion failure fails that sample. The verdict (PASS, FAIL
or INCONCLUSIVE) rests on the spec's statistics, not on any single sample."""

import dbtest


@dbtest.probabilistic_test(spec="shop.search:v1")
def test_search(sample):
    assert sample["cheapest"] is None or sample["cheapest"] < 150
