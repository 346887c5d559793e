raise RuntimeError("tests/ignored_dir/test_never.py must not be imported")
