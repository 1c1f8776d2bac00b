"""An admin's service-account journey in the browser, against a real ``registra serve``: create
an account (the secret is shown once, with a copy button and the curl line), get a token with
it over real HTTP, rotate it (the old secret is refused, the new one works); then edit, disable,
enable and delete another. Each step is checked on the page, over the API and in the rows the
server wrote; axe-core checks every service-account page."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.page_checks import check_accessibility
from tests.browser.server_db import rows
from tests.browser.steps import expect_message, give_reason

LIST = f"/o/{DEMO_ORG}/service-accounts/"
REASONS = {
    "create": "The nightly drift check reads the register through the API.",
    "rotate": "The secret was pasted into a build log by mistake.",
    "edit": "The CMMS team took over the bridge from IT.",
    "disable": "The drift check is paused during the CMMS migration.",
    "enable": "The CMMS migration is done; the drift check runs again.",
    "delete": "The drift check moved to the CMMS vendor's own tool.",
}


# --- over HTTP and in the server's database ---------------------------------------------------


def _post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    return _answer(request)


def _get(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    return _answer(request)


def _answer(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _grant(base_url: str, client_id: str, secret: str) -> tuple[int, dict[str, Any]]:
    """A real client-credentials grant against the live server."""
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return _post_json(f"{base_url}/api/v1/auth/token", body)


def _account(server_env: dict[str, str], name: str) -> tuple[Any, ...]:
    """(id, status, scopes, contact email, secret hash, last used) of the demo organization's
    account of this name."""
    sql = (
        "SELECT s.id, s.status, s.scopes, s.contact_email, s.secret_hash, s.last_used_at"
        " FROM organizations_serviceaccount s JOIN organizations_organization o"
        " ON o.id = s.organization_id WHERE o.slug = %s AND s.name = %s"
    )
    found = rows(server_env, sql, [DEMO_ORG, name])
    assert len(found) == 1, found
    return found[0]


def _events(server_env: dict[str, str], account_id: str) -> list[tuple[Any, ...]]:
    """The account's own audit events (not the grants'): (action, reason, actor id)."""
    sql = (
        "SELECT action, reason, actor_id FROM core_auditevent"
        " WHERE subject_id = %s AND action LIKE 'service-account.%%' ORDER BY seq"
    )
    return rows(server_env, sql, [account_id])


def _member_id(server_env: dict[str, str], email: str) -> str:
    sql = (
        "SELECT m.id FROM organizations_member m JOIN organizations_organization o"
        " ON o.id = m.organization_id WHERE o.slug = %s AND m.email = %s"
    )
    return str(rows(server_env, sql, [DEMO_ORG, email])[0][0])


# --- on the pages ---------------------------------------------------------------------------


def _shown_secret(page: Page) -> tuple[str, str]:
    """The client id and secret the page shows once."""
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    assert re.fullmatch(r"svc_[0-9A-HJKMNP-TV-Z]{26}", client_id), client_id
    assert re.fullmatch(r"rsec_[A-Za-z0-9_-]{43}", secret), secret
    return client_id, secret


def _copied_secret(page: Page, secret: str) -> None:
    """Press "Copy secret": the secret is on the clipboard, or (where the browser refuses the
    clipboard) selected for the keyboard's copy."""
    page.get_by_role("button", name="Copy secret").click()
    status = page.get_by_role("main").get_by_role("status")
    expect(status).to_contain_text(re.compile("on the clipboard|is selected"))
    if "is selected" in status.inner_text():
        assert page.evaluate("window.getSelection().toString()") == secret
        return
    try:
        pasted = page.evaluate("navigator.clipboard.readText()")
    except PlaywrightError:  # the browser writes the clipboard but will not read it back
        return
    assert pasted == secret


def _row(page: Page, name: str) -> Any:
    return page.get_by_role("table").get_by_role("row", name=re.compile(f"^{re.escape(name)}"))


def _account_action(page: Page, name: str, control: str, reason: str, button: str) -> None:
    """From the list: the account's ``control`` link, its page checked, the reason, ``button``."""
    page.goto(LIST)
    _row(page, name).get_by_role("link", name=re.compile(f"^{control}")).click()
    expect(page.get_by_role("button", name=button)).to_be_visible()
    check_accessibility(page)
    give_reason(page, reason)
    page.get_by_role("button", name=button).click()


# --- the journeys ----------------------------------------------------------------------------


def test_create_use_and_rotate_a_service_account(
    signed_in: Callable[[str], Page],
    base_url: str,
    server_env: dict[str, str],
    demo_members: dict[str, dict[str, str]],
    screenshot: Callable[[Page], Path],
) -> None:
    page = signed_in("admin")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    admin_id = _member_id(server_env, demo_members["admin"]["email"])
    name = "Nightly drift check"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Service accounts")
    check_accessibility(page)

    # The form, refused once: the errors next to their fields, nothing typed lost.
    page.get_by_role("link", name="Create service account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create service account")
    check_accessibility(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Contact email").fill("integrations@example.test")
    give_reason(page, REASONS["create"])
    page.get_by_role("button", name="Create service account").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_role("group", name="Scopes")).to_contain_text("must name at least one")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    check_accessibility(page)

    page.get_by_role("checkbox", name=re.compile("^assets:read")).check()
    page.get_by_role("button", name="Create service account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Service account {name} created")
    client_id, secret = _shown_secret(page)
    expect(page.locator("#curl-line")).to_have_text(
        f"curl -sS -X POST {base_url}/api/v1/auth/token -H 'Content-Type: application/json'"
        f' -d \'{{"grant_type":"client_credentials","client_id":"{client_id}",'
        f'"client_secret":"{secret}"}}\''
    )
    _copied_secret(page, secret)
    check_accessibility(page)
    screenshot(
        page
    )  # the README's picture of this page (docs/screenshots/service-account-secret.png)

    account_id, status, scopes, email, secret_hash, used = _account(server_env, name)
    assert (account_id, status, email, used) == (
        client_id,
        "active",
        "integrations@example.test",
        None,
    )
    assert (json.loads(scopes) if isinstance(scopes, str) else scopes) == ["assets:read"]
    assert secret not in secret_hash
    assert _events(server_env, client_id) == [
        ("service-account.created", REASONS["create"], admin_id)
    ]

    # The secret gets a token over real HTTP, and the token reads the register.
    code, granted = _grant(base_url, client_id, secret)
    assert code == 200, granted
    assert (granted["token_type"], granted["scope"], granted["expires_in"]) == (
        "Bearer",
        "assets:read",
        900,
    )
    old_token = granted["access_token"]
    assert _get(f"{base_url}/api/v1/assets?limit=1", old_token)[0] == 200
    assert _account(server_env, name)[5] is not None  # last used, now

    # Shown once: the list has the account but not its secret, and says it was used.
    page.goto(LIST)
    row = _row(page, name)
    expect(row).to_contain_text(client_id)
    expect(row.get_by_role("cell").nth(5)).not_to_have_text("never")
    assert secret not in page.content()
    check_accessibility(page)

    # Rotate: a new secret, shown once; the old one and its token are refused at once.
    _account_action(page, name, "Rotate secret", REASONS["rotate"], "Rotate secret")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"New secret for {name}")
    rotated_id, new_secret = _shown_secret(page)
    assert rotated_id == client_id and new_secret != secret
    check_accessibility(page)
    code, refused = _grant(base_url, client_id, secret)
    assert (code, refused["error"]) == (401, "unauthenticated")
    assert _get(f"{base_url}/api/v1/assets?limit=1", old_token)[0] == 401
    code, granted = _grant(base_url, client_id, new_secret)
    assert code == 200, granted
    assert _get(f"{base_url}/api/v1/assets?limit=1", granted["access_token"])[0] == 200
    assert new_secret not in _account(server_env, name)[4]
    assert _events(server_env, client_id)[1:] == [
        ("service-account.secret-rotated", REASONS["rotate"], admin_id)
    ]
    # Never logged: the server's log (requests, grants, refusals) holds neither secret.
    log = (Path(server_env["REGISTRA_DATA_DIR"]) / "server.log").read_text(errors="replace")
    assert client_id in log  # the refused grant is logged, by client id
    assert secret not in log and new_secret not in log


def test_disable_enable_and_delete_a_service_account(
    signed_in: Callable[[str], Page],
    base_url: str,
    server_env: dict[str, str],
) -> None:
    page = signed_in("admin")
    name = "CMMS bridge"
    page.goto(f"{LIST}new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("checkbox", name=re.compile("^organization:read")).check()
    give_reason(page, REASONS["create"])
    page.get_by_role("button", name="Create service account").click()
    client_id, secret = _shown_secret(page)

    page.goto(LIST)
    _row(page, name).get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    check_accessibility(page)
    page.get_by_label("Contact email").fill("cmms-team@example.test")
    give_reason(page, REASONS["edit"])
    page.get_by_role("button", name="Save changes").click()
    expect_message(page, f"Service account {name} updated.")
    expect(_row(page, name)).to_contain_text("cmms-team@example.test")
    assert _account(server_env, name)[3] == "cmms-team@example.test"

    _account_action(page, name, "Disable", REASONS["disable"], "Disable")
    expect_message(page, f"Service account {name} disabled")
    expect(_row(page, name)).to_contain_text("disabled")
    check_accessibility(page)
    assert _grant(base_url, client_id, secret)[0] == 401

    _account_action(page, name, "Enable", REASONS["enable"], "Enable")
    expect_message(page, f"Service account {name} enabled.")
    assert _grant(base_url, client_id, secret)[0] == 200

    _account_action(page, name, "Delete", REASONS["delete"], "Delete for good")
    expect_message(page, f"Service account {name} deleted.")
    expect(_row(page, name)).to_have_count(0)
    assert _grant(base_url, client_id, secret)[0] == 401
    assert _account(server_env, name)[1] == "deleted"
    assert [(a, r) for a, r, _ in _events(server_env, client_id)] == [
        ("service-account.created", REASONS["create"]),
        ("service-account.updated", REASONS["edit"]),
        ("service-account.disabled", REASONS["disable"]),
        ("service-account.enabled", REASONS["enable"]),
        ("service-account.deleted", REASONS["delete"]),
    ]
