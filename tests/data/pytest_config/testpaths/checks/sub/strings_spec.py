class TestStrings:
    def test_upper(self):
        assert "a".upper() == "A"
