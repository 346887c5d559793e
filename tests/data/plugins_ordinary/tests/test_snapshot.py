def render(name: str) -> dict:
    return {"name": name, "tags": ["a", "b"], "size": len(name)}


def test_matches_stored_snapshot(snapshot):
    assert render("stored") == snapshot


def test_differs_from_stored_snapshot(snapshot):
    assert render("changed") == snapshot


def test_missing_snapshot_fails(snapshot):
    assert render("never stored") == snapshot
