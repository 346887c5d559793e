def test_from_tox():
    assert True
