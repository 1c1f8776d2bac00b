"""What a member does on the register's pages, shared by the browser journeys: filter the list,
open an asset from it, give a reason, read the page's success message; set up an authenticator
app and compute its codes."""

from __future__ import annotations

import base64

from playwright.sync_api import Locator, Page, expect

from tests.browser.server_db import rows
from tests.totp import code_now, next_code

REASON = "Browser journey: checking the register's pages end to end."


def filter_register(page: Page, *, search: str = "", **selects: str) -> None:
    """On the register list: type ``search``, choose each filter (``status="active"``,
    ``kind=...``, ``readiness="not-ready"``: the options' values), press "Apply" and wait for
    the filtered list."""
    filters = page.get_by_role("search")
    if search:
        filters.get_by_label("Search").fill(search)
    for name, value in selects.items():
        filters.get_by_label(name.capitalize(), exact=True).select_option(value)
    with page.expect_navigation():  # then the table read next is the filtered one
        filters.get_by_role("button", name="Apply").click()


def register_rows(page: Page) -> Locator:
    """The register table's rows (none: one row saying "No asset matches.")."""
    return page.get_by_role("table").locator("tbody tr")


def row_keys(page: Page) -> list[str]:
    """The asset keys the register table shows, in order."""
    return register_rows(page).locator("td.key").all_inner_texts()


def held_asset(page: Page, *, last: bool = False, **filters: str) -> tuple[str, str]:
    """Through the register's Holder filter, the first member (``last``: the last) who holds an
    asset matching ``filters`` as primary holder: that asset's key and the member's name."""
    options = page.get_by_role("search").get_by_label("Holder").locator("option")
    members = [(o.get_attribute("value"), o.inner_text()) for o in options.all()[1:]]
    for member_id, name in reversed(members) if last else members:
        filter_register(page, holder=str(member_id), **filters)
        if keys := row_keys(page):
            return keys[0], name
    raise AssertionError(f"no member holds an asset matching {filters}")


def open_held_asset(page: Page) -> str:
    """From the register list, open the first asset of the table somebody holds (its page
    offers "Hand off"); its key."""
    keys = row_keys(page)
    for key in keys:
        open_asset(page, key)
        if action(page, "Hand off").count():
            return key
        page.go_back()
    raise AssertionError(f"none of {keys} is held")


def open_asset(page: Page, key: str) -> None:
    """Follow the asset key's link in the register table to the asset page."""
    page.get_by_role("table").get_by_role("link", name=key, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(key)


def action(page: Page, name: str) -> Locator:
    """A control of the asset page's "Actions on this asset" ("Edit", "Hand off"...)."""
    return page.get_by_role("list", name="Actions on this asset").get_by_role("link", name=name)


def give_reason(page: Page, reason: str = REASON) -> None:
    page.get_by_label("Reason", exact=True).fill(reason)


def expect_message(page: Page, text: str) -> None:
    """The success message the page shows after a write."""
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(text)


def section(page: Page, heading: str) -> Locator:
    """The asset page's section under the h2 ``heading`` ("Custody history", "Audit trail")."""
    return page.get_by_role("region", name=heading, exact=True)


def set_up_authenticator(page: Page) -> bytes:
    """From any organization page: "Sign-in security", set up an authenticator app, confirm it
    with the code an app would show for the key on the page; the key. The page is left on the
    recovery codes."""
    page.get_by_role("link", name="Sign-in security").click()
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.get_by_role("button", name="Start").click()
    key = base64.b32decode(page.get_by_test_id("totp-key").inner_text().replace(" ", ""))
    page.get_by_label("Code").fill(code_now(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    return key


def next_authenticator_code(server_env: dict[str, str], member_id: str, key: bytes) -> str:
    """The code the member's authenticator app would give that the server accepts now: a code
    is accepted once, so it is of a step after the one the server last accepted (read from its
    database)."""
    devices = "SELECT last_t, drift FROM otp_totp_totpdevice WHERE user_id = %s"
    ((last_t, drift),) = rows(server_env, devices, [member_id])
    return next_code(key, last_t, drift)
