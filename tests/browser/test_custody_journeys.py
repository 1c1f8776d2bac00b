"""Custody journeys in the browser (``registra.web.views.custody``, the decommission page): hand
an asset from one member to another and look back at the moment before, be asked for the
override when the asset is not ready, decommission a held asset and see its custody ended."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from playwright.sync_api import Locator, Page, expect

from tests.browser.steps import (
    action,
    expect_message,
    filter_register,
    give_reason,
    held_asset,
    open_asset,
    open_held_asset,
    register_rows,
    row_keys,
    section,
)

OVERRIDE = "Override: why hand over an asset that is not ready"


def _custody_rows(page: Page, kind: str = "", status: str = "") -> Locator:
    """The asset page's custody history (latest first), of that kind and status if given."""
    rows = "tbody tr"
    if kind:
        rows += f':has(td:nth-child(2):text-is("{kind}"))'
    if status:
        rows += f':has(td:nth-child(3):text-is("{status}"))'
    return section(page, "Custody history").locator(rows)


def test_handing_an_asset_to_another_member_and_looking_back_before_the_hand_off(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("editor")
    key, earlier = held_asset(page, readiness="ready")
    open_asset(page, key)
    expect(_custody_rows(page, "primary", "active")).to_contain_text([earlier])

    action(page, "Hand off").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Hand off custody: {key}")
    expect(page.get_by_role("main")).to_contain_text(f"Held now by {earlier}")
    expect(page.get_by_label(OVERRIDE)).to_have_count(0)  # a ready asset needs no override
    to = page.get_by_label("Holder").locator("option").nth(1).inner_text()  # "Name (email)"
    later = to.split(" (")[0]
    page.get_by_label("Holder").select_option(label=to)
    page.get_by_label("Location").fill("Hangar 1, line station")
    give_reason(page, "Shift change: the tool goes to the night crew.")
    page.get_by_role("button", name="Hand off").click()

    expect_message(page, f"{key} handed off to {to}.")
    now = _custody_rows(page, "primary", "active")
    expect(now).to_have_count(1)
    expect(now.get_by_role("cell").nth(0)).to_contain_text(later)
    expect(now).to_contain_text("Hangar 1, line station")
    ended = _custody_rows(page, "primary", "ended").first  # latest first: the one just ended
    expect(ended.get_by_role("cell").nth(0)).to_contain_text(earlier)

    # The as-of view of a minute before the hand-off (in the organization's zone, as the page
    # prints it) shows the earlier holder.
    started = now.get_by_role("cell").nth(3).locator("time").get_attribute("datetime")
    before = datetime.fromisoformat(str(started)) - timedelta(minutes=1)
    as_of = section(page, "As of a past moment")
    as_of.get_by_label(re.compile("^Date and time")).fill(before.strftime("%Y-%m-%dT%H:%M"))
    as_of.get_by_role("button", name="Show").click()
    expect(as_of.get_by_role("heading", level=3).first).to_have_text(f"At {before:%Y-%m-%d %H:%M}")
    holder_then = as_of.get_by_role("definition").first
    expect(holder_then).to_contain_text(earlier)
    expect(holder_then).not_to_contain_text(later)


def test_a_not_ready_asset_asks_for_the_override_and_hands_off_with_it(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("editor")
    filter_register(page, kind="calibrated-tool", status="active", readiness="not-ready")
    keys = row_keys(page)
    assert keys, "the demo register has active calibrated tools that are not ready"
    expect(register_rows(page).locator("td .readiness")).to_have_text(["Not ready"] * len(keys))

    key = open_held_asset(page)  # one that can be handed off
    reasons = page.get_by_role("list", name="Why it is not ready").get_by_role("listitem")
    why = reasons.all_inner_texts()
    assert why and all(re.match("calibration ", r) for r in why), why

    action(page, "Hand off").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This asset is not ready.")
    expect(alert.get_by_role("listitem")).to_have_text(why)
    to = page.get_by_label("Holder").locator("option").nth(1).inner_text()
    page.get_by_label("Holder").select_option(label=to)
    give_reason(page, "Needed on the aircraft tonight.")
    page.get_by_role("button", name="Hand off").click()
    # Without the override it is refused, keeping what was typed.
    override = page.get_by_label(OVERRIDE)
    expect(override).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Holder")).to_have_value(re.compile(".+"))
    expect(page.get_by_label("Reason", exact=True)).to_have_value("Needed on the aircraft tonight.")

    override.fill("Used for a go/no-go check only; recalibration booked for Monday.")
    page.get_by_role("button", name="Hand off").click()
    expect_message(page, f"{key} handed off to {to}.")
    latest = _custody_rows(page, "primary", "active")
    expect(latest).to_contain_text(to.split(" (")[0])
    expect(latest).to_contain_text(
        "Not-ready override: Used for a go/no-go check only; recalibration booked for Monday."
    )


def test_decommissioning_a_held_asset_lists_and_ends_its_custody(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("editor")
    key, holder = held_asset(page, last=True, status="active")
    open_asset(page, key)
    action(page, "Decommission").click()

    ends = page.get_by_role("region", name="Custody this ends").locator("tbody tr")
    expect(ends.filter(has_text=holder)).to_have_count(1)  # the member's custody is listed
    n = ends.count()
    page.get_by_label("Disposal authorization").fill("DA-2026-117")
    give_reason(page, "Damaged beyond repair during the C-check.")
    plural = "" if n == 1 else "s"
    page.get_by_role("button", name=f"Decommission and end {n} custody assignment{plural}").click()

    expect_message(page, f"Asset {key} decommissioned; {n} custody assignment{plural} ended.")
    expect(page.locator(".badges .status")).to_have_text("Status: decommissioned")
    expect(page.get_by_role("list", name="Actions on this asset")).to_have_count(0)
    expect(_custody_rows(page, status="active")).to_have_count(0)
    held = _custody_rows(page, "primary", "ended").first
    expect(held.get_by_role("cell").nth(0)).to_contain_text(holder)
    expect(held.get_by_role("cell").nth(4).locator("time")).to_be_visible()  # its end time
