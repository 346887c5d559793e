raise RuntimeError("tests/test_by_glob_globbed.py must not be imported")
