def test_from_pyproject():
    assert True
