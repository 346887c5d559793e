def test_not_collected_python_files_replaces_the_default():
    raise AssertionError("test_*.py is not in this project's python_files")
