def test_not_collected_norecursedirs():
    raise AssertionError("norecursedirs names this folder")
