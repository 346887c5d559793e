# The innermost conftest that sets collect_ignore decides for the paths below it: the top
# conftest's list does not apply here (so sub/test_ignored_file.py is collected), this one does.
collect_ignore = ["test_local_ignored.py"]
