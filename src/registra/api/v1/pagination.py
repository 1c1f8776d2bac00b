"""Keyset cursors: opaque base64url tokens, HMAC-signed, bound to organization, endpoint and
filters, valid for ``REGISTRA_CURSOR_TTL_SECONDS`` (24 h by default)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

import orjson
from django.conf import settings

from registra.api.v1.readers import Position
from registra.core.errors import InvalidCursor
from registra.core.timefmt import from_micros, to_micros

_MAC_BYTES = 16
_VERSION = 1


def _key() -> bytes:
    return hashlib.sha256(b"registra.api.v1.cursor:" + settings.SECRET_KEY.encode()).digest()


def _binding(organization_id: str, endpoint: str, filters: dict[str, Any]) -> str:
    """A short fingerprint of what the cursor was issued for; it does not reveal the filters."""
    material = orjson.dumps([organization_id, endpoint, filters], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()[:24]


def encode_cursor(
    *, organization_id: str, endpoint: str, filters: dict[str, Any], position: Position
) -> str:
    payload = orjson.dumps(
        [
            _VERSION,
            _binding(organization_id, endpoint, filters),
            to_micros(position.created_at),
            position.id,
            int(time.time()),
        ]
    )
    mac = hmac.new(_key(), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()


def decode_cursor(
    token: str, *, organization_id: str, endpoint: str, filters: dict[str, Any]
) -> Position:
    """The position a cursor points after, or ``InvalidCursor``."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor("cursor is not a valid pagination token") from None
    # The decoder skips foreign characters, maps "+/" like "-_" and ignores the spare bits of
    # the last character, so several strings decode alike: accept only the one we issued.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        raise InvalidCursor("cursor is not a valid pagination token")
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    expected = hmac.new(_key(), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if len(mac) != _MAC_BYTES or not hmac.compare_digest(mac, expected):
        raise InvalidCursor("cursor is not a valid pagination token")
    try:
        version, binding, micros, last_id, issued = orjson.loads(payload)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        raise InvalidCursor("cursor is not a valid pagination token") from None
    if version != _VERSION or binding != _binding(organization_id, endpoint, filters):
        raise InvalidCursor(
            "cursor was issued for another list or other filters; repeat the first request's "
            "filters or start again without a cursor"
        )
    if time.time() - issued > settings.REGISTRA_CURSOR_TTL_SECONDS:
        raise InvalidCursor("cursor has expired; start the walk again without a cursor")
    return Position(created_at=from_micros(micros), id=last_id)
