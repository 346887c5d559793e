def test_same_name_elsewhere_is_collected():
    pass
