def test_only_with_default_pattern():
    pass
