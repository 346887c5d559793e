def test_plain():
    assert True


def test_entry_point_fixture(ep_fixture):
    assert ep_fixture == "from an entry point"


def test_fixture_of_a_plugin_that_failed(broken_fixture):
    pass
