import os

# pytest-env sets the variables before any test module is imported.
AT_IMPORT = os.environ.get("SAMPLE_GREETING")


def test_env_from_ini():
    assert os.environ["SAMPLE_GREETING"] == "hello from the ini"


def test_env_set_before_import():
    assert AT_IMPORT == "hello from the ini"


def test_default_does_not_override():
    # The e2e test sets SAMPLE_KEPT itself; "D:" keeps an existing value.
    assert os.environ["SAMPLE_KEPT"] == "from the caller"
