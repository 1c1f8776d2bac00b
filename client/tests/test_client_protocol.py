"""The protocol logic on its own (no server, no I/O): retry decisions, the token's refresh,
error mapping and the cursor walk's restart. The client against a real server is tested in
tests/client."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from registra_client import _errors as e
from registra_client import _protocol as p


def _reply(status: int, body: Any = None, **headers: str) -> p.Reply:
    raw = json.dumps(body).encode() if body is not None else b""
    return p.Reply(status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)


def _run(step: p.Step[Any], answer: Callable[[p.Send], p.Outcome]) -> tuple[Any, list[Any]]:
    """Drive ``step`` with ``answer`` for each request; its result and every action."""
    actions: list[Any] = []
    try:
        action = next(step)
        while True:
            actions.append(action)
            action = step.send(None if isinstance(action, p.Wait) else answer(action))
    except StopIteration as done:
        return done.value, actions


TOKEN = {"access_token": "tok1", "token_type": "Bearer", "expires_in": 900, "scope": "assets:read"}


def _session(**retry: Any) -> tuple[p.Session, list[float]]:
    now = [1000.0]
    policy = p.RetryPolicy(random=lambda: 1.0, **retry)
    return p.Session("svc_1", "secret", retry=policy, clock=lambda: now[0]), now


def test_a_429_waits_as_retry_after_says_then_succeeds() -> None:
    session, _ = _session()
    answers = iter([_reply(429, {"error": "rate_limited"}, retry_after="7"), _reply(200, {"x": 1})])

    def answer(send: p.Send) -> p.Outcome:
        return _reply(200, TOKEN) if send.path == p.TOKEN_PATH else next(answers)

    body, actions = _run(p.get(session, "/api/v1/assets"), answer)
    assert body == {"x": 1}
    assert [a.seconds for a in actions if isinstance(a, p.Wait)] == [7.0]


def test_backoff_doubles_and_stops_after_five_attempts() -> None:
    session, _ = _session()
    sent: list[p.Send] = []

    def answer(send: p.Send) -> p.Outcome:
        sent.append(send)
        return (
            _reply(200, TOKEN)
            if send.path == p.TOKEN_PATH
            else _reply(503, {"error": "unavailable", "message": "db down", "requestId": "req_9"})
        )

    with pytest.raises(e.UnavailableError) as raised:
        _run(p.get(session, "/api/v1/assets"), answer)
    assert raised.value.status == 503 and raised.value.request_id == "req_9"
    assert len([s for s in sent if s.path != p.TOKEN_PATH]) == 5


def test_waits_grow_exponentially_with_jitter_capped() -> None:
    policy = p.RetryPolicy(base=0.5, cap=3.0, random=lambda: 1.0)
    failure = p.Failure(OSError("refused"))
    assert [policy.delay(n, failure) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, None]
    half = p.RetryPolicy(base=0.5, random=lambda: 0.5)
    assert half.delay(3, failure) == 1.0  # full jitter: a random fraction of the backoff


def test_4xx_other_than_429_is_final_and_mapped() -> None:
    policy = p.RetryPolicy()
    for status, error, cls in [
        (400, "validation", e.ValidationError),
        (400, "invalid_cursor", e.InvalidCursorError),
        (403, "forbidden", e.PermissionDeniedError),
        (404, "not_found", e.NotFoundError),
        (405, "method_not_allowed", e.MethodNotAllowedError),
        (413, "payload_too_large", e.PayloadTooLargeError),
    ]:
        reply = _reply(status, {"error": error, "message": "m", "requestId": "req_1"})
        assert policy.delay(1, reply) is None
        exc = e.error_from_reply(reply.status, reply.headers, reply.body)
        assert type(exc) is cls and exc.error == error and exc.request_id == "req_1"


def test_a_retry_after_longer_than_allowed_is_not_waited_for() -> None:
    policy = p.RetryPolicy(max_retry_after=10)
    assert policy.delay(1, _reply(429, retry_after="60")) is None
    exc = e.error_from_reply(429, {"retry-after": "60"}, b'{"error":"rate_limited"}')
    assert isinstance(exc, e.RateLimitedError) and exc.retry_after == 60


def test_an_html_502_from_a_proxy_is_a_server_error() -> None:
    exc = e.error_from_reply(502, {"x-request-id": "req_p"}, b"<html>Bad gateway</html>")
    assert type(exc) is e.ServerError and exc.status == 502 and exc.request_id == "req_p"


def test_connection_failures_are_retried_then_raised() -> None:
    session, _ = _session()
    with pytest.raises(e.ConnectionFailedError, match="after 5 attempt"):
        _run(p.get(session, "/x"), lambda send: p.Failure(ConnectionRefusedError("refused")))


def test_the_token_is_granted_once_and_renewed_before_expiry() -> None:
    session, now = _session()
    grants = []

    def answer(send: p.Send) -> p.Outcome:
        if send.path == p.TOKEN_PATH:
            grants.append(send.json)
            return _reply(200, {**TOKEN, "access_token": f"tok{len(grants)}"})
        return _reply(200, {"auth": send.headers["Authorization"]})

    assert _run(p.get(session, "/x"), answer)[0] == {"auth": "Bearer tok1"}
    now[0] += 800  # within the token's lifetime, less the margin (60 s of 900)
    assert _run(p.get(session, "/x"), answer)[0] == {"auth": "Bearer tok1"}
    now[0] += 41  # 841 s: past 900 - 60
    assert _run(p.get(session, "/x"), answer)[0] == {"auth": "Bearer tok2"}
    assert grants[0] == {
        "grant_type": "client_credentials",
        "client_id": "svc_1",
        "client_secret": "secret",
    }


def test_a_401_renews_the_token_once() -> None:
    session, _ = _session()
    tokens = iter(["old", "new"])
    calls: list[str] = []

    def answer(send: p.Send) -> p.Outcome:
        if send.path == p.TOKEN_PATH:
            return _reply(200, {**TOKEN, "access_token": next(tokens)})
        calls.append(send.headers["Authorization"])
        if send.headers["Authorization"] == "Bearer old":
            return _reply(401, {"error": "unauthenticated", "message": "expired"})
        return _reply(200, {"ok": True})

    assert _run(p.get(session, "/x"), answer)[0] == {"ok": True}
    assert calls == ["Bearer old", "Bearer new"] and session.grants == 2


def test_a_second_401_is_raised() -> None:
    session, _ = _session()

    def answer(send: p.Send) -> p.Outcome:
        if send.path == p.TOKEN_PATH:
            return _reply(200, TOKEN)
        return _reply(401, {"error": "unauthenticated", "message": "revoked"})

    with pytest.raises(e.AuthenticationError, match="revoked"):
        _run(p.get(session, "/x"), answer)
    assert session.grants == 2


def _asset(n: int, created: str) -> dict[str, Any]:
    return {
        "id": f"asset_{n:026d}",
        "assetKey": f"K{n}",
        "createdAt": created,
        "updatedAt": created,
    }


class _Server:
    """Pages of ``records`` newest first; ``expire`` makes the next cursor request fail."""

    def __init__(self, records: list[dict[str, Any]], size: int) -> None:
        self.records, self.size, self.expire = records, size, False

    def __call__(self, send: p.Send) -> p.Outcome:
        if send.path == p.TOKEN_PATH:
            return _reply(200, TOKEN)
        assert send.params is not None
        cursor = send.params.get("cursor")
        if cursor and self.expire:
            self.expire = False
            return _reply(400, {"error": "invalid_cursor", "message": "expired"})
        start = int(cursor or 0)
        page = self.records[start : start + self.size]
        more = start + self.size < len(self.records)
        return _reply(
            200,
            {
                "assets": page,
                "pagination": {"nextCursor": str(start + self.size) if more else None},
            },
        )


def _walk(server: _Server, expire_after: int | None = None) -> list[str]:
    session, _ = _session()
    walk = p.Walk(p.ASSETS, {}, page_size=server.size)
    ids: list[str] = []
    pages = 0
    while not walk.done:
        records, _ = _run(walk.next_page(session), server)
        ids += [r.id for r in records]
        pages += 1
        if pages == expire_after:
            server.expire = True
    return ids


def test_a_walk_follows_the_cursor_to_the_end() -> None:
    records = [_asset(n, f"2026-01-01T00:00:{59 - n // 10:02d}.000Z") for n in range(25)]
    assert _walk(_Server(records, 10)) == [r["id"] for r in records]


def test_an_expired_cursor_restarts_the_walk_without_duplicates_or_gaps() -> None:
    # Several records share a millisecond, across the page boundary where the cursor expires.
    stamps = [f"2026-01-01T00:00:{59 - n // 4:02d}.000Z" for n in range(30)]
    records = [_asset(n, stamps[n]) for n in range(30)]
    assert _walk(_Server(records, 7), expire_after=2) == [r["id"] for r in records]


def test_records_created_after_the_walk_began_are_not_returned_after_a_restart() -> None:
    records = [_asset(n, f"2026-01-01T00:00:{50 - n:02d}.000Z") for n in range(20)]
    server = _Server(records, 5)
    session, _ = _session()
    walk = p.Walk(p.ASSETS, {}, page_size=5)
    seen = [r.id for r in _run(walk.next_page(session), server)[0]]
    # A new asset, newer than all, arrives; then the cursor expires.
    server.records = [_asset(99, "2026-01-01T00:01:00.000Z"), *records]
    server.expire = True
    while not walk.done:
        seen += [r.id for r in _run(walk.next_page(session), server)[0]]
    assert seen == [r["id"] for r in records] and walk.restarts == 1


def test_an_invalid_first_page_is_raised() -> None:
    session, _ = _session()
    walk = p.Walk(p.ASSETS, {"status": "nope"})

    def answer(send: p.Send) -> p.Outcome:
        if send.path == p.TOKEN_PATH:
            return _reply(200, TOKEN)
        return _reply(400, {"error": "validation", "message": "status must be one of ..."})

    with pytest.raises(e.ValidationError):
        _run(walk.next_page(session), answer)


def test_filters_become_the_apis_query_parameters() -> None:
    berlin = timezone(timedelta(hours=1))
    assert p.query(
        status="active",
        asset_kind=None,
        updated_after=datetime(2026, 3, 1, 12, 0, tzinfo=berlin),
        created_after=datetime(2026, 3, 1, 12, 0),  # noqa: DTZ001  (naive: taken as UTC)
    ) == {
        "status": "active",
        "updatedAfter": "2026-03-01T11:00:00.000000Z",
        "createdAfter": "2026-03-01T12:00:00.000000Z",
    }


def test_records_parse_timestamps_and_tolerate_new_fields() -> None:
    from registra_client._records import Asset

    asset = Asset.from_api(
        {
            **_asset(1, "2026-05-25T14:08:33.120Z"),
            "assetKind": "vehicle",
            "displayName": "Tug",
            "description": "",
            "sourceKind": "manual",
            "status": "active",
            "custodianResponsibilityId": None,
            "commissionedAt": None,
            "decommissionedAt": None,
            "aFieldOfAFutureVersion": {"x": 1},
        }
    )
    assert asset.created_at == datetime(2026, 5, 25, 14, 8, 33, 120000, tzinfo=UTC)
    assert asset.commissioned_at is None and asset.display_name == "Tug"
    with pytest.raises(AttributeError):
        asset.__dict__  # noqa: B018  (slots: a million of them stay small)
