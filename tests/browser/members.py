"""What a member does in the browser before anything else: signing in through the form."""

from __future__ import annotations

from playwright.sync_api import Page


def sign_in(page: Page, email: str, password: str) -> None:
    """Open the sign-in page, type the email and password, press "Sign in"."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
