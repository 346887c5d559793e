def test_deeper():
    assert True
