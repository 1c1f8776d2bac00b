"""axe-core on the asset pages an editor works with (the asset page, the asset form, the custody
hand-off, the decommission confirmation), each reached by its links and kept as a screenshot.
The register list's and the sign-in page's checks are in their own modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.page_checks import check_accessibility
from tests.browser.steps import (
    action,
    filter_register,
    held_asset,
    open_asset,
    open_held_asset,
    row_keys,
)

Shot = Callable[[Page], Path]


# The pages of a held asset an editor reaches from its page: the control followed (none: the
# asset page itself) and what the page shows once it is there (a role and a name).
HELD_ASSET_PAGES = {
    "asset-page": (None, ("link", "Hand off")),
    "asset-form-edit": ("Edit", ("button", "Save changes")),
    "hand-off": ("Hand off", ("button", "Hand off")),
    "decommission": ("Decommission", ("region", "Custody this ends")),
}


@pytest.fixture
def held(signed_in: Callable[[str], Page]) -> Page:
    """The editor on the page of a ready asset somebody holds (every control is offered)."""
    page = signed_in("editor")
    key, _ = held_asset(page, readiness="ready")
    open_asset(page, key)
    return page


@pytest.mark.parametrize("shown", HELD_ASSET_PAGES.values(), ids=HELD_ASSET_PAGES.keys())
def test_a_page_of_a_held_asset(
    held: Page, shown: tuple[str | None, tuple[Any, str]], screenshot: Shot
) -> None:
    control, (role, name) = shown
    if control:
        action(held, control).click()
    expect(held.get_by_role("main").get_by_role(role, name=name, exact=True)).to_be_visible()
    screenshot(held)
    check_accessibility(held)


def test_the_asset_page_as_of_a_past_moment(held: Page) -> None:
    past = datetime.now(UTC) - timedelta(days=2)  # read in the org's zone: still past
    held.get_by_label("Date and time", exact=False).fill(past.strftime("%Y-%m-%dT%H:%M"))
    held.get_by_role("button", name="Show").click()
    expect(held.get_by_role("heading", name=f"At {past:%Y-%m-%d %H:%M}")).to_be_visible()
    check_accessibility(held)


def test_the_asset_form_for_a_new_asset(signed_in: Callable[[str], Page], screenshot: Shot) -> None:
    page = signed_in("editor")
    page.get_by_role("link", name="Add asset").click()
    expect(page.get_by_role("heading", name="New asset", level=1)).to_be_visible()
    screenshot(page)
    check_accessibility(page)
    page.get_by_role("button", name="Register asset").click()  # refused: with its errors
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    check_accessibility(page)


def test_the_hand_off_page_of_a_not_ready_asset(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("editor")
    filter_register(page, readiness="not-ready", status="active")
    open_held_asset(page)
    action(page, "Hand off").click()
    expect(page.get_by_role("alert")).to_contain_text("This asset is not ready.")
    check_accessibility(page)


def test_the_register_filtered_with_nothing_matching(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("editor")
    filter_register(page, search="no asset is called this")
    assert row_keys(page) == []
    check_accessibility(page)


def test_the_readiness_dashboard(signed_in: Callable[[str], Page], screenshot: Shot) -> None:
    page = signed_in("viewer")
    page.get_by_role("link", name="Readiness").click()
    expect(page.get_by_role("heading", name="Readiness", level=1)).to_be_visible()
    expect(page.get_by_role("region", name="By asset kind").get_by_role("table")).to_be_visible()
    screenshot(page)
    check_accessibility(page)


# The asset page's other write pages: the control followed and the heading it leads to.
ASSET_WRITE_PAGES = {
    "schedule": ("Schedule an assessment", "Schedule an assessment of"),
    "status": ("Change status", "Change the status of"),
}


@pytest.mark.parametrize("shown", ASSET_WRITE_PAGES.values(), ids=ASSET_WRITE_PAGES.keys())
def test_a_write_page_of_an_asset(held: Page, shown: tuple[str, str]) -> None:
    control, heading = shown
    action(held, control).click()
    expect(held.get_by_role("heading", level=1)).to_contain_text(heading)
    check_accessibility(held)


def test_a_refused_bulk_hand_over_listing_the_assets_that_are_not_ready(
    signed_in: Callable[[str], Page], screenshot: Shot
) -> None:
    page = signed_in("editor")
    filter_register(page, kind="calibrated-tool", readiness="not-ready", status="active")
    keys = row_keys(page)[:3]
    assert keys, "the demo register has active calibrated tools that are not ready"
    for key in keys:
        page.get_by_role("checkbox", name=f"Select {key}").check()
    bulk = page.get_by_role("form", name="Act on several assets")
    hand = bulk.get_by_role("group", name="Hand custody to one member")
    hand.get_by_label("Hand to").select_option(index=1)
    bulk.get_by_label("Reason", exact=True).fill("Accessibility check of the refused batch")
    hand.get_by_role("button", name="Hand custody").click()
    not_ready = page.get_by_role("list", name="Assets that are not ready").get_by_role("listitem")
    expect(not_ready).to_have_count(len(keys))
    expect(
        page.get_by_label("Override: why hand over assets that are not ready")
    ).to_have_attribute("aria-invalid", "true")
    screenshot(page)
    check_accessibility(page)
