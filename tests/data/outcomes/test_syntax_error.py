import dbtest


def test_never_collected():
    return (1 +
