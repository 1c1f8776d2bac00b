"""What every reader gives: a ``Table`` of ``Row`` records, ``RowIssue`` for a problem in one row
and ``ReadError`` when the file cannot be read at all."""

from __future__ import annotations

import codecs
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from types import TracebackType

VALUE_LIMIT = 200
MARK_ERRORS = "registra-mark"
# What MARK_ERRORS leaves for an undecodable byte: U+DC00 + the byte (a lone surrogate, which
# no strict decoder produces), so the row holding it can be found and the byte replaced.
MARKED = re.compile("[\udc00-\udcff]")
REPLACEMENT = "\ufffd"


def _mark(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(MARK_ERRORS, _mark)


class ReadError(Exception):
    """The file cannot be read at all (empty, no data rows, not the format it should be...).
    ``line`` is the line (or sheet row) where reading stopped, when there is one."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class RowIssue:
    """A problem with one cell (``column``; "" for the row as a whole) of the row starting on
    ``line``. ``value`` is the cell as read, cut to 200 characters (then ending in "…")."""

    line: int
    column: str
    value: str
    reason: str

    def __post_init__(self) -> None:
        if len(self.value) > VALUE_LIMIT:
            object.__setattr__(self, "value", self.value[:VALUE_LIMIT] + "…")


@dataclass(frozen=True, slots=True)
class Row:
    """One record of the export: the line it starts on (CSV/JSONL) or its sheet row (XLSX),
    its cells by column name (text, whitespace kept) and what was wrong reading it."""

    line: int
    values: dict[str, str]
    issues: tuple[RowIssue, ...] = ()


class Table:
    """An export being read: its ``columns``, how it was decoded, and its rows when iterated
    (once; streamed, never the whole file in memory). Close it, or use it as a context manager.

    ``bytes_read`` and ``size`` give the progress (for XLSX: sheet rows read, and the sheet's
    rows when the workbook says). ``blank_rows`` counts the rows skipped as blank so far.
    Iterating raises ``ReadError`` at the end when the file had no data row.
    """

    def __init__(
        self, *, columns: list[str], encoding: str, delimiter: str | None, size: int | None
    ) -> None:
        self.columns = columns
        self.encoding = encoding
        self.delimiter = delimiter
        self.size = size
        self.blank_rows = 0
        self._started = False

    @property
    def bytes_read(self) -> int:
        """How far reading has got: bytes of the file (rows of the sheet for XLSX)."""
        return 0

    def __iter__(self) -> Iterator[Row]:
        if self._started:
            raise RuntimeError("a table is read once: call read_table again to read it again")
        self._started = True
        rows = self._rows()
        first = next(rows, None)
        if first is None:
            raise ReadError("the file has a header but no data rows")
        yield first
        yield from rows

    def _rows(self) -> Iterator[Row]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (a caller's open file object is left open)."""

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def header_names(cells: list[str], blank_name: Callable[[int], str], line: int) -> list[str]:
    """Header cells as column names: stripped; a blank one named ``column <blank_name(n)>``
    (n 1-based). Duplicates are a ``ReadError``: a row could not say which is which."""
    names = [c.strip() or f"column {blank_name(n)}" for n, c in enumerate(cells, start=1)]
    counts = Counter(names)
    twice = [n for n in counts if counts[n] > 1]
    if twice:
        listed = ", ".join(repr(n) for n in twice)
        raise ReadError(
            f"the header names {listed} more than once: give each column its own name", line=line
        )
    return names


def is_blank(cells: list[str]) -> bool:
    """Whether every cell is blank (whitespace only)."""
    return all(not c.strip() for c in cells)


def unmark(
    line: int, columns: list[str], cells: list[str], encoding: str, hint: str
) -> tuple[list[str], tuple[RowIssue, ...]]:
    """``cells`` with each undecodable byte replaced by U+FFFD, and one issue per cell that had
    one (``columns[i]`` names cell i; "" past the header)."""
    reason = f"not valid {encoding}: the file mixes encodings? {hint}"
    clean, issues = [], []
    for n, cell in enumerate(cells):
        if MARKED.search(cell):
            cell = MARKED.sub(REPLACEMENT, cell)
            issues.append(RowIssue(line, columns[n] if n < len(columns) else "", cell, reason))
        clean.append(cell)
    return clean, tuple(issues)


def cell_text(value: object) -> str:
    """A cell value of a workbook or a JSON object as text: dates ISO (no time at midnight),
    integral numbers without ".0", booleans ``true``/``false``, nothing as "", lists and
    objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)
