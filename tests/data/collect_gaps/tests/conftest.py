"""The top conftest: what it names is never imported or reported.

Entries are relative to this folder; globs match the full path.
"""

collect_ignore = ["ignored_dir", "test_ignored_file.py"]
collect_ignore_glob = ["*_globbed.py"]
