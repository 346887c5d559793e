# A conftest inside an ignored folder is never imported.
raise RuntimeError("tests/ignored_dir/conftest.py must not be imported")
