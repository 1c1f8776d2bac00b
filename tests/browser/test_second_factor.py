"""Multi-factor sign-in and sign-in throttling in the browser (decision 0014), checked on the
page and in the server's database: a member sets up an authenticator app (the code computed
from the key the page shows, as the app would), signs out, and signs in with password and code;
five wrong passwords throttle the sign-in."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.members import sign_in
from tests.browser.page_checks import check_accessibility
from tests.browser.server_db import rows
from tests.browser.steps import next_authenticator_code
from tests.totp import code_now

ORG = f"/o/{DEMO_ORG}"


def _member_id(server_env: dict[str, str], email: str) -> str:
    sql = (
        "SELECT m.id FROM organizations_member m JOIN organizations_organization o "
        "ON o.id = m.organization_id WHERE o.slug = %s AND m.email = %s"
    )
    return str(rows(server_env, sql, [DEMO_ORG, email])[0][0])


def _actions(server_env: dict[str, str], member_id: str) -> list[tuple[str, str]]:
    sql = "SELECT action, reason FROM core_auditevent WHERE subject_id = %s ORDER BY seq"
    return [(str(a), str(r)) for a, r in rows(server_env, sql, [member_id])]


def test_setting_up_an_authenticator_and_signing_in_with_its_code(
    page: Page,
    demo_members: dict[str, dict[str, str]],
    server_env: dict[str, str],
    screenshot: Callable[[Page], Path],
) -> None:
    editor = demo_members["editor"]
    member_id = _member_id(server_env, editor["email"])
    sign_in(page, editor["email"], editor["password"])
    page.get_by_role("link", name="Sign-in security").click()
    expect(page.get_by_role("heading", name="Sign-in security", level=1)).to_be_visible()
    check_accessibility(page)
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("img", name="QR code of the authenticator key")).to_be_visible()
    key = base64.b32decode(page.get_by_test_id("totp-key").inner_text().replace(" ", ""))
    check_accessibility(page)
    screenshot(page)
    page.get_by_label("Code").fill("000000" if code_now(key) != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    expect(
        page.get_by_text("does not match the code the authenticator app shows now")
    ).to_be_visible()
    page.get_by_label("Code").fill(code_now(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    check_accessibility(page)
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(re.compile(rf"{ORG}/$"))
    confirmed = rows(
        server_env,
        "SELECT confirmed FROM otp_totp_totpdevice WHERE user_id = %s",
        [member_id],
    )
    assert [bool(c) for (c,) in confirmed] == [True]
    stored = rows(
        server_env,
        "SELECT code_hash FROM organizations_recoverycode WHERE member_id = %s",
        [member_id],
    )
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes.all_inner_texts()} & {h for (h,) in stored}

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, editor["email"], editor["password"])
    expect(page).to_have_url(re.compile(rf"{ORG}/verify\?next="))
    expect(page.get_by_role("heading", name="Your sign-in code")).to_be_visible()
    check_accessibility(page)
    page.goto(f"{ORG}/dashboard")  # no page opens before the code
    expect(page).to_have_url(re.compile(rf"{ORG}/verify\?next="))
    # A code after the one that confirmed the set-up: a code is never accepted twice.
    page.get_by_label("Code").fill(next_authenticator_code(server_env, member_id, key))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"{ORG}/dashboard$"))
    actions = [a for a, _ in _actions(server_env, member_id)]
    assert actions.count("member.mfa-enrolled") == 1
    assert actions[-2:] == ["member.signed-in", "member.second-factor-verified"]


def test_five_wrong_passwords_throttle_the_sign_in(
    page: Page, demo_members: dict[str, dict[str, str]], server_env: dict[str, str]
) -> None:
    viewer = demo_members["viewer"]
    member_id = _member_id(server_env, viewer["email"])
    for attempt in range(5):
        sign_in(page, viewer["email"], f"wrong password {attempt}")
        expect(page.get_by_role("alert")).to_have_text("Email or password is not correct.")
    sign_in(page, viewer["email"], viewer["password"])
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many refused sign-ins from this account or address.")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_label("Email")).to_have_value(viewer["email"])
    check_accessibility(page)
    reasons = [r for a, r in _actions(server_env, member_id) if a == "member.sign-in-failed"]
    assert reasons[-6:] == ["Sign-in refused: wrong password"] * 5 + ["Sign-in refused: throttled"]
