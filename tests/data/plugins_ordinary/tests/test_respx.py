import httpx


def fetch_user(user_id: int) -> dict:
    return httpx.get(f"https://api.example.invalid/users/{user_id}").json()


def test_route_is_mocked(respx_mock):
    route = respx_mock.get("https://api.example.invalid/users/7").mock(
        return_value=httpx.Response(200, json={"id": 7, "name": "Ada"})
    )
    assert fetch_user(7) == {"id": 7, "name": "Ada"}
    assert route.called


def test_unmocked_route_fails(respx_mock):
    respx_mock.get("https://api.example.invalid/users/1").mock(return_value=httpx.Response(200, json={}))
    fetch_user(2)
