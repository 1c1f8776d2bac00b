"""Signing in and out in the browser (``registra.web.views.session``), as the demo members."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.members import sign_in
from tests.browser.page_checks import check_accessibility

REFUSED = "Email or password is not correct."


def test_the_sign_in_page_asks_for_email_and_password_accessibly(
    page: Page, screenshot: Callable[[Page], Path]
) -> None:
    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus: type straight away
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page)
    check_accessibility(page)


def test_a_wrong_password_is_refused_keeping_the_email(
    page: Page, demo_members: dict[str, dict[str, str]]
) -> None:
    email = demo_members["viewer"]["email"]
    sign_in(page, email, "not the password")
    expect(page.get_by_role("alert")).to_have_text(REFUSED)
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_label("Email")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")  # a password is never sent back
    check_accessibility(page)  # the page with its error, too


def test_the_viewer_signs_in_to_the_register_of_their_organization(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("viewer")
    expect(page.get_by_role("heading", name="Register", level=1)).to_be_visible()
    header = page.get_by_role("banner")
    expect(header).to_contain_text("Skyline MRO")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    columns = page.get_by_role("table").get_by_role("columnheader")
    expect(columns).to_contain_text(["Asset key", "Name", "Kind", "Status"])
    first_key = page.get_by_role("table").locator("tbody tr").first.get_by_role("cell").first
    expect(first_key).to_have_text(re.compile(r"^[A-Z]+-\d{6}$"))  # a demo key: TW-000001


def test_signing_out_returns_to_sign_in_and_the_register_then_asks_to_sign_in(
    signed_in: Callable[[str], Page],
) -> None:
    page = signed_in("viewer")
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    page.goto(f"/o/{DEMO_ORG}/")
    expect(page).to_have_url(re.compile(rf"/sign-in\?next=/o/{DEMO_ORG}/$"))
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
