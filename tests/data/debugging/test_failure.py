"""A failure to look at with --pdb (as under pytest), and a test after it that passes."""


def test_fails_with_locals():
    answer = 41
    fruits = ["kiwi", "fig"]
    assert answer == len(fruits) * 21


def test_passes_after():
    assert True
