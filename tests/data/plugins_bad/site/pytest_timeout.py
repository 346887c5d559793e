raise AssertionError("a plugin the engine serves is never imported")
