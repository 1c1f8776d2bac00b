"""``safe_cell``: no exported cell is run as a formula by a spreadsheet."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from registra.core.csvcells import safe_cell


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["TW-001", "a=b", " =1", "", 42])
def test_other_values_are_kept(value: object) -> None:
    assert safe_cell(value) == str(value)


def test_none_is_empty_and_times_are_local() -> None:
    assert safe_cell(None) == ""
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert (
            safe_cell(datetime(2026, 7, 1, 10, 0, 30, 5, tzinfo=UTC)) == "2026-07-01T12:00:30+02:00"
        )
