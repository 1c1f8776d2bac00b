"""Log lines as settings.LOGGING writes them: one JSON object per line, carrying every extra.

Each test swaps the stream of the handler Django configured at start-up (the root logger's
``console`` handler), so what is read back is what an operator's log collector receives."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert isinstance(handler, logging.StreamHandler)
    # Swapped without setStream(), which flushes the old stream: a test that ran the CLI
    # (django.setup() again) may have left it bound to an already closed capture file.
    stream = io.StringIO()
    previous, handler.stream = handler.stream, stream
    try:
        yield stream
    finally:
        handler.stream = previous


def _objects(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # each line is one whole object


def test_a_log_line_carries_every_extra(lines: io.StringIO) -> None:
    at = datetime(2026, 5, 25, 14, 8, 33, tzinfo=UTC)
    logging.getLogger("registra.probe").warning(
        "slow %s",
        "request",
        extra={
            "status_code": 503,
            "request_id": "req_01J",
            "duration_ms": 12.5,
            "organization_id": "org_01J",
            "anything": {"nested": [1, "two"]},
            "at": at,
        },
    )
    (line,) = _objects(lines)
    assert line["message"] == "slow request"
    assert (line["level"], line["logger"]) == ("WARNING", "registra.probe")
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert line["status_code"] == 503
    assert line["request_id"] == "req_01J"
    assert line["duration_ms"] == 12.5
    assert line["organization_id"] == "org_01J"
    assert line["anything"] == {"nested": [1, "two"]}
    assert datetime.fromisoformat(line["at"]) == at


def test_an_exception_is_one_line_with_its_traceback(lines: io.StringIO) -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logging.getLogger("registra.probe").exception("failed", extra={"request_id": "req_2"})
    (line,) = _objects(lines)
    assert line["message"] == "failed"
    assert line["request_id"] == "req_2"
    assert "Traceback" in line["exc"] and "RuntimeError: boom" in line["exc"]


@pytest.mark.django_db
def test_djangos_request_lines_carry_status_request_id_and_path(
    lines: io.StringIO, client: Client
) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    (line,) = [o for o in _objects(lines) if o["logger"] == "django.request"]
    assert line["status_code"] == 404
    assert line["request_id"] == response["X-Request-Id"]
    assert (line["method"], line["path"]) == ("GET", "/no-such-page")
    assert "request" not in line  # the request object itself is not dumped
