"""Reading CSV exports: encodings, delimiters, headers, line numbers, blank and ragged rows,
and the files that cannot be read at all."""

from __future__ import annotations

import codecs
import io
from dataclasses import replace

import pytest

from client_samples import HEADER, csv_bytes, profile, tool
from registra_client import CsvOptions, ReadError, Row, RowIssue, read_table

MIXED = "not valid utf-8: the file mixes encodings? Save it as UTF-8 or set csv.encoding"


def rows_of(path, p=None) -> tuple[list[Row], object]:
    with read_table(path, p or profile()) as table:
        return list(table), table


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("cp1252", "cp1252"),
    ],
)
def test_auto_encoding(write, encoding: str, expected: str) -> None:
    data = csv_bytes([tool(Description="Prüfgerät", Location="Düsseldorf")], encoding=encoding)
    (row,), table = rows_of(write(data))
    assert table.encoding == expected
    assert table.columns == HEADER  # no BOM left in the first name
    assert (row.values["Description"], row.values["Location"]) == ("Prüfgerät", "Düsseldorf")
    assert row.issues == ()


def test_a_utf16_big_endian_bom(write) -> None:
    data = codecs.BOM_UTF16_BE + csv_bytes([tool(Location="Köln")], encoding="utf-16-be")
    (row,), table = rows_of(write(data))
    assert (table.encoding, row.values["Location"]) == ("utf-16", "Köln")


def test_a_character_cut_at_the_64_kib_boundary_is_still_utf8(write) -> None:
    head = csv_bytes([tool(Description="x")]) + b"TW-2;"
    pad = 64 * 1024 - len(head) - 1  # "ü" (2 bytes) then starts at byte 65535
    data = csv_bytes([tool(Description="x"), tool("TW-2", Description=" " * pad + "ü")])
    assert data[64 * 1024 - 1 : 64 * 1024 + 1] == "ü".encode()
    rows, table = rows_of(write(data))
    assert table.encoding == "utf-8" and rows[1].values["Description"].endswith("ü")


def test_an_ascii_head_leaves_the_encoding_to_the_first_line_that_is_not(write) -> None:
    # The first 64 KiB are ASCII, which every encoding reads alike: the first line with
    # another byte decides, so a cp1252 export whose first umlaut comes late is cp1252.
    rows = [tool(Description="y" * 70_000), tool("TW-2"), tool("TW-3", Location="Köln")]
    read, table = rows_of(write(csv_bytes(rows, encoding="cp1252")))
    assert table.encoding == "cp1252"
    assert [r.issues for r in read] == [(), (), ()]
    assert read[2].values["Location"] == "Köln"
    assert len(read[0].values["Description"]) == 70_000  # read from the start again

    utf8, table = rows_of(write(csv_bytes(rows)))
    assert table.encoding == "utf-8" and utf8[2].values["Location"] == "Köln"


def test_a_stray_byte_after_utf8_text_past_the_first_64_kib_is_that_rows_issue(write) -> None:
    rows = [
        tool(Description="y" * 70_000),
        tool("TW-2", Description="Prüfgerät"),
        tool("TW-3", Location="Köln"),
    ]
    data = csv_bytes(rows).replace("Köln".encode(), "Köln".encode("cp1252"))
    read, table = rows_of(write(data))
    assert table.encoding == "utf-8"
    assert [r.issues for r in read[:2]] == [(), ()]
    assert read[1].values["Description"] == "Prüfgerät"
    assert read[2].issues == (RowIssue(4, "Location", "K\ufffdln", MIXED),)
    assert read[2].values["Location"] == "K\ufffdln"


class _Pipe(io.RawIOBase):
    """A file that cannot be read ahead (as a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_pipe_with_an_ascii_head_is_read_as_utf8(write) -> None:
    rows = [tool(Description="y" * 70_000), tool("TW-2", Location="Köln")]
    source = io.BufferedReader(_Pipe(csv_bytes(rows, encoding="cp1252")))
    with read_table(source, profile()) as table:
        read = list(table)
    assert table.encoding == "utf-8"
    assert read[1].issues == (RowIssue(3, "Location", "K\ufffdln", MIXED),)


def test_a_utf8_file_with_a_few_stray_bytes_early_is_read_as_utf8(write) -> None:
    # A mixed file: valid UTF-8 ("Prüfgerät") and one cp1252 byte, both in the first 64 KiB.
    data = csv_bytes([tool(Description="Prüfgerät"), tool("TW-2", Location="Köln")])
    data = data.replace("Köln".encode(), "Köln".encode("cp1252"))
    (first, second), table = rows_of(write(data))
    assert table.encoding == "utf-8"
    assert first.values["Description"] == "Prüfgerät" and first.issues == ()
    assert second.issues == (RowIssue(3, "Location", "K\ufffdln", MIXED),)


def test_a_byte_undefined_in_cp1252_is_an_issue_too(write) -> None:
    data = csv_bytes([tool(Location="Köln"), tool("TW-2", Location="X")], encoding="cp1252")
    data = data.replace(b";X;", b";\x81;")  # 0x81 is no character in cp1252
    (_, second), table = rows_of(write(data))
    assert table.encoding == "cp1252"
    assert second.issues[0].column == "Location"
    assert second.issues[0].reason.startswith("not valid cp1252: the file mixes encodings?")


def test_an_explicit_encoding(write) -> None:
    data = csv_bytes([tool(Location="Köln")], encoding="latin-1")
    p = profile(csv={"encoding": "latin-1"})
    (row,), table = rows_of(write(data), p)
    assert (table.encoding, row.values["Location"]) == ("iso8859-1", "Köln")
    bom = csv_bytes([tool()], encoding="utf-8-sig")
    (_,), table = rows_of(write(bom), profile(csv={"encoding": "UTF8"}))
    assert table.encoding == "utf-8-sig" and table.columns == HEADER


def test_an_unknown_codec_is_a_read_error(write) -> None:
    p = replace(profile(), csv=CsvOptions(encoding="klingon"))
    with pytest.raises(ReadError, match="unknown encoding 'klingon'"):
        read_table(write(csv_bytes([tool()])), p)


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_the_delimiter_is_sniffed(write, delimiter: str) -> None:
    rows = [tool(Description="Wrench, 1/2 in; spare"), tool("TW-2")]
    (first, _), table = rows_of(write(csv_bytes(rows, delimiter=delimiter)))
    assert table.delimiter == delimiter
    assert first.values["Description"] == "Wrench, 1/2 in; spare"


def test_an_unsniffable_file_falls_back_to_the_header(write) -> None:
    (row,), table = rows_of(write("Equipment No;Description\nTW-1\n"))
    assert table.delimiter == ";" and row.values == {"Equipment No": "TW-1", "Description": ""}
    (_,), table = rows_of(write("Equipment No\nTW-1\n"))
    assert table.delimiter == ","


def test_a_given_delimiter_is_used(write) -> None:
    p = profile(csv={"delimiter": "|"})
    (row,), table = rows_of(write("a;b|c\n1;2|3\n"), p)
    assert table.columns == ["a;b", "c"] and row.values == {"a;b": "1;2", "c": "3"}


def test_header_names_are_stripped_and_blank_ones_numbered(write) -> None:
    (row,), table = rows_of(write(" Equipment No ;;Status;\r\nTW-1;x;In Service;y\r\n"))
    assert table.columns == ["Equipment No", "column 2", "Status", "column 4"]
    assert row.values["column 2"] == "x"


def test_duplicate_header_names_are_a_read_error(write) -> None:
    with pytest.raises(ReadError, match="the header names 'Status', 'Serial' more than once"):
        read_table(write("Status;Serial;Status ;Serial\n1;2;3;4\n"), profile())


def test_cells_keep_their_whitespace_and_formulas_stay_text(write) -> None:
    data = csv_bytes([tool("  TW-1 ", Description='=HYPERLINK("http://x")', Location="+41")])
    ((row,), _) = rows_of(write(data))
    assert row.values["Equipment No"] == "  TW-1 "
    assert (row.values["Description"], row.values["Location"]) == ('=HYPERLINK("http://x")', "+41")


def test_line_numbers_count_quoted_line_breaks_and_blank_rows(write) -> None:
    text = (
        "Equipment No;Description\r\n"  # line 1
        "TW-1;one\r\n"  # 2
        '"TW-2";"two\r\nlines"\r\n'  # 3-4
        "\r\n"  # 5: blank
        ";  \r\n"  # 6: blank cells
        "TW-3;three\r\n"  # 7
    )
    rows, table = rows_of(write(text))
    assert [(r.line, r.values["Description"]) for r in rows] == [
        (2, "one"),
        (3, "two\r\nlines"),
        (7, "three"),
    ]
    assert table.blank_rows == 2


def test_blank_lines_before_the_header(write) -> None:
    (row,), table = rows_of(write("\n\nEquipment No;Status\nTW-1;x\n"))
    assert table.columns == ["Equipment No", "Status"] and row.line == 4


def test_ragged_rows(write) -> None:
    text = "a;b;c\n1;2\n1;2;3;4;5\n1;2;3;;\n"
    short, long, trailing = rows_of(write(text))[0]
    assert short.values == {"a": "1", "b": "2", "c": ""} and short.issues == ()
    assert long.values == {"a": "1", "b": "2", "c": "3"}
    assert long.issues == (RowIssue(3, "", "4;5", "5 cells but the header has 3"),)
    assert trailing.issues == ()  # empty cells past the header are no problem


def test_an_empty_file(write) -> None:
    for data in (b"", b"  \r\n\r\n \t\n"):
        with pytest.raises(ReadError, match=r"^the file is empty$"):
            read_table(write(data), profile())


def test_a_header_and_no_rows_fails_when_iterated(write) -> None:
    with read_table(write(csv_bytes([]) + b"\r\n;;\r\n"), profile()) as table:
        assert table.columns == HEADER
        with pytest.raises(ReadError, match=r"^the file has a header but no data rows$"):
            list(table)
        assert table.blank_rows == 2


def test_a_cell_longer_than_1_mib_stops_the_read_naming_its_line(write) -> None:
    fine = "a;b\n1;" + "x" * (1024 * 1024) + "\n"
    ((row,), _) = rows_of(write(fine))
    assert len(row.values["b"]) == 1024 * 1024
    unbalanced = 'a;b\n1;2\n3;"4\n' + "5;6\n" * 300_000
    with read_table(write(unbalanced), profile()) as table, pytest.raises(ReadError) as raised:
        list(table)
    assert str(raised.value) == "line 3: a cell longer than 1 MiB; is a quote unbalanced?"
    assert raised.value.line == 3


def test_progress_and_an_open_binary_file(write) -> None:
    data = csv_bytes([tool(f"TW-{n}") for n in range(5000)])
    with read_table(io.BytesIO(data), profile()) as table:
        assert table.size == len(data) and table.bytes_read <= len(data)
        assert sum(1 for _ in table) == 5000
        assert table.bytes_read == len(data)
    with read_table(write(data), profile()) as table:
        assert table.size == len(data)


def test_a_table_is_read_once(write) -> None:
    with read_table(write(csv_bytes([tool()])), profile()) as table:
        list(table)
        with pytest.raises(RuntimeError, match="read once"):
            list(table)
