"""Bad input to an import gives a clear report and loses nothing (issue 9's list): each case
says which line, column, value and rule, and the rest of the file still plans. Both
databases."""

from __future__ import annotations

import pytest

from registra.assets.models import Asset
from registra.imports.models import ImportPlanItem, ImportRun
from registra.imports.services import ImportFailed, SourceFile
from tests.cast import Cast, make_asset
from tests.imports.helpers import HEADER, export, make_profile, row, run

pytestmark = pytest.mark.django_db


def _errors(r: ImportRun) -> list[tuple[int | None, str, str, str]]:
    items = ImportPlanItem.objects.filter(run=r, kind="error").order_by("seq")
    return [(i.line, i.detail["column"], i.detail["value"], i.detail["reason"]) for i in items]


def _planned_keys(r: ImportRun) -> set[str]:
    items = ImportPlanItem.objects.filter(run=r).exclude(kind="error")
    return set(items.values_list("asset_key", flat=True))


def test_a_cp1252_export_is_read_as_cp1252(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, custody=None, calibration=None)
    source = export(
        tmp_path / "a.csv",
        [row("PG-1", Description="Prüfgerät", Location="Düsseldorf")],
        encoding="cp1252",
    )
    done = run(cast, profile, source, apply="yes")
    assert any("cp1252" in note for note in done.notes)
    asset = Asset.objects.get(organization=cast.org, asset_key="PG-1")
    assert (asset.display_name, asset.asset_snapshot["location"]) == ("Prüfgerät", "Düsseldorf")


def test_a_cp1252_export_whose_first_umlaut_is_past_64_kib_is_read_as_cp1252(
    cast: Cast, tmp_path
) -> None:
    profile = make_profile(cast, custody=None, calibration=None)
    rows = [row(f"TW-{i}") for i in range(1, 1000)] + [row("PG-1", Location="Düsseldorf")]
    source = export(tmp_path / "a.csv", rows, encoding="cp1252")
    assert source.path.read_bytes()[: 64 * 1024].isascii()
    done = run(cast, profile, source, apply="yes")
    assert any("cp1252" in note for note in done.notes)
    assert done.rows_with_errors == 0
    asset = Asset.objects.get(organization=cast.org, asset_key="PG-1")
    assert asset.asset_snapshot["location"] == "Düsseldorf"


def test_a_utf8_export_with_a_bom_and_commas(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, custody=None, calibration=None)
    source = export(
        tmp_path / "a.csv",
        [row("PG-2", Description="Prüfgerät")],
        encoding="utf-8-sig",
        delimiter=",",
    )
    run(cast, profile, source, apply="yes")
    assert Asset.objects.get(organization=cast.org, asset_key="PG-2").display_name == "Prüfgerät"


def test_mixed_encodings_are_a_row_error_on_that_line_only(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, custody=None, calibration=None)
    rows = [row("TW-1"), row("TW-2", Description="Prüfgerät"), row("TW-3", Location="Köln")]
    source = export(tmp_path / "a.csv", rows)
    text = source.path.read_bytes().replace("Köln".encode(), "Köln".encode("cp1252"))
    # Past the first 64 KiB: the first non-ASCII line (UTF-8) decides.
    source.path.write_bytes(text.replace(b"Hangar 1", b"Hangar 1" + b" " * 70_000, 1))
    planned = run(cast, profile, source)
    ((line, column, _value, reason),) = _errors(planned)
    assert (line, column) == (4, "Location")
    assert "utf-8" in reason.lower()
    assert _planned_keys(planned) == {"TW-1", "TW-2"}


def test_a_missing_key_column_fails_the_run_naming_it(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    header = [h for h in HEADER if h != "Equipment No"]
    source = export(tmp_path / "a.csv", [row("TW-1")], header=header)
    with pytest.raises(ImportFailed, match="Equipment No") as failed:
        run(cast, profile, source)
    assert failed.value.run.status == "failed"
    assert ImportRun.objects.get(id=failed.value.run.id).status == "failed"
    assert not ImportPlanItem.objects.exists()


def test_unknown_columns_are_a_note(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    source = export(tmp_path / "a.csv", [row("TW-1")], header=[*HEADER, "Cost Centre"])
    planned = run(cast, profile, source)
    assert any("Cost Centre" in note for note in planned.notes)
    assert planned.rows_with_errors == 0


def test_a_key_twice_in_one_file(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1"), row("TW-1")]))
    ((line, column, value, reason),) = _errors(planned)
    assert (line, column, value) == (3, "Equipment No", "TW-1")
    assert "also on line 2" in reason


def test_keys_with_surrounding_spaces_match_the_register(cast: Cast, tmp_path) -> None:
    make_asset(cast.org, "TW-5", status="active")
    profile = make_profile(cast, custody=None, calibration=None, owned_fields=["status"])
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("  TW-5 ")]))
    assert planned.counts.get("create", 0) == 0
    assert _planned_keys(planned) == {"TW-5"}


@pytest.mark.parametrize(
    ("cell", "words"),
    [("31.02.2025", "not a date"), ("2025-13-01", "not a date"), ("soon", "not a date")],
)
def test_malformed_and_impossible_dates(cast: Cast, tmp_path, cell: str, words: str) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1", Last_Cal=cell)]))
    ((line, column, value, reason),) = _errors(planned)
    assert (line, column, value) == (2, "Last Cal", cell)
    assert words in reason and "dd.mm.yyyy" in reason


def test_an_unknown_status_names_the_mapped_ones(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1", Status="Scrapped")]))
    ((_line, column, value, reason),) = _errors(planned)
    assert (column, value) == ("Status", "Scrapped")
    assert "In Service" in reason and "Out for Calibration" in reason


def test_an_empty_file_and_a_file_of_headers_only(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFailed, match="empty"):
        run(cast, profile, SourceFile(empty, "empty.csv"))
    headers = export(tmp_path / "headers.csv", [])
    with pytest.raises(ImportFailed, match="no data rows"):
        run(cast, profile, headers)
    assert set(ImportRun.objects.values_list("status", flat=True)) == {"failed"}
    assert not Asset.objects.exists()


def test_formula_like_cells_are_stored_as_text(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, custody=None, calibration=None)
    source = export(
        tmp_path / "a.csv",
        [row("TW-1", Description='=HYPERLINK("http://x")', Location="+41 hangar")],
    )
    run(cast, profile, source, apply="yes")
    asset = Asset.objects.get(organization=cast.org, asset_key="TW-1")
    assert asset.display_name == '=HYPERLINK("http://x")'
    assert asset.asset_snapshot["location"] == "+41 hangar"


def test_a_holder_that_matches_no_member(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1", Issued_To="E-404")]))
    ((_line, column, value, reason),) = _errors(planned)
    assert (column, value) == ("Issued To", "E-404")
    assert "no member" in reason


def test_a_revoked_holder(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast, custody={"holder_column": "Issued To", "match": "email"})
    source = export(tmp_path / "a.csv", [row("TW-1", Issued_To=cast.revoked.email.upper())])
    ((_line, _column, _value, reason),) = _errors(run(cast, profile, source))
    assert "not an active member" in reason


def test_a_20000_character_cell_breaks_the_register_rule(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    planned = run(
        cast, profile, export(tmp_path / "a.csv", [row("TW-1", Description="x" * 20_000)])
    )
    ((_line, column, value, reason),) = _errors(planned)
    assert column == "Description" and len(value) <= 201
    assert "200" in reason


def test_a_bad_asset_key(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW 1/ä")]))
    ((_line, column, value, _reason),) = _errors(planned)
    assert (column, value) == ("Equipment No", "TW 1/ä")


def test_an_xlsx_with_several_sheets_and_merged_header_cells(cast: Cast, tmp_path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Summary"
    book.active.append(["Generated by AMOS"])
    sheet = book.create_sheet("Equipment")
    sheet.append(["Equipment No", "Description", "Status", "Location", "Serial", "Notes", ""])
    sheet.merge_cells("F1:G1")
    sheet.append(["TW-1", "Torque wrench", "In Service", "Hangar 2", "SN-1", "ok", "x"])
    path = tmp_path / "amos.xlsx"
    book.save(path)
    profile = make_profile(
        cast,
        format="xlsx",
        xlsx={"sheet": "Equipment", "header_row": 1},
        custody=None,
        calibration=None,
    )
    run(cast, profile, SourceFile(path, "amos.xlsx"), apply="yes")
    asset = Asset.objects.get(organization=cast.org, asset_key="TW-1")
    assert asset.asset_snapshot["location"] == "Hangar 2"


def test_calibration_dates_the_register_would_refuse(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    rows = [
        row("TW-1", Last_Cal="01.01.2099", Cal_Due="01.01.2100"),
        row("TW-2", Last_Cal="01.06.2026", Cal_Due="01.06.2026"),
        row("TW-3"),
    ]
    planned = run(cast, profile, export(tmp_path / "a.csv", rows))
    errors = _errors(planned)
    assert [(e[0], e[1]) for e in errors] == [(2, "Last Cal"), (3, "Cal Due")]
    assert "in the future" in errors[0][3] and "after" in errors[1][3]
    assert _planned_keys(planned) == {"TW-3"}


def test_items_keep_the_file_order(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    rows = [row("TW-1"), row("TW-2"), row("TW-1"), row("TW-3")]
    planned = run(cast, profile, export(tmp_path / "a.csv", rows))
    items = ImportPlanItem.objects.filter(run=planned).order_by("seq")
    lines = [i.line for i in items]
    assert lines == sorted(lines)
