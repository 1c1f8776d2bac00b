"""Date formats: the tokens, the order they are tried in, and why a text is not a date."""

from __future__ import annotations

from datetime import date

import pytest

from registra_client._dates import DateParser, compile_format


@pytest.mark.parametrize(
    ("formats", "text", "day"),
    [
        (["dd.mm.yyyy"], "31.01.2025", date(2025, 1, 31)),
        (["d.m.yyyy"], "1.3.2025", date(2025, 3, 1)),
        (["d.m.yyyy"], "01.03.2025", date(2025, 3, 1)),
        (["mm/dd/yyyy"], "03/01/2025", date(2025, 3, 1)),
        (["dd-mm-yy"], "01-03-25", date(2025, 3, 1)),
        (["dd-mm-yy"], "01-03-99", date(1999, 3, 1)),
        (["dd mm yyyy"], "01 03 2025", date(2025, 3, 1)),
        (["yyyymmdd"], "20250301", date(2025, 3, 1)),
        (["DD.MM.YYYY"], "01.03.2025", date(2025, 3, 1)),
        (["dd.mm.yyyy"], "2025-03-01", date(2025, 3, 1)),  # ISO is always tried last
        (["iso"], "2025-03-01", date(2025, 3, 1)),
        ([], "2025-03-01T14:30:00", date(2025, 3, 1)),  # a time of day is dropped
        (["dd.mm.yyyy"], "01.03.2025 14:30", date(2025, 3, 1)),
        (["mm/dd/yyyy", "dd/mm/yyyy"], "13/01/2025", date(2025, 1, 13)),  # in order
    ],
)
def test_formats(formats: list[str], text: str, day: date) -> None:
    assert DateParser(formats)(text) == day


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "31.02.2025",
            "'31.02.2025' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd: "
            "February 2025 has no day 31",
        ),
        ("29.02.2025", "February 2025 has no day 29"),
        (
            "2025-13-01",
            "'2025-13-01' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd: "
            "there is no month 13",
        ),
        ("soon", "'soon' is not a date in the formats dd.mm.yyyy, yyyy-mm-dd"),
        ("1.3.2025", "is not a date"),  # dd wants two digits
    ],
)
def test_not_a_date_says_why(text: str, why: str) -> None:
    found = DateParser(["dd.mm.yyyy"])(text)
    assert isinstance(found, str) and why in found


def test_a_leap_day_is_a_date_and_results_are_cached() -> None:
    parse = DateParser(["dd.mm.yyyy"])
    assert parse("29.02.2024") == date(2024, 2, 29)
    assert parse("29.02.2024") is parse("29.02.2024")


@pytest.mark.parametrize(
    ("fmt", "words"),
    [
        ("dd/qq/yyyy", "is not a date format"),
        ("dd.mm", "needs one day, one month and one year"),
        ("dd.dd.yyyy", "needs one day, one month and one year"),
        ("dm.yyyy", "ambiguous"),
        ("d.myyyy", "ambiguous"),
    ],
)
def test_bad_formats(fmt: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        compile_format(fmt)
