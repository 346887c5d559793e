import dbtest


@dbtest.use_case("other")
def other(ctx):
    return True
