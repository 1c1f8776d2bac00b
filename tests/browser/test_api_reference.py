"""The API v1 reference page (django-ninja's Swagger UI, served from the package's own static
files) in a real browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.page_checks import check_accessibility


def test_the_reference_page_renders_the_assets_api(
    page: Page, screenshot: Callable[[Page], Path]
) -> None:
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="Registra Assets API")).to_be_visible()
    expect(page.get_by_text("/api/v1/assets/custody-assignments", exact=True)).to_be_visible()
    screenshot(page)


# Strict: the day ninja's page passes, this test fails and the mark must go.
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="django-ninja's bundled Swagger UI page: html-has-lang (its template's <html> has no"
    " lang), color-contrast and nested-interactive (Swagger UI's own markup and stylesheet)",
)
def test_the_reference_page_passes_the_accessibility_check(page: Page) -> None:
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="Registra Assets API")).to_be_visible()
    check_accessibility(page)
