"""Time helpers: aware UTC datetimes, API formatting with milliseconds and ``Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


_API_STAMP = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"


def api_format(value: datetime | None) -> str | None:
    """``2026-05-25T14:08:33.000Z`` (milliseconds truncated); None stays None.

    PostgreSQL writes the same text for the API's reads (``api/v1/readers.py``)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # printf-style formatting: a page has up to 800 of these, and it takes about 30% less time
    # than isoformat(timespec=...) with its keyword parsing and an offset to cut off.
    return _API_STAMP % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 1000,
    )


# An ISO 8601 date-time: date, "T", time with up to 6 fraction digits, optional offset.
_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:[Zz]|[+-]\d\d:\d\d)?"
)


def parse_timestamp(raw: str) -> datetime:
    """Parse an ISO 8601 date-time (``2026-05-25T14:08:33.000Z``) to an aware UTC datetime; one
    without an offset is UTC, like every timestamp Registra writes.

    Raises ValueError with a message fit for the user: for anything else (unix seconds, a bare
    date, free text), and for a time whose UTC equivalent falls outside years 1-9999."""
    if not isinstance(raw, str) or not _ISO_TIMESTAMP.fullmatch(raw):
        raise ValueError("must be an ISO 8601 timestamp, e.g. 2026-05-25T14:08:33.000Z")
    try:
        parsed = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("must be a valid timestamp between years 0001 and 9999 UTC") from None


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch: an exact, compact form for cursors."""
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
