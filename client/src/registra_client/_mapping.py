"""Mapping an export's rows to register fields with the profile: value maps, defaults, dates,
numbers, the holder and the calibration. Register rules (lengths, key syntax, transitions) are
the server's; this module only says whether a row can be read as the profile describes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from registra_client._dates import DateParser
from registra_client._fields import (
    DATE,
    DEFAULT_SOURCE_KIND,
    KEY,
    NUMBER,
    SOURCE_KIND,
    Problem,
    field_kind,
    number_problem,
    parse_number,
    status_problem,
)
from registra_client._profile import CalibrationColumns, Profile, ProfileError
from registra_client._table import Row, RowIssue

Converter = Callable[[str], object]
_LISTED_COLUMNS = 40


@dataclass(frozen=True, slots=True)
class Calibration:
    """The last calibration a row reports: when, valid until when, and its readiness state."""

    performed_on: date
    due_on: date | None
    state: str


@dataclass(frozen=True, slots=True)
class MappedRow:
    """A row read as the profile says: its key (stripped), its register fields (typed; None
    for a blank cell without a default), the holder reference, the calibration, and the row's
    cells as received (``source_row``)."""

    line: int
    key: str
    fields: dict[str, object]
    holder: str | None
    calibration: Calibration | None
    source_row: dict[str, str]


class Mapper:
    """Maps the rows of one file, whose header is ``columns``, with ``profile``.

    Raises ``ProfileError`` naming each column the profile maps that the file lacks.
    ``unknown_columns`` are the file's columns the profile does not use (worth a note).
    """

    def __init__(self, profile: Profile, columns: list[str]) -> None:
        self.profile = profile
        used = _used_columns(profile)
        missing = [(path, col) for path, col in used.items() if col not in columns]
        if missing:
            raise ProfileError(_missing(path, col, columns) for path, col in missing)
        self.unknown_columns = [c for c in columns if c not in set(used.values())]
        self._key_column = profile.key_column
        self._dates = DateParser(profile.dates)
        self._converters = [
            (name, column, self._converter(name))
            for name, column in profile.columns.items()
            if name != KEY
        ]
        # Defaults of the fields no column maps: the same on every row.
        self._fixed: dict[str, object] = {SOURCE_KIND: DEFAULT_SOURCE_KIND}
        for name in profile.defaults:
            if name not in profile.columns:
                self._fixed[name] = self._default(name)
        custody = profile.custody
        self._holder_column = custody.holder_column if custody else None
        self._holder_email = custody is not None and custody.match == "email"
        self._calibration = _CalibrationReader(profile.calibration, self._dates)

    def map(self, row: Row) -> MappedRow | list[RowIssue]:
        """The row's fields, or every problem of the row (its own issues first)."""
        values, line = row.values, row.line
        issues = list(row.issues)
        if issues and not values:
            return issues  # not a record at all (a JSON Lines line that is no object)
        get = values.get
        raw_key = get(self._key_column, "")
        key = raw_key.strip()
        if not key:
            issues.append(RowIssue(line, self._key_column, raw_key, "the key column is empty"))
        fields: dict[str, object] = dict(self._fixed)
        for name, column, convert in self._converters:
            raw = get(column, "")
            value = convert(raw)
            if value.__class__ is Problem:
                issues.append(RowIssue(line, column, raw, value.reason))  # type: ignore[attr-defined]
            else:
                fields[name] = value
        holder = None
        if self._holder_column is not None:
            holder = get(self._holder_column, "").strip() or None
            if holder and self._holder_email:
                holder = holder.lower()
        calibration = self._calibration.read(get, line, issues)
        if issues:
            return issues
        return MappedRow(line, key, fields, holder, calibration, values)

    def _default(self, name: str) -> object:
        text = self.profile.defaults.get(name, "").strip()
        if not text:
            return None
        value = _typed(name, self._dates)(text)
        if isinstance(value, Problem):
            raise ProfileError([(f"defaults.{name}", value.reason)])
        return value

    def _converter(self, name: str) -> Converter:
        """The cell -> value function of one mapped field (built once: rows are many)."""
        default, typed = self._default(name), _typed(name, self._dates)
        table = self.profile.values.get(name)
        if table is None:
            if typed is _text:
                return lambda raw: raw.strip() or default
            lower = name == "status"  # "Active" is active when there is no value map

            def convert(raw: str) -> object:
                s = raw.strip()
                return typed(s.lower() if lower else s) if s else default

            return convert
        exact = {k.strip(): v.strip() for k, v in table.items()}
        folded = {k.casefold(): v for k, v in exact.items()}
        known = ", ".join(table)

        def convert_mapped(raw: str) -> object:
            s = raw.strip()
            if not s:
                return default
            value = exact.get(s)
            if value is None:
                value = folded.get(s.casefold())
                if value is None:
                    return Problem(f"unknown {name} value {s!r}; the profile maps: {known}")
            return typed(value) if value else default

        return convert_mapped


def _text(s: str) -> object:
    return s


def _typed(name: str, dates: DateParser) -> Converter:
    """Stripped, non-blank text -> the field's value (or a ``Problem``)."""
    kind = field_kind(name)
    if kind == DATE:

        def as_date(s: str) -> object:
            found = dates(s)
            return Problem(found) if isinstance(found, str) else found

        return as_date
    if kind == NUMBER:

        def as_number(s: str) -> object:
            found = parse_number(s)
            return Problem(number_problem(s)) if found is None else found

        return as_number
    if name == "status":

        def as_status(s: str) -> object:
            problem = status_problem(s)
            return Problem(problem) if problem else s

        return as_status
    return _text


class _CalibrationReader:
    """The calibration cells of a row as a ``Calibration`` (None when they are all blank)."""

    def __init__(self, columns: CalibrationColumns | None, dates: DateParser) -> None:
        self.columns, self.dates = columns, dates
        if columns is not None:
            self.last, self.due = columns.last_column, columns.due_column
            self.result = columns.result_column
            self.exact = {k.strip(): v for k, v in columns.results.items()}
            self.folded = {k.casefold(): v for k, v in self.exact.items()}
            self.known = ", ".join(columns.results)

    def read(
        self, get: Callable[[str, str], str], line: int, issues: list[RowIssue]
    ) -> Calibration | None:
        """The row's calibration; its problems are added to ``issues`` (then None)."""
        if self.columns is None:
            return None
        raw_last = get(self.last, "")
        raw_due = get(self.due, "") if self.due else ""
        raw_result = get(self.result, "") if self.result else ""
        last, due, result = raw_last.strip(), raw_due.strip(), raw_result.strip()
        if not (last or due or result):
            return None
        problems: list[tuple[str, str, str]] = []  # column, cell, reason
        performed = self._date(self.last, raw_last, last, problems)
        if not last:
            problems.append((self.last, raw_last, "a calibration needs its date"))
        due_on = self._date(self.due, raw_due, due, problems) if self.due else None
        state = self._state(raw_result, result, problems) if self.result else "ready"
        if performed and due_on and due_on < performed:
            reason = f"the due date {due} is before the calibration date {last}"
            problems.append((self.due or "", raw_due, reason))
        if problems or performed is None or state is None:
            issues.extend(RowIssue(line, *p) for p in problems)
            return None
        return Calibration(performed, due_on, state)

    def _date(
        self, column: str | None, raw: str, text: str, problems: list[tuple[str, str, str]]
    ) -> date | None:
        if not text or column is None:
            return None
        found = self.dates(text)
        if isinstance(found, str):
            problems.append((column, raw, found))
            return None
        return found

    def _state(self, raw: str, text: str, problems: list[tuple[str, str, str]]) -> str | None:
        state = self.exact.get(text) or self.folded.get(text.casefold())
        if state is None:
            why = (
                f"unknown calibration result {text!r}"
                if text
                else "the calibration result is blank"
            )
            problems.append((self.result or "", raw, f"{why}; the profile maps: {self.known}"))
        return state


def _used_columns(profile: Profile) -> dict[str, str]:
    """Path in the profile -> the file column it names."""
    used = {f"columns.{name}": column for name, column in profile.columns.items()}
    if profile.custody:
        used["custody.holder_column"] = profile.custody.holder_column
    cal = profile.calibration
    if cal:
        used["calibration.last_column"] = cal.last_column
        for key in ("due_column", "result_column"):
            if getattr(cal, key):
                used[f"calibration.{key}"] = getattr(cal, key)
    return used


def _missing(path: str, column: str, columns: list[str]) -> tuple[str, str]:
    listed = ", ".join(columns[:_LISTED_COLUMNS]) + (
        ", …" if len(columns) > _LISTED_COLUMNS else ""
    )
    near = [c for c in columns if c.casefold() == column.casefold()]
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return (
        path,
        f"column {column!r} is not in the file{hint}; its columns are: {listed or '(none)'}",
    )
