raise RuntimeError("tests/sub/test_local_ignored.py must not be imported")
