"""axe-core on the responsibilities pages (an editor's) and the settings pages (an admin's),
each reached by its links from the navigation, refused forms included (their messages are
part of the page that must be accessible)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.page_checks import check_accessibility

Shot = Callable[[Page], Path]


def _heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(text)


def test_the_responsibilities_pages(signed_in: Callable[[str], Page], screenshot: Shot) -> None:
    page = signed_in("editor")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Responsibilities").click()
    _heading(page, "Responsibilities")
    screenshot(page)
    check_accessibility(page)

    page.get_by_role("link", name="New responsibility").click()
    _heading(page, "New responsibility")
    check_accessibility(page)
    page.get_by_role("button", name="Create responsibility").click()  # refused: nothing typed
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    check_accessibility(page)

    page.get_by_label("Key").fill("a11y-toolbox")
    page.get_by_label("Title").fill("Custodian of the accessibility toolbox")
    page.get_by_label("Held by").select_option(index=1)
    page.get_by_label("Reason", exact=True).fill("Accessibility check of the pages")
    page.get_by_role("button", name="Create responsibility").click()
    _heading(page, "Custodian of the accessibility toolbox")
    expect(page.get_by_role("status")).to_contain_text("Responsibility a11y-toolbox created.")
    check_accessibility(page)

    page.get_by_role("link", name="Reassign").click()
    _heading(page, "Reassign")
    check_accessibility(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="End the assignment").click()
    _heading(page, "End the assignment")
    check_accessibility(page)


def test_a_responsibility_with_its_assets(signed_in: Callable[[str], Page]) -> None:
    page = signed_in("editor")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Responsibilities").click()
    page.get_by_role("table").locator("tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=2)).to_have_text(
        "Assets with this custodian responsibility"
    )
    check_accessibility(page)


def test_the_settings_pages(signed_in: Callable[[str], Page], screenshot: Shot) -> None:
    page = signed_in("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    _heading(page, "Settings")
    screenshot(page)
    check_accessibility(page)

    page.get_by_role("link", name="Change the organization's settings").click()
    _heading(page, "Organization settings")
    check_accessibility(page)
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_label("Reason", exact=True).fill("Accessibility check of the pages")
    page.get_by_role("button", name="Save settings").click()  # refused by the service
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page)
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Add a level").click()
    _heading(page, "New classification level")
    check_accessibility(page)
    page.get_by_label("Label").fill("Flight-safety critical")
    page.get_by_label("Rank").fill("4")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_label("Reason", exact=True).fill("Accessibility check of the pages")
    page.get_by_role("button", name="Add level").click()
    expect(page.get_by_role("status")).to_contain_text("Flight-safety critical added")
    page.get_by_role("link", name="Edit Flight-safety critical").click()
    _heading(page, "Edit the classification level")
    check_accessibility(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Remove Flight-safety critical").click()
    _heading(page, "Remove the classification level")
    check_accessibility(page)
    page.get_by_role("link", name="Cancel").click()

    page.get_by_role("link", name="Require an assessment kind").click()
    _heading(page, "Require an assessment kind")
    check_accessibility(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("table", name="Assessment kinds each asset kind requires").get_by_role(
        "link", name="Remove"
    ).first.click()
    _heading(page, "Stop requiring")
    check_accessibility(page)
