import httpx
import pytest


def test_response_is_mocked(httpx_mock):
    httpx_mock.add_response(url="https://sample.test/items", json={"items": [1, 2]})
    assert httpx.get("https://sample.test/items").json() == {"items": [1, 2]}


async def _fetch(url):
    async with httpx.AsyncClient() as client:
        return await client.get(url)


def test_async_client_is_mocked(httpx_mock):
    import asyncio

    httpx_mock.add_response(url="https://sample.test/async", text="from the mock")
    assert asyncio.run(_fetch("https://sample.test/async")).text == "from the mock"


def test_unmatched_request_fails(httpx_mock):
    httpx_mock.add_response(url="https://sample.test/known")
    httpx.get("https://sample.test/unknown")


def test_unused_response_fails_at_teardown(httpx_mock):
    httpx_mock.add_response(url="https://sample.test/never-requested")


@pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
def test_mark_allows_unused_responses(httpx_mock):
    httpx_mock.add_response(url="https://sample.test/optional")


def test_requests_are_recorded(httpx_mock):
    httpx_mock.add_response(method="POST")
    httpx.post("https://sample.test/post", content=b"payload")
    assert httpx_mock.get_request().content == b"payload"
