"""XLSX exports, streamed with openpyxl's read-only mode (cached values, never formulas)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from registra_client._profile import XlsxOptions
from registra_client._table import (
    ReadError,
    Row,
    RowIssue,
    Table,
    cell_text,
    header_names,
    is_blank,
)


class WorkbookTable(Table):
    """One sheet of an XLSX workbook (see ``read_table``); a row's ``line`` is its sheet row.
    ``bytes_read`` counts sheet rows read and ``size`` is the sheet's last row, when known."""

    def __init__(self, file: BinaryIO, options: XlsxOptions, *, owned: bool) -> None:
        # Rows above the header count as read: bytes_read reaches size (the last row) at the end.
        self._file, self._owned, self._read = file, owned, options.header_row - 1
        try:
            self._book = load_workbook(file, read_only=True, data_only=True)
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
            self._close_file()
            raise ReadError(f"not a valid XLSX (zip) file: {exc}") from None
        try:
            sheet = self._sheet(options.sheet)
            self._cells: Iterator[tuple[Any, ...]] = sheet.iter_rows(
                min_row=options.header_row, values_only=True
            )
            self._row_number = options.header_row
            columns = self._header(sheet.title)
        except BaseException:
            self.close()
            raise
        size = sheet.max_row if isinstance(sheet.max_row, int) else None
        super().__init__(columns=columns, encoding="xlsx", delimiter=None, size=size)

    @property
    def bytes_read(self) -> int:
        return self._read

    def _sheet(self, name: str | None) -> Any:
        names = self._book.sheetnames
        if name is None:
            if not names:
                raise ReadError("the workbook has no sheets")
            return self._book[names[0]]
        if name not in names:
            listed = ", ".join(repr(n) for n in names)
            raise ReadError(f"sheet {name!r} is not in the workbook; its sheets are: {listed}")
        return self._book[name]

    def _header(self, title: str) -> list[str]:
        values = next(self._cells, None)
        self._read += 1
        if values is None:
            raise ReadError(f"the file is empty (sheet {title!r} has no rows)")
        cells = [cell_text(v) for v in values]
        if is_blank(cells):
            if next(self._cells, None) is None:
                raise ReadError(f"the file is empty (sheet {title!r} has no rows)")
            line = self._row_number
            raise ReadError(
                f"row {line} of sheet {title!r} is blank: is xlsx.header_row right?", line=line
            )
        # Merged header cells read as blank after the first: they get their column letter.
        return header_names(cells, get_column_letter, self._row_number)

    def _rows(self) -> Iterator[Row]:
        columns, width = self.columns, len(self.columns)
        for line, values in enumerate(self._cells, start=self._row_number + 1):
            self._read += 1
            cells = [cell_text(v) for v in values]
            if is_blank(cells):
                self.blank_rows += 1
                continue
            issues: tuple[RowIssue, ...] = ()
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            elif len(cells) > width and not is_blank(cells[width:]):
                extra = " | ".join(cells[width:])
                reason = f"{len(cells)} cells but the header has {width}"
                issues = (RowIssue(line, "", extra, reason),)
            yield Row(line, dict(zip(columns, cells, strict=False)), issues)

    def close(self) -> None:
        book = getattr(self, "_book", None)
        if book is not None:
            book.close()
        self._close_file()

    def _close_file(self) -> None:
        if self._owned:
            self._file.close()
