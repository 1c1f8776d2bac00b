"""The register list's batch journeys in the browser (``registra.web.views.bulk`` and the CSV
export): change the status of 25 selected assets at once, download the filtered list."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.steps import (
    REASON,
    expect_message,
    filter_register,
    register_rows,
    row_keys,
)

BATCH = 25


def test_an_editor_changes_the_status_of_25_selected_assets(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("editor")
    filter_register(page, kind="calibrated-tool", status="active")
    keys = row_keys(page)
    assert len(keys) > BATCH, f"the demo register has more than {BATCH} active calibrated tools"
    chosen = keys[:BATCH]
    for key in chosen:
        page.get_by_role("checkbox", name=f"Select {key}").check()
    bulk = page.get_by_role("form", name="Act on several assets")
    bulk.get_by_role("radio", name="The selected assets").check()
    bulk.get_by_label("New status").select_option("inactive")
    bulk.get_by_label("Reason", exact=True).fill(REASON)
    bulk.get_by_role("button", name="Change status").click()

    expect_message(page, f"{BATCH} assets changed to inactive.")
    # Back on the same filter: only the assets left out are still active.
    expect(page.get_by_role("search").get_by_label("Status")).to_have_value("active")
    assert row_keys(page) == keys[BATCH:]
    filter_register(page, status="inactive")
    inactive = dict(
        zip(row_keys(page), register_rows(page).locator(".status").all_inner_texts(), strict=True)
    )
    assert {key: inactive.get(key) for key in chosen} == dict.fromkeys(chosen, "inactive")


def test_the_csv_export_downloads_the_filtered_list(
    signed_in: Callable[[str], Page], tmp_path: Path
) -> None:
    page = signed_in("viewer")
    filter_register(page, kind="calibrated-tool", readiness="not-ready")
    shown = row_keys(page)
    assert shown, "the demo register has calibrated tools that are not ready"
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"{DEMO_ORG}-register-")
    assert download.suggested_filename.endswith(".csv")
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["assetKey"] for r in rows] == shown  # the same assets, in the list's order
    assert {r["assetKind"] for r in rows} == {"calibrated-tool"}
    assert all(r["readiness"] != "ready" for r in rows), [r["readiness"] for r in rows]
