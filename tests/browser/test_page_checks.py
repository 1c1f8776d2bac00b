"""The checks themselves: the accessibility check must fail on what the issue forbids and only
on that, or a green browser test would say nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.page_checks import check_accessibility

# Landmarks, a heading and a language: no violation of any impact on its own.
CLEAN = '<html lang="en"><head><title>Clean</title></head><body><main><h1>Clean</h1>{}</main>'


def test_a_serious_or_critical_violation_fails_naming_its_rule_and_nodes(browser: Browser) -> None:
    page = browser.new_page()
    # An unlabelled input (critical) and light grey on white (serious).
    page.set_content(CLEAN.format('<input id="q"><p style="color:#ccc">faint</p>'))
    with pytest.raises(AssertionError) as failure:
        check_accessibility(page)
    page.close()
    report = str(failure.value)
    assert "- label (critical): Form elements must have labels" in report
    assert '["#q"]' in report
    assert "- color-contrast (serious)" in report


def test_minor_and_moderate_violations_do_not_fail(browser: Browser) -> None:
    page = browser.new_page()
    # Content outside any landmark and a skipped heading level: moderate rules.
    page.set_content('<html lang="en"><title>Loose</title><h1>Loose</h1><h3>Skipped</h3><p>x')
    violations = check_accessibility(page)
    page.close()
    assert {v["impact"] for v in violations} == {"moderate"}
    assert {"region", "heading-order"} <= {v["id"] for v in violations}
