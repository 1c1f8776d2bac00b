"""The register list in the browser (``registra.web.views.register``): its controls, search with
the state in the URL, and its accessibility."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from registra.web.views.register import PAGE_SIZE
from tests.browser.page_checks import check_accessibility


def test_the_register_list_shows_its_controls_accessibly(
    signed_in: Callable[[str], Page], screenshot: Callable[[Page], Path]
) -> None:
    page = signed_in("viewer")
    search = page.get_by_role("search")
    expect(search.get_by_label("Search")).to_be_visible()
    expect(search.get_by_label("Status")).to_be_visible()
    expect(search.get_by_label("Kind")).to_be_visible()
    expect(search.get_by_role("button", name="Apply")).to_be_visible()
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    # The demo register's 60 assets: a full first page and a way on.
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(PAGE_SIZE)
    expect(page.get_by_role("link", name="Next page")).to_be_visible()
    screenshot(page)
    check_accessibility(page)


def test_searching_by_an_asset_key_narrows_the_table_to_that_asset(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("viewer")
    rows = page.get_by_role("table").locator("tbody tr")
    key = rows.nth(2).locator("td").first.inner_text()  # a key the table shows
    page.get_by_label("Search").fill(key)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"[?&]q="))
    assert parse_qs(urlsplit(page.url).query)["q"] == [key]  # the view can be bookmarked
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text(key)
    expect(page.get_by_label("Search")).to_have_value(key)
