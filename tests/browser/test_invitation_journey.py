"""Inviting a colleague in the browser, checked on the pages and in the server's database: the
demo admin invites someone from the Members page, the email lands in the server's file email
backend (the server is another process), the invitee opens the link in a browser of their
own, chooses a name and password and is signed in (the used link then says so), sets up an
authenticator app, signs out, and signs in with password and code. And revoking a
member who has a session open in another browser: their next click is refused. axe-core checks
every new page."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email import policy
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.members import sign_in
from tests.browser.page_checks import check_accessibility
from tests.browser.server_db import rows
from tests.browser.steps import (
    expect_message,
    give_reason,
    next_authenticator_code,
    set_up_authenticator,
)

INVITEE = "lena.hart@example.com"
PASSWORD = "hangar lantern orbit 42"
MEMBERS = f"/o/{DEMO_ORG}/members/"


@pytest.fixture(scope="module")
def server_env(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """The package's server environment, with invitation emails written as files to a folder
    of this module's own (Django's file backend), for the test to read."""
    outbox = tmp_path_factory.mktemp("outbox")
    return {**server_env, "REGISTRA_EMAIL_BACKEND": "file", "REGISTRA_EMAIL_DIR": str(outbox)}


def _emails(server_env: dict[str, str]) -> list[Any]:
    """Every message the server's file backend wrote (one file per connection, messages
    separated by a line of dashes), parsed."""
    messages = []
    for path in sorted(Path(server_env["REGISTRA_EMAIL_DIR"]).glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip(), policy=policy.default))
    return messages


def _member(server_env: dict[str, str], email_address: str) -> tuple[Any, ...]:
    (row,) = rows(
        server_env,
        "SELECT id, status, role, full_name FROM organizations_member WHERE email = %s",
        [email_address],
    )
    return row


def _actions(server_env: dict[str, str], member_id: str) -> list[str]:
    sql = "SELECT action FROM core_auditevent WHERE subject_id = %s ORDER BY seq"
    return [str(a) for (a,) in rows(server_env, sql, [member_id])]


def test_an_admin_invites_a_colleague_who_joins(
    signed_in,
    browser: Browser,
    base_url: str,
    server_env: dict[str, str],
    screenshot: Callable[[Page], Path],
) -> None:
    page = signed_in("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    check_accessibility(page)

    page.get_by_role("link", name="Invite a colleague").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invite a colleague")
    check_accessibility(page)
    page.get_by_label("Email").fill(INVITEE)
    page.get_by_label("Role").select_option("editor")
    page.get_by_label("Name").fill("Lena Hart")
    page.get_by_label("External employee id").fill("SKY-T-900")
    give_reason(page, "Lena joins the tool crib team on the night shift.")
    screenshot(page)  # the README's picture of this page (docs/screenshots/invite-colleague.png)
    page.get_by_role("button", name="Send invitation").click()

    expect_message(page, f"Invitation sent to {INVITEE}")
    pending = page.get_by_role("region", name="Pending invitations").locator("tbody tr")
    expect(pending.filter(has_text=INVITEE)).to_have_count(1)
    member_id, status, role, _ = _member(server_env, INVITEE)
    assert (status, role) == ("pending", "editor")

    (message,) = [m for m in _emails(server_env) if m["To"] == INVITEE]
    body = message.get_content()
    link = re.search(r"http://\S+/invitations/\S+", body)
    assert link, body
    assert link.group(0).startswith(base_url)

    with browser.new_context(base_url=base_url) as invitee_context:
        invitee = invitee_context.new_page()
        invitee.goto(link.group(0))
        expect(invitee.get_by_role("heading", level=1)).to_contain_text("Join")
        check_accessibility(invitee)
        invitee.get_by_label("Your name").fill("Lena M. Hart")
        invitee.get_by_label("Password", exact=True).fill(PASSWORD)
        invitee.get_by_label("Password again").fill(PASSWORD)
        invitee.get_by_role("button", name=re.compile("^Join")).click()

        expect(invitee).to_have_url(re.compile(rf"/o/{DEMO_ORG}/$"))
        expect_message(invitee, "Welcome to")
        expect(invitee.locator(".account .who")).to_contain_text("Lena M. Hart")
        assert _member(server_env, INVITEE)[1:] == ("active", "editor", "Lena M. Hart")
        assert _actions(server_env, member_id) == [
            "member.invited",
            "member.joined",
            "member.signed-in",
        ]

        invitee.goto(link.group(0))
        expect(invitee.get_by_role("alert")).to_contain_text("already been used: sign in")
        check_accessibility(invitee)

        # A second factor: an authenticator app set up, then signing in with password and code.
        invitee.goto(f"/o/{DEMO_ORG}/")
        key = set_up_authenticator(invitee)
        invitee.get_by_role("link", name="Continue").click()
        invitee.get_by_role("button", name="Sign out").click()
        sign_in(invitee, INVITEE, PASSWORD)
        expect(invitee.get_by_role("heading", name="Your sign-in code")).to_be_visible()
        invitee.get_by_label("Code").fill(next_authenticator_code(server_env, member_id, key))
        invitee.get_by_role("button", name="Sign in").click()
        expect(invitee).to_have_url(re.compile(rf"/o/{DEMO_ORG}/$"))
        expect(invitee.locator(".account .who")).to_contain_text("Lena M. Hart")
        assert _actions(server_env, member_id)[3:] == [
            "member.mfa-enrolment-started",
            "member.mfa-enrolled",
            "member.signed-in",
            "member.second-factor-verified",
        ]
        devices = "SELECT confirmed FROM otp_totp_totpdevice WHERE user_id = %s"
        assert [bool(c) for (c,) in rows(server_env, devices, [member_id])] == [True]

    page.goto(MEMBERS)
    row = page.get_by_role("region", name="Members", exact=True).locator("tbody tr")
    expect(row.filter(has_text=INVITEE)).to_contain_text("Active")


def test_revoking_a_member_ends_their_open_session(
    signed_in, browser: Browser, base_url: str, demo_members: dict[str, dict[str, str]], server_env
) -> None:
    editor = demo_members["editor"]
    with browser.new_context(base_url=base_url) as other_context:
        their = other_context.new_page()
        sign_in(their, editor["email"], editor["password"])
        expect(their).to_have_url(re.compile(rf"/o/{DEMO_ORG}/$"))

        page: Page = signed_in("admin")
        page.goto(MEMBERS)
        name = editor["full_name"]
        page.get_by_role("list", name=f"Actions on {name}").get_by_role(
            "link", name="Revoke"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Revoke the membership")
        check_accessibility(page)
        give_reason(page, "Left the company at the end of the month.")
        page.get_by_role("button", name="Revoke membership").click()
        expect_message(page, f"{name}'s membership is revoked")

        member_id, status, _, _ = _member(server_env, editor["email"])
        assert status == "revoked"
        assert _actions(server_env, member_id)[-1] == "member.revoked"

        # Their next click: the session no longer opens anything; they are at the sign-in page.
        their.get_by_role("navigation", name="Main").get_by_role("link", name="Readiness").click()
        expect(their).to_have_url(re.compile(r"/sign-in\?next="))
        expect(their.get_by_role("heading", level=1)).to_have_text("Sign in")
        assert their.goto(f"/o/{DEMO_ORG}/").url.split("?")[0].endswith("/sign-in")


def test_the_other_member_pages_pass_axe(signed_in, server_env: dict[str, str]) -> None:
    page = signed_in("admin")
    page.goto(MEMBERS)
    viewer_row = page.get_by_role("region", name="Members", exact=True).locator("tbody tr").first
    for name in ("Change role", "Edit"):
        page.goto(MEMBERS)
        viewer_row.get_by_role("link", name=re.compile(f"^{name}")).click()
        expect(page.get_by_role("button", name=re.compile("^(Change role|Save details)$")))
        check_accessibility(page)
    page.goto(f"{MEMBERS}invite")
    page.get_by_label("Email").fill("nobody@example.com")
    give_reason(page, "short")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    check_accessibility(page)
    give_reason(page, "Checking the invitation pages with axe-core.")
    page.get_by_role("button", name="Send invitation").click()
    invitation = page.get_by_role("list", name="Actions on the invitation of nobody@example.com")
    for name, heading in (
        ("Re-send", "Re-send the invitation"),
        ("Cancel", "Cancel the invitation"),
    ):
        invitation.get_by_role("link", name=re.compile(f"^{name}")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        check_accessibility(page)
        page.go_back()
    page.goto("/invitations/not-a-real-link")
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation link is not valid")
    check_accessibility(page)
