# Importing this file never returns: it computes at module level for ever.
while True:
    pass


def test_never_collected():
    pass
