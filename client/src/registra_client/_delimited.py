"""CSV exports: encoding and delimiter detection, then ``csv.reader`` over the decoded lines."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from registra_client._profile import CsvOptions
from registra_client._readers import Stream
from registra_client._table import (
    MARK_ERRORS,
    MARKED,
    ReadError,
    Row,
    RowIssue,
    Table,
    header_names,
    is_blank,
    unmark,
)

CELL_LIMIT = 1024 * 1024
DELIMITERS = ",;\t|"
ENCODING_HINT = "Save it as UTF-8 or set csv.encoding"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_TOO_LONG = "field larger than field limit"

# csv refuses a cell longer than its limit (128 KiB by default); a cell past 1 MiB is almost
# always an unbalanced quote swallowing the rest of the file. A higher limit set by the
# process is kept.
if csv.field_size_limit() < CELL_LIMIT:
    csv.field_size_limit(CELL_LIMIT)


def detect_encoding(
    head: bytes,
    at_end: bool,
    options: CsvOptions,
    later: Callable[[], bytes | None],
) -> str:
    """The codec to read the file with (see ``read_table``); ``ReadError`` if unknown.
    ``later`` gives the file's first non-ASCII text after ``head`` (None: there is none, or
    it cannot be read ahead): asked only when ``head`` is all ASCII, which any encoding reads
    alike."""
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if options.encoding != "auto":
        try:
            name = codecs.lookup(options.encoding).name
        except LookupError:
            raise ReadError(f"unknown encoding {options.encoding!r} (csv.encoding)") from None
        return "utf-8-sig" if name == "utf-8" and bom == "utf-8-sig" else name
    if bom:
        return bom
    sample = head
    if not at_end and head.isascii():
        sample, at_end = later() or head, False
    if _mostly_utf8(sample, at_end):
        return "utf-8"
    try:
        return codecs.lookup(options.fallback_encoding).name
    except LookupError:
        msg = f"unknown encoding {options.fallback_encoding!r} (csv.fallback_encoding)"
        raise ReadError(msg) from None


def _mostly_utf8(head: bytes, at_end: bool) -> bool:
    """Whether the head is UTF-8, or UTF-8 with a few stray bytes: a file that mixes
    encodings is read as UTF-8 so its stray rows are issues, not every other row garbled.
    (A cp1252 text almost never holds a valid UTF-8 multi-byte sequence.)"""
    # final=at_end: a multi-byte character cut at the 64 KiB boundary is not an error.
    text = codecs.getincrementaldecoder("utf-8")(MARK_ERRORS).decode(head, final=at_end)
    if text.isascii():
        return True
    stray = len(MARKED.findall(text))
    return stray == 0 or sum(not c.isascii() for c in text) - stray > stray


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | : ``csv.Sniffer``'s guess when the header line has it,
    else the one the header line has most of, else a comma."""
    header = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        guess = ""
    if guess and guess in header:
        return guess
    counts = Counter(c for c in header if c in DELIMITERS)
    return counts.most_common(1)[0][0] if counts else ","


class DelimitedTable(Table):
    """A CSV export (see ``read_table``)."""

    def __init__(self, stream: Stream, options: CsvOptions) -> None:
        self._stream = stream
        encoding = detect_encoding(stream.head, stream.at_end, options, stream.sample_past_ascii)
        if options.delimiter == "auto":
            delimiter = detect_delimiter(_sample_text(stream, encoding))
        else:
            delimiter = options.delimiter
        self._dirty = False
        self._text = io.TextIOWrapper(
            stream.buffered(), encoding=encoding, errors=MARK_ERRORS, newline=""
        )
        self._reader = csv.reader(self._lines(self._text), delimiter=delimiter, quotechar='"')
        super().__init__(
            columns=self._header(encoding), encoding=encoding, delimiter=delimiter, size=stream.size
        )

    @property
    def bytes_read(self) -> int:
        return self._stream.count

    def _lines(self, text: Iterable[str]) -> Iterator[str]:
        """The decoded lines, noting when one holds an undecodable byte (``_dirty``)."""
        marked = MARKED.search
        for line in text:
            # isascii() is O(1) on str: the regex runs only on lines with non-ASCII text.
            if not line.isascii() and marked(line):
                self._dirty = True
            yield line

    def _header(self, encoding: str) -> list[str]:
        previous = 0
        for cells in self._records():
            line, previous = previous + 1, self._reader.line_num
            if is_blank(cells):
                continue
            if self._dirty:
                cells, _ = unmark(line, [], cells, encoding, ENCODING_HINT)
            self._dirty = False
            return header_names(cells, str, line)
        raise ReadError("the file is empty")

    def _records(self) -> Iterator[list[str]]:
        """``csv.reader``'s records, its errors as ``ReadError`` naming the line where the
        record it was reading starts."""
        reader = self._reader
        line = reader.line_num + 1
        try:
            for record in reader:
                yield record
                line = reader.line_num + 1
        except csv.Error as exc:
            if _TOO_LONG in str(exc):
                raise ReadError(
                    f"line {line}: a cell longer than 1 MiB; is a quote unbalanced?", line=line
                ) from None
            raise ReadError(f"line {line}: {exc}", line=line) from None

    def _rows(self) -> Iterator[Row]:
        reader, columns, width = self._reader, self.columns, len(self.columns)
        encoding, delimiter = self.encoding, self.delimiter or ","
        previous = reader.line_num
        for cells in self._records():
            line, previous = previous + 1, reader.line_num
            if not cells or (not cells[0].strip() and is_blank(cells)):
                self.blank_rows += 1
                self._dirty = False
                continue
            issues: tuple[RowIssue, ...] = ()
            if self._dirty:
                cells, issues = unmark(line, columns, cells, encoding, ENCODING_HINT)
                self._dirty = False
            count = len(cells)
            if count < width:
                cells += [""] * (width - count)  # exports leave trailing cells out
            elif count > width and not is_blank(cells[width:]):
                extra = delimiter.join(cells[width:])
                reason = f"{count} cells but the header has {width}"
                issues = (*issues, RowIssue(line, "", extra, reason))
            yield Row(line, dict(zip(columns, cells, strict=False)), issues)

    def close(self) -> None:
        self._text.close()


def _sample_text(stream: Stream, encoding: str) -> str:
    """The head decoded for sniffing, cut after its last complete line."""
    text = stream.head.decode(encoding, errors="replace")
    if not stream.at_end and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text
