"""A `pytest_collection_modifyitems` that needs the whole session's items at once: it
counts them, keeps one `test_once*` test across files, and runs the files in reverse."""

import os


def pytest_collection_modifyitems(session, config, items):
    os.environ["MODIFYITEMS_CALLS"] = os.environ.get("MODIFYITEMS_CALLS", "") + f"{len(items)};"
    kept = []
    once_seen = False
    for item in items:
        if item.name.startswith("test_once"):
            if once_seen:
                continue
            once_seen = True
        kept.append(item)
    kept.sort(key=lambda item: item.nodeid, reverse=True)
    items[:] = kept
