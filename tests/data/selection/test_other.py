import dbtest


@dbtest.tag("db")
def test_other_db():
    pass


def test_other_plain():
    pass
