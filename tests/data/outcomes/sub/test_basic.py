# The same file name as the top-level test_basic.py: both must run, under ids of their own.


def test_same_basename():
    pass
