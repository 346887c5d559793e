def test_from_ini():
    assert True
