def test_only_when_tests_is_named():
    pass
