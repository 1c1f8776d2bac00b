"""Time helpers: aware UTC datetimes, API formatting with milliseconds and ``Z``."""

from __future__ import annotations

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


def parse_timestamp(raw: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC. Raises ValueError."""
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the epoch: an exact, compact form for cursors."""
    delta = value.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    from datetime import timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
