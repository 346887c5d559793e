"""A pytest-style test that stops in the debugger (`breakpoint()` and `pdb.set_trace()`)."""

import pdb


def test_sync_breakpoint():
    word = "".join(["fig", "wig"])
    print("printed before the breakpoint")
    breakpoint()
    assert word.startswith("fig")


def test_set_trace():
    colour = "te" + "al"
    pdb.set_trace()
    assert colour.endswith("al")
