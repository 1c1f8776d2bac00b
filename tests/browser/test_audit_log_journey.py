"""An auditor's journey through the audit log in the browser, checked on the page and in the
server's database: filter the log, export the filter as CSV, verify the chain, download a
signed checkpoint; then an event row is edited straight in the database and the verify page
names that event. axe-core runs on every page of the audit log."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.members import sign_in
from tests.browser.page_checks import SCREENSHOTS, check_accessibility
from tests.browser.server_db import execute, rows

LOG = f"/o/{DEMO_ORG}/audit/"
TAMPERED_REASON = "Nothing to see here: this row was edited in the database"


@pytest.fixture(scope="module")
def auditor_sign_in(demo_members: dict[str, dict[str, str]]) -> tuple[str, str]:
    """The email and a fresh password of the demo auditor (``registra demo-members``)."""
    auditor = demo_members["auditor"]
    return auditor["email"], auditor["password"]


def _org_id(server_env: dict[str, str]) -> str:
    found = rows(
        server_env, "SELECT id FROM organizations_organization WHERE slug = %s", [DEMO_ORG]
    )
    return str(found[0][0])


def _events(server_env: dict[str, str], where: str = "", params: Sequence[Any] = ()) -> list[Any]:
    """(seq, id, hash) of the demo organization's events matching ``where``, newest first."""
    sql = "SELECT seq, id, hash FROM core_auditevent WHERE organization_id = %s"
    return rows(server_env, f"{sql}{where} ORDER BY seq DESC", [_org_id(server_env), *params])


def _shown_seqs(page: Page) -> list[int]:
    return [int(s.lstrip("#")) for s in page.locator(".events .seq").all_inner_texts()]


def _checked(page: Page, name: str) -> None:
    """axe-core on the page as it is now, and its screenshot for people to look at (the
    window only: a full page of 50 events is a screenshot of megabytes)."""
    check_accessibility(page)
    page.screenshot(path=SCREENSHOTS / f"audit-log-{name}.png")


def _verify(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Verify chain now").click()
    expect(page.get_by_role("heading", name="Result")).to_be_visible()


def test_an_auditor_filters_exports_and_verifies_and_the_verify_page_names_an_edited_event(
    page: Page,
    server_env: dict[str, str],
    auditor_sign_in: tuple[str, str],
    tmp_path: Path,
) -> None:
    sign_in(page, *auditor_sign_in)
    expect(page).to_have_url(re.compile(rf"/o/{DEMO_ORG}/$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    _checked(page, "list")

    # filter: what the demo load's system job created
    filters = page.get_by_role("search", name="Audit log filters")
    filters.get_by_label("Actor").select_option("system")
    filters.get_by_label("Action").fill("asset.created")
    with page.expect_navigation():
        filters.get_by_role("button", name="Apply").click()
    assert "actor=system" in page.url and "action=asset.created" in page.url  # the state
    wanted = _events(server_env, " AND actor_type = 'system' AND action = 'asset.created'")
    assert len(wanted) == 60  # the demo's 60 assets: more than a page
    assert _shown_seqs(page) == [seq for seq, _, _ in wanted[:50]]
    expect(page.locator(".events .event-head code").first).to_have_text("asset.created")
    expect(page.get_by_role("link", name="Older events")).to_be_visible()
    _checked(page, "filtered")

    # export: the whole filter, not only the page shown
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert re.fullmatch(rf"{DEMO_ORG}-audit-\d{{8}}-\d{{4}}\.csv", download.suggested_filename)
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as f:
        exported = list(csv.DictReader(f))
    assert [(int(r["seq"]), r["id"], r["hash"]) for r in exported] == [tuple(w) for w in wanted]
    assert {(r["action"], r["actorType"]) for r in exported} == {("asset.created", "system")}

    # a bad filter is a 400 page naming the field and its rule
    page.goto(f"{LOG}?since=2026-02-30")
    expect(page.get_by_role("alert")).to_contain_text("must be a date as YYYY-MM-DD")
    _checked(page, "refused-filter")

    # verify: intact up to the last event; reading writes nothing
    page.goto(LOG)
    page.get_by_role("link", name="Verify chain").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify the audit chain")
    _checked(page, "verify")
    before = _events(server_env)
    _verify(page)
    last_seq, last_id, last_hash = before[0]
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        f"The chain is intact up to event #{last_seq} at"
    )
    expect(page.get_by_role("main")).to_contain_text(last_id)
    _checked(page, "verified")

    # the signed checkpoint, as a file
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download a signed checkpoint").click()
    checkpoint = download_info.value
    assert checkpoint.suggested_filename == f"{DEMO_ORG}-audit-checkpoint-{last_seq}.json"
    saved = tmp_path / checkpoint.suggested_filename
    checkpoint.save_as(saved)
    body = json.loads(saved.read_text())
    assert (body["organizationSlug"], body["seq"], body["headHash"]) == (
        DEMO_ORG,
        last_seq,
        last_hash,
    )
    assert _events(server_env) == before  # neither verifying nor the checkpoint recorded an event

    # someone edits an event in the database: the verify page names it
    victim_seq, victim_id, _ = wanted[-1]
    changed = execute(
        server_env,
        "UPDATE core_auditevent SET reason = %s WHERE id = %s",
        [TAMPERED_REASON, victim_id],
    )
    assert changed == 1
    stored = rows(server_env, "SELECT reason FROM core_auditevent WHERE id = %s", [victim_id])
    assert stored == [(TAMPERED_REASON,)]
    _verify(page)
    alert = page.get_by_role("main").get_by_role("alert")
    expect(alert).to_contain_text("The chain is broken.")
    expect(alert).to_contain_text(f"The first bad event is #{victim_seq} ({victim_id}).")
    expect(alert).to_contain_text("its content no longer matches its keyed hash")
    expect(page.get_by_role("main")).to_contain_text(f"Reason: {TAMPERED_REASON}")
    _checked(page, "broken")

    # and the broken chain gets no checkpoint
    page.get_by_role("button", name="Download a signed checkpoint").click()
    expect(page.get_by_role("main").get_by_role("alert").first).to_contain_text(
        "No checkpoint was signed: the chain does not verify."
    )
