"""``read_table``: open an export (a path or an open binary file) with the profile's format."""

from __future__ import annotations

import io
import os
import re
import tempfile
from typing import BinaryIO, cast

from registra_client._profile import Profile
from registra_client._table import ReadError, Table

SAMPLE_BYTES = 64 * 1024
_READ_AHEAD = 1024 * 1024
_NON_ASCII = re.compile(rb"[\x80-\xff]")
Source = str | os.PathLike[str] | BinaryIO


def read_table(source: Source, profile: Profile) -> Table:
    """The export at ``source`` read as ``profile.format`` says (CSV, JSON Lines or XLSX).

    The header is read now (``ReadError`` if the file is empty, its header names a column
    twice, it is not the format it should be...); rows are read as the table is iterated.
    CSV decoding and splitting follow ``profile.csv``: with ``auto``, a UTF-8 or UTF-16 BOM
    decides, else UTF-8 when the first 64 KiB holding non-ASCII text are UTF-8 (the first
    64 KiB of the file, or, when those are all ASCII, the 64 KiB from the first line that is
    not, read ahead in a file that can be), else the fallback encoding; the delimiter is
    sniffed among , ; tab and | . A byte the chosen encoding cannot decode later in the file
    is that row's issue, not the end of the read.
    """
    # Imported here: each format's module imports this one for ``Stream``.
    if profile.format == "xlsx":
        from registra_client._workbook import WorkbookTable

        return WorkbookTable(_seekable(source), profile.xlsx, owned=not _is_file(source))
    stream = Stream(source)
    try:
        if profile.format == "jsonl":
            from registra_client._jsonlines import JsonLinesTable

            return JsonLinesTable(stream)
        from registra_client._delimited import DelimitedTable

        return DelimitedTable(stream, profile.csv)
    except BaseException:
        stream.close()
        raise


def _is_file(source: Source) -> bool:
    return not isinstance(source, str | os.PathLike)


def _open(source: Source) -> BinaryIO:
    """``source`` as a binary file: a path is opened (its table closes it)."""
    if isinstance(source, str | os.PathLike):
        return open(source, "rb")
    return source


def _seekable(source: Source) -> BinaryIO:
    """A seekable binary file (a workbook is a zip archive, read from its end)."""
    file = _open(source)
    if file.seekable():
        return file
    copy = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115
    while chunk := file.read(1 << 20):
        copy.write(chunk)
    copy.seek(0)
    return cast(BinaryIO, copy)


class Stream(io.RawIOBase):
    """The export's bytes as a raw stream that counts what it hands out (``count``, the
    progress) and starts with ``head``: the first 64 KiB, read first to detect the encoding
    and delimiter, are served again rather than read twice."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self._owned = not _is_file(source)
        self._file = _open(source)
        self.size = _size(self._file)
        self.head = self._file.read(SAMPLE_BYTES)
        self.at_end = len(self.head) < SAMPLE_BYTES  # the whole file is in ``head``
        self._pos = 0
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self._pos < len(self.head):
            n = min(len(view), len(self.head) - self._pos)
            view[:n] = self.head[self._pos : self._pos + n]
            self._pos += n
        else:
            data = self._file.read(len(view))
            n = len(data)
            view[:n] = data
        self.count += n
        return n

    def sample_past_ascii(self) -> bytes | None:
        """Up to 64 KiB of the file from the start of the first line after ``head`` that holds
        a non-ASCII byte, read ahead and put back before any row is read; None when the rest
        of the file is ASCII too, or when it cannot be read ahead (not seekable: a pipe)."""
        file = self._file
        if self.at_end or self._pos or not file.seekable():
            return None
        start = offset = file.tell()
        try:
            while chunk := file.read(_READ_AHEAD):
                if not chunk.isascii():
                    found = _NON_ASCII.search(chunk)
                    assert found is not None
                    file.seek(offset + chunk.rfind(b"\n", 0, found.start()) + 1)
                    return file.read(SAMPLE_BYTES)
                offset += len(chunk)
            return None
        finally:
            file.seek(start)

    def buffered(self) -> io.BufferedReader:
        """This stream behind a buffer, for the text layer or line reading."""
        return io.BufferedReader(self, buffer_size=SAMPLE_BYTES)

    def close(self) -> None:
        if self._owned and not self._file.closed:
            self._file.close()
        super().close()


def _size(file: BinaryIO) -> int | None:
    """The bytes left to read in ``file``, when it can say."""
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    try:
        here = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None


__all__ = ["ReadError", "Stream", "read_table"]
