from pathlib import Path


def test_settings_reach_pytestconfig(pytestconfig):
    # What tox.ini says arrives as pytest would give it.
    assert pytestconfig.getini("xfail_strict") is True
    assert pytestconfig.getini("testpaths") == ["tox_tests"]
    assert pytestconfig.inipath.name == "tox.ini"
    assert pytestconfig.rootpath == Path(__file__).resolve().parent.parent
