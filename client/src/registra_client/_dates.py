"""Dates as a CMMS writes them (``dd.mm.yyyy``, ``m/d/yy``...), tried in the profile's order and
then as ISO ``yyyy-mm-dd``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

ISO = "yyyy-mm-dd"
ISO_NAMES = ("iso", ISO)
TOKENS_HELP = "dd, d, mm, m, yyyy, yy with the separators . / - or a space, or iso"
_TOKEN = re.compile(r"yyyy|yy|dd|d|mm|m|[./\- ]")
# token -> (part, regex); single letters take one or two digits, as "1.3.2025" is written.
_PARTS = {
    "yyyy": ("y", r"(\d{4})"),
    "yy": ("yy", r"(\d{2})"),
    "dd": ("d", r"(\d{2})"),
    "d": ("d", r"(\d{1,2})"),
    "mm": ("m", r"(\d{2})"),
    "m": ("m", r"(\d{1,2})"),
}
# Exports often carry a time of day after the date ("31.01.2025 14:30"); a date field drops it.
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_MONTHS = (
    *("January", "February", "March", "April", "May", "June", "July"),
    *("August", "September", "October", "November", "December"),
)
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class DateFormat:
    """One compiled date format: its text as the profile gives it, its pattern and which
    part (``d``, ``m``, ``y``, ``yy``) each group of the pattern is."""

    text: str
    pattern: re.Pattern[str]
    parts: tuple[str, ...]


def compile_format(text: str) -> DateFormat:
    """The format ``text`` (``dd.mm.yyyy``, ``iso``...); ``ValueError`` says what is wrong."""
    spec = ISO if text.strip().lower() in ISO_NAMES else text.strip().lower()
    pos, regex, parts, previous = 0, "", [], ""
    while pos < len(spec):
        token = _TOKEN.match(spec, pos)
        if token is None:
            raise ValueError(f"{text!r} is not a date format: use {TOKENS_HELP}")
        word = token.group()
        if word in _PARTS:
            if previous in ("d", "m") or (word in ("d", "m") and previous in _PARTS):
                # "dm" could split "112" two ways: a one-or-two digit part needs a separator.
                raise ValueError(f"{text!r} is ambiguous: put a separator after d or m")
            part, group = _PARTS[word]
            parts.append(part)
            regex += group
        else:
            regex += re.escape(word)
        pos, previous = token.end(), word
    if sorted(p[0] for p in parts) != ["d", "m", "y"]:
        raise ValueError(f"{text!r} needs one day, one month and one year: use {TOKENS_HELP}")
    return DateFormat(text, re.compile(regex + _TIME), tuple(parts))


def _calendar_problem(year: int, month: int, day: int) -> str | None:
    """Why year-month-day is no day of the calendar, or None."""
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    try:
        date(year, month, day)
    except ValueError:
        return f"{_MONTHS[month - 1]} {year} has no day {day}"
    return None


class DateParser:
    """Parses date cells with the profile's formats, then ISO (always tried last). Calling it
    gives a ``date``, or a ``str`` that says why the text is not one. Results are cached:
    an export repeats the same dates on many rows."""

    def __init__(self, formats: Sequence[str]) -> None:
        compiled = [compile_format(f) for f in formats]
        if not any(f.text.strip().lower() in ISO_NAMES for f in compiled):
            compiled.append(compile_format(ISO))
        self.formats = tuple(compiled)
        self.names = ", ".join(f.text for f in compiled)
        self._cache: dict[str, date | str] = {}

    def __call__(self, text: str) -> date | str:
        found = self._cache.get(text)
        if found is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # bounded memory; a fresh cache refills in a few rows
            found = self._cache[text] = self._parse(text)
        return found

    def _parse(self, text: str) -> date | str:
        problem = None
        for fmt in self.formats:
            match = fmt.pattern.fullmatch(text)
            if match is None:
                continue
            values = dict(zip(fmt.parts, map(int, match.groups()), strict=True))
            year = values["y"] if "y" in values else _century(values["yy"])
            problem = _calendar_problem(year, values["m"], values["d"])
            if problem is None:
                return date(year, values["m"], values["d"])
        why = f": {problem}" if problem else ""
        return f"{text!r} is not a date in the formats {self.names}{why}"


def _century(yy: int) -> int:
    """Two-digit years as POSIX ``strptime`` reads them: 69-99 -> 19xx, 00-68 -> 20xx."""
    return 1900 + yy if yy >= 69 else 2000 + yy
