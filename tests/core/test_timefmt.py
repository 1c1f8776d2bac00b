"""``core.timefmt.parse_timestamp``: the one parser of timestamps given by people and
clients (API filters, ``--expires-at``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from registra.core.timefmt import api_format, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-25T14:08:33.000Z", datetime(2026, 5, 25, 14, 8, 33, tzinfo=UTC)),
        ("2026-05-25t14:08:33z", datetime(2026, 5, 25, 14, 8, 33, tzinfo=UTC)),
        ("2026-05-25T14:08:33.123456", datetime(2026, 5, 25, 14, 8, 33, 123456, tzinfo=UTC)),
        ("2026-05-25T16:08:33+02:00", datetime(2026, 5, 25, 14, 8, 33, tzinfo=UTC)),
        ("2026-01-01T00:30:00-01:00", datetime(2026, 1, 1, 1, 30, tzinfo=UTC)),
    ],
)
def test_iso_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_what_registra_writes_parses_back_to_the_same_instant() -> None:
    value = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_timestamp(api_format(value) or "") == value


@pytest.mark.parametrize(
    "text",
    [
        "1700000000",
        "2026-05-25",
        "next tuesday",
        "2026-05-25 14:08:33",
        " 2026-05-25T14:08:33Z",
        "2026-05-25T14:08:33.1234567Z",
        "2026-05-25T14:08:33+0200",
        "",
    ],
)
def test_anything_else_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"^must be an ISO 8601 timestamp, e\.g\. 2026-05-25T"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", "2026-02-30T00:00:00Z"]
)
def test_impossible_instants_are_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(ValueError, match=r"^must be a valid timestamp between years 0001 and 9999"):
        parse_timestamp(text)
