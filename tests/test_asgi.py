"""``registra.asgi``, the application behind ``registra serve``: Django's ASGI handler with the
middleware chain and the view run in one hop on a reused request thread (see its docstring),
API v1 through its own chain (``registra.api.v1.stack``). Driven in process through the ASGI
interface, several requests at a time."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import orjson
import pytest

from registra.asgi import application
from registra.assets.models import Asset
from registra.organizations.services import token_issue
from tests.cast import Cast, make_asset

Response = tuple[int, dict[str, str], bytes]


async def _get(path: str, query: str, headers: dict[str, str]) -> Response:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await application(scope, receive, send)
    start = sent[0]
    head = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], head, body


def _get_many(n: int, at_once: int, path: str, query: str, headers: dict[str, str]) -> list:
    async def main() -> list[Response]:
        gate = asyncio.Semaphore(at_once)

        async def one() -> Response:
            async with gate:
                return await _get(path, query, headers)

        return await asyncio.gather(*(one() for _ in range(n)))

    return asyncio.run(main())


def _request_threads() -> int:
    return sum(t.name.startswith("registra-request") for t in threading.enumerate())


def _token(cast: Cast) -> dict[str, str]:
    creds = cast.reader
    token = token_issue(
        client_id=creds.account.id, client_secret=creds.secret, client_address="127.0.0.1"
    ).access_token
    return {"Authorization": f"Bearer {token}"}


def _framework_headers_present(headers: dict[str, str]) -> None:
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-ratelimit-bucket"] in {"token-read", "org"}
    # What Django's SecurityMiddleware and XFrameOptionsMiddleware add.
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-type"] == "application/json"


@pytest.mark.django_db(transaction=True)
def test_lists_and_reads_on_reused_request_threads(cast: Cast) -> None:
    first, second = make_asset(cast.org, "asgi-1"), make_asset(cast.org, "asgi-2")
    bearer = _token(cast)
    threads_before = _request_threads()

    pages = _get_many(8, 3, "/api/v1/assets", "limit=1", bearer)
    ones = _get_many(8, 3, f"/api/v1/assets/{first.id}", "", bearer)

    for status, headers, body in pages:
        assert status == 200
        _framework_headers_present(headers)
        assert int(headers["content-length"]) == len(body)
        page = orjson.loads(body)
        assert [a["id"] for a in page["assets"]] == [second.id]
        assert page["pagination"]["nextCursor"]
    for status, headers, body in ones:
        assert status == 200
        _framework_headers_present(headers)
        assert orjson.loads(body)["asset"]["id"] == first.id
    # Sixteen requests, three at a time: request threads are reused, not made per request.
    assert 1 <= _request_threads() <= threads_before + 3
    # A read-only surface: the register is as it was.
    assert set(Asset.objects.filter(organization=cast.org).values_list("id", flat=True)) == {
        first.id,
        second.id,
    }


@pytest.mark.django_db(transaction=True)
def test_each_request_is_counted_once(cast: Cast) -> None:
    make_asset(cast.org, "asgi-1")
    bearer = _token(cast)

    (status, headers, body), *_ = _get_many(1, 1, "/api/v1/assets", "limit=abc", bearer)
    assert status == 400
    assert orjson.loads(body)["issues"][0]["path"] == ["limit"]
    remaining = int(headers["x-ratelimit-remaining"])

    (status, headers, _), *_ = _get_many(1, 1, "/api/v1/assets", "limit=1", bearer)
    assert status == 200
    assert int(headers["x-ratelimit-remaining"]) == remaining - 1


@pytest.mark.django_db(transaction=True)
def test_errors_through_the_asgi_application() -> None:
    (status, headers, body), *_ = _get_many(2, 2, "/api/v1/assets", "", {})
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert orjson.loads(body)["requestId"] == headers["x-request-id"]
    (status, _, body), *_ = _get_many(1, 1, "/api/v1/nowhere", "", {})
    assert status == 404
    assert orjson.loads(body)["error"] == "not_found"
