"""Journeys on one asset's record in the browser (``registra.web.views.asset_writes``): an editor
registers an asset and renames it, a refused form keeps what was typed, a viewer is shown no
control that writes."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.steps import (
    REASON,
    action,
    expect_message,
    give_reason,
    open_asset,
    register_rows,
    section,
)

KEY = "JRN-000001"


def test_an_editor_registers_an_asset_and_renames_it_the_trail_showing_the_change(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("editor")
    page.get_by_role("link", name="Add asset").click()
    expect(page.get_by_role("heading", name="New asset", level=1)).to_be_visible()
    page.get_by_label("Asset key").fill(KEY)
    page.get_by_label("Kind", exact=True).fill("vehicle")
    page.get_by_label("Name", exact=True).fill("Apron tug 7")
    page.get_by_label("Manufacturer").fill("Goldhofer")
    give_reason(page, "New tug delivered to hangar 2.")
    page.get_by_role("button", name="Register asset").click()

    expect(page).to_have_url(re.compile(rf"/o/{DEMO_ORG}/assets/[^/]+/$"))
    expect_message(page, f"Asset {KEY} registered.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{KEY} Apron tug 7")
    details = section(page, "Details")
    expect(details).to_contain_text("Apron tug 7")
    expect(details).to_contain_text("vehicle")
    expect(section(page, "Audit trail")).to_contain_text("New tug delivered to hangar 2.")

    action(page, "Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit asset {KEY}")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Apron tug 7")
    page.get_by_label("Name", exact=True).fill("Apron tug 7 (electric)")
    give_reason(page, "Name corrected: the tug is the electric one.")
    page.get_by_role("button", name="Save changes").click()

    expect_message(page, f"Asset {KEY} updated.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{KEY} Apron tug 7 (electric)")
    # The latest event comes first: the rename, its reason and the field's before and after.
    latest = section(page, "Audit trail").get_by_role("listitem").first
    expect(latest).to_contain_text("Name corrected: the tug is the electric one.")
    change = latest.get_by_role("row", name=re.compile("^Name"))
    expect(change.get_by_role("cell")).to_have_text(["Apron tug 7", "Apron tug 7 (electric)"])
    # And the register list shows the new name on its row.
    page.goto(f"/o/{DEMO_ORG}/?q={KEY}")
    expect(register_rows(page)).to_have_count(1)
    expect(register_rows(page).first).to_contain_text("Apron tug 7 (electric)")


def test_a_refused_create_keeps_everything_typed(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("editor")
    page.get_by_role("link", name="Add asset").click()
    typed = {
        "Asset key": "JRN-000002",
        "Name": "Torque wrench 40-200 Nm",
        "Description": "Click-type, 1/2 inch drive.",
        "Serial number": "SN-88123",
        "Location": "Hangar 3, tool crib B",
    }
    for label, value in typed.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Kind", exact=True).fill("calibrated-tool")
    page.get_by_label("Status", exact=True).select_option("active")
    give_reason(page, "too short")  # 9 characters: the reason needs 10
    page.get_by_role("button", name="Register asset").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    reason = page.get_by_label("Reason", exact=True)
    expect(reason).to_have_value("too short")
    expect(page.locator(".field.invalid .error")).to_contain_text(["at least 10 characters"])
    for label, value in typed.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Kind", exact=True)).to_have_value("calibrated-tool")
    expect(page.get_by_label("Status", exact=True)).to_have_value("active")

    # Corrected, it goes through with those values.
    give_reason(page, REASON)
    page.get_by_role("button", name="Register asset").click()
    expect_message(page, "Asset JRN-000002 registered.")
    expect(section(page, "Details")).to_contain_text("Torque wrench 40-200 Nm")
    expect(page.get_by_role("main")).to_contain_text("Hangar 3, tool crib B")


def test_a_viewer_is_shown_no_control_that_writes(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("viewer")
    expect(register_rows(page).first).to_be_visible()
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("link", name="Add asset")).to_have_count(0)
    expect(page.get_by_role("button", name="Change status")).to_have_count(0)

    key = register_rows(page).first.locator("td.key").inner_text()
    open_asset(page, key)
    expect(section(page, "Audit trail")).to_be_visible()
    expect(page.get_by_role("list", name="Actions on this asset")).to_have_count(0)
    for name in ("Edit", "Change status", "Assign custody", "Hand off", "Decommission", "End"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    # Only reading controls are left: the as-of view's form.
    expect(page.get_by_role("main").get_by_role("button")).to_have_text(["Show"])
