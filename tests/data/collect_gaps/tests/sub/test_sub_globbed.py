raise RuntimeError("the top conftest's collect_ignore_glob still applies in sub/")
