"""JSON Lines exports: one JSON object per line, UTF-8; the first object's keys are the
columns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain

from registra_client._readers import Stream
from registra_client._table import (
    MARK_ERRORS,
    MARKED,
    ReadError,
    Row,
    RowIssue,
    Table,
    cell_text,
    header_names,
    is_blank,
    unmark,
)

ENCODING_HINT = "JSON Lines files are UTF-8"
_decode = json.JSONDecoder().decode


class JsonLinesTable(Table):
    """A JSON Lines export (see ``read_table``)."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._file = stream.buffered()
        self._numbered = enumerate(self._file, start=1)
        bom = stream.head.startswith(b"\xef\xbb\xbf")
        self._pending: list[Row | None] = []  # read while looking for the first object
        self._keys: list[str] = []  # the last object's keys, stripped, as written
        self._names: dict[tuple[str, ...], list[str]] = {}
        columns = self._first_columns()
        super().__init__(
            columns=columns,
            encoding="utf-8-sig" if bom else "utf-8",
            delimiter=None,
            size=stream.size,
        )

    @property
    def bytes_read(self) -> int:
        return self._stream.count

    def _first_columns(self) -> list[str]:
        """The keys of the first object; the lines read to find it are kept for ``_rows``."""
        for number, raw in self._numbered:
            row = self._row(number, raw)
            self._pending.append(row)
            if row is not None and row.values:
                return header_names(self._keys, str, number)
        if not any(self._pending):
            raise ReadError("the file is empty")
        return []

    def _row(self, number: int, raw: bytes) -> Row | None:
        """The row on line ``number``; None for a blank line."""
        text = raw.decode("utf-8", MARK_ERRORS)
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.strip()
        if not text:
            return None
        try:
            data = _decode(text)
        except ValueError as exc:
            return _not_an_object(number, text, f"{getattr(exc, 'msg', exc)}")
        if not isinstance(data, dict):
            return _not_an_object(number, text, f"it is {_kind(data)}")
        raw_keys = tuple(data)
        keys = self._names.get(raw_keys)
        if keys is None:  # exports repeat the same keys on every line: name them once
            keys = [k.strip() or f"column {n}" for n, k in enumerate(raw_keys, start=1)]
            if len(self._names) < 64:
                self._names[raw_keys] = keys
        self._keys = keys
        cells = [v if v.__class__ is str else cell_text(v) for v in data.values()]
        issues: tuple[RowIssue, ...] = ()
        if not text.isascii() and MARKED.search(text):
            cells, issues = unmark(number, keys, cells, "utf-8", ENCODING_HINT)
        return Row(number, dict(zip(keys, cells, strict=True)), issues)

    def _rows(self) -> Iterator[Row]:
        names = set(self.columns)
        pending, self._pending = self._pending, []
        rows = chain(pending, (self._row(n, raw) for n, raw in self._numbered))
        for row in rows:
            if row is None or (row.values and is_blank(list(row.values.values()))):
                self.blank_rows += 1
                continue
            if row.values and not row.values.keys() >= names:
                for name in self.columns:
                    row.values.setdefault(name, "")  # as a CSV row's missing cells
            yield row

    def close(self) -> None:
        self._file.close()


def _not_an_object(number: int, text: str, why: str) -> Row:
    issue = RowIssue(number, "", text[:200], f"not a JSON object: {why}")
    return Row(number, {}, (issue,))


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return (
        "a number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else "true/false"
    )
