"""An asset's whole life in the browser, checked on the page and in the server's database: an
editor registers a calibrated tool, renames it, assigns and hands off its custody, records a
calibration that has run out (the asset page, the register list and the dashboard say it is
overdue), is asked for the override on the next hand-off, and decommissions it. And two batch
journeys of the register list: hand 25 assets to one member at once (the not-ready ones need
the override), schedule an assessment for every asset of a narrow filter.

The rows are read straight from the database the server writes (``rows``), read-only."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import DEMO_ORG
from tests.browser.server_db import rows
from tests.browser.steps import (
    action,
    expect_message,
    filter_register,
    give_reason,
    register_rows,
    row_keys,
    section,
)

OVERRIDE = "Override: why hand over an asset that is not ready"
BULK_OVERRIDE = "Override: why hand over assets that are not ready"
BATCH = 25
DASHBOARD = f"/o/{DEMO_ORG}/dashboard"
# Performed and valid until, days before today (in the organization's zone): the calibration
# ran out 20 days ago, so the asset is overdue since then.
PERFORMED_DAYS_AGO, VALID_DAYS_AGO = 200, 20


# --- the server's database -------------------------------------------------------------------


def _in(values: Sequence[Any]) -> str:
    """The placeholders of an ``IN`` list of these values."""
    return "(" + ", ".join(["%s"] * len(values)) + ")"


def _moment(value: Any) -> datetime:
    """A timestamp column as an aware datetime (SQLite hands back Django's UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime), value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(value: Any) -> Any:
    """A JSON column as Python (SQLite hands back its text)."""
    return json.loads(value) if isinstance(value, str) else value


def _org_id(server_env: dict[str, str]) -> str:
    found = rows(
        server_env, "SELECT id FROM organizations_organization WHERE slug = %s", [DEMO_ORG]
    )
    return str(found[0][0])


def _member_id(server_env: dict[str, str], email: str) -> str:
    sql = (
        "SELECT m.id FROM organizations_member m JOIN organizations_organization o"
        " ON o.id = m.organization_id WHERE o.slug = %s AND m.email = %s"
    )
    found = rows(server_env, sql, [DEMO_ORG, email])
    assert len(found) == 1, (email, found)
    return str(found[0][0])


def _asset_ids(server_env: dict[str, str], keys: Sequence[str]) -> dict[str, str]:
    """Asset key -> id, for these keys of the demo organization."""
    sql = (
        "SELECT asset_key, id FROM assets_asset"
        f" WHERE organization_id = %s AND asset_key IN {_in(keys)}"
    )
    return {str(k): str(i) for k, i in rows(server_env, sql, [_org_id(server_env), *keys])}


def _custody(server_env: dict[str, str], asset_id: str) -> list[tuple[Any, ...]]:
    """The asset's custody rows, oldest first: (id, kind, status, holder id, started, ended,
    snapshot)."""
    sql = (
        "SELECT id, assignment_kind, status, subject_resource_id, started_at, ended_at,"
        " assignment_snapshot FROM assets_custodyassignment WHERE asset_id = %s"
        " ORDER BY started_at, created_at"
    )
    return rows(server_env, sql, [asset_id])


def _active_primaries(server_env: dict[str, str], asset_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Asset id -> the holders of its active primary custody (one at most, by constraint)."""
    sql = (
        "SELECT asset_id, subject_resource_id FROM assets_custodyassignment"
        f" WHERE status = 'active' AND assignment_kind = 'primary' AND asset_id IN {_in(asset_ids)}"
    )
    held: dict[str, list[Any]] = {i: [] for i in asset_ids}
    for asset_id, holder in rows(server_env, sql, asset_ids):
        held[str(asset_id)].append(holder)
    return held


def _events(server_env: dict[str, str], subject_ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """The audit events of these subjects in the chain's order: (action, subject type, subject
    id, reason, actor id)."""
    sql = (
        "SELECT action, subject_type, subject_id, reason, actor_id FROM core_auditevent"
        f" WHERE organization_id = %s AND subject_id IN {_in(subject_ids)} ORDER BY seq"
    )
    return rows(server_env, sql, [_org_id(server_env), *subject_ids])


# --- the pages -------------------------------------------------------------------------------


def _custody_rows(page: Page, kind: str = "", status: str = "") -> Locator:
    """The asset page's custody history (latest first), of that kind and status if given."""
    selector = "tbody tr"
    if kind:
        selector += f':has(td:nth-child(2):text-is("{kind}"))'
    if status:
        selector += f':has(td:nth-child(3):text-is("{status}"))'
    return section(page, "Custody history").locator(selector)


def _choose_holder(page: Page, nth: int) -> str:
    """Choose the ``nth`` member of the custody page's Holder list; its "Name (email)"."""
    holder = page.get_by_label("Holder")
    label = holder.locator("option").nth(nth).inner_text()
    holder.select_option(label=label)
    return label


def _email(label: str) -> str:
    """The email of a holder choice "Name (email)"."""
    found = re.search(r"\(([^()]+)\)$", label)
    assert found, label
    return found.group(1)


def _dashboard_overdue(page: Page) -> tuple[int, int, Locator]:
    """On the dashboard: the overdue tile's number, the calibrated-tool row's overdue number
    and that number's link."""
    page.goto(DASHBOARD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Readiness")
    tile = page.locator(".tiles").get_by_role("link", name=re.compile("overdue$"))
    row = section(page, "By asset kind").get_by_role("row", name=re.compile("^calibrated-tool"))
    link = row.get_by_role("cell").nth(2).get_by_role("link")  # Active, Not ready, Overdue...
    return int(tile.locator(".n").inner_text()), int(link.inner_text()), link


def _local(zone: ZoneInfo, days_ago: int) -> datetime:
    """Noon of the day ``days_ago`` days before today, in ``zone``: the same date in UTC, so
    the reasons' dates do not depend on which of the two they are printed in."""
    day = datetime.now(zone).date() - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=zone)


def _list_readiness(page: Page) -> dict[str, tuple[str, str]]:
    """The register table's readiness by asset key: the badge's text and the reasons after it
    ("" when none)."""
    cells = register_rows(page).evaluate_all(
        """rows => rows.map(r => [
            r.querySelector('td.key').innerText,
            r.querySelector('.readiness').innerText,
            r.querySelector('.why') ? r.querySelector('.why').innerText : ''])"""
    )
    return {key: (badge, why) for key, badge, why in cells}


# --- the journeys ----------------------------------------------------------------------------


def test_the_life_of_an_asset(
    signed_in: Callable[[str], Page],
    server_env: dict[str, str],
    demo_members: dict[str, dict[str, str]],
) -> None:
    page = signed_in("editor")
    editor = _member_id(server_env, demo_members["editor"]["email"])
    key = f"LIFE-{secrets.token_hex(3).upper()}"
    assert not _asset_ids(server_env, [key])
    reasons = {
        "create": "New torque wrench delivered to the tool crib.",
        "edit": "Name corrected to the model on the label.",
        "assign": "Issued to the line crew for the A-check.",
        "hand_off": "Shift change: the wrench goes to the night crew.",
        "schedule": "Calibration due before first use on aircraft.",
        "complete": "Certificate received from the lab (back-dated entry).",
        "decommission": "Dropped from the stand; the ratchet is cracked.",
    }

    # Registered as an active calibrated tool.
    page.get_by_role("link", name="Add asset").click()
    page.get_by_label("Asset key").fill(key)
    page.get_by_label("Kind", exact=True).fill("calibrated-tool")
    page.get_by_label("Name", exact=True).fill("Torque wrench 20-100 Nm")
    page.get_by_label("Status", exact=True).select_option("active")
    page.get_by_label("Serial number").fill(f"SN-{key}")
    give_reason(page, reasons["create"])
    page.get_by_role("button", name="Register asset").click()
    expect_message(page, f"Asset {key} registered.")
    expect(page).to_have_url(re.compile(rf"/o/{DEMO_ORG}/assets/[^/]+/$"))
    asset_url = page.url
    asset_id = asset_url.rstrip("/").rsplit("/", 1)[-1]
    assert _asset_ids(server_env, [key]) == {key: asset_id}
    # Never calibrated: not ready from the start.
    why = page.get_by_role("list", name="Why it is not ready").get_by_role("listitem")
    expect(why).to_have_text(["calibration never completed"])

    action(page, "Edit").click()
    page.get_by_label("Name", exact=True).fill("Torque wrench 20-100 Nm, Norbar TTi 100")
    give_reason(page, reasons["edit"])
    page.get_by_role("button", name="Save changes").click()
    expect_message(page, f"Asset {key} updated.")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{key} Torque wrench 20-100 Nm, Norbar TTi 100"
    )
    sql = "SELECT asset_key, asset_kind, display_name, status FROM assets_asset WHERE id = %s"
    assert rows(server_env, sql, [asset_id]) == [
        (key, "calibrated-tool", "Torque wrench 20-100 Nm, Norbar TTi 100", "active")
    ]

    # Custody: assigned, then handed off. Not ready (never calibrated): both need the override.
    action(page, "Assign custody").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Assign custody: {key}")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This asset is not ready.")
    expect(alert.get_by_role("listitem")).to_have_text(["calibration never completed"])
    first = _choose_holder(page, 1)
    page.get_by_label("Kind of custody").select_option("primary")
    give_reason(page, reasons["assign"])
    overrides = [
        "Only for a torque check on the stand, not on aircraft.",
        "Night crew uses it on the stand only until calibrated.",
    ]
    page.get_by_label(OVERRIDE).fill(overrides[0])
    page.get_by_role("button", name="Assign").click()
    expect_message(page, f"{key} assigned to {first}.")

    action(page, "Hand off").click()
    expect(page.get_by_role("main")).to_contain_text(f"Held now by {first.split(' (')[0]}")
    second = _choose_holder(page, 1)  # the current holder is not offered
    assert second != first
    give_reason(page, reasons["hand_off"])
    page.get_by_label(OVERRIDE).fill(overrides[1])
    page.get_by_role("button", name="Hand off").click()
    expect_message(page, f"{key} handed off to {second}.")
    active = _custody_rows(page, "primary", "active")
    expect(active).to_have_count(1)
    expect(active.get_by_role("cell").nth(0)).to_contain_text(second.split(" (")[0])

    first_id, second_id = (_member_id(server_env, _email(h)) for h in (first, second))
    custody = _custody(server_env, asset_id)
    assert [(c[1], c[2], c[3]) for c in custody] == [
        ("primary", "ended", first_id),
        ("primary", "active", second_id),
    ]
    assert custody[0][5] is not None and custody[1][5] is None  # ended_at
    assert _moment(custody[0][5]) == _moment(custody[1][4])  # ended as the next one started
    assert [_json(c[6])["overrideReason"] for c in custody] == overrides
    custody_ids = [str(c[0]) for c in custody]

    # Before the calibration is recorded: the dashboard's overdue numbers.
    tile_before, kind_before, _ = _dashboard_overdue(page)

    # An overdue calibration: scheduled, then completed ready but valid until 20 days ago.
    page.goto(asset_url)
    action(page, "Schedule an assessment").click()
    page.get_by_label("Assessment kind").select_option("calibration")
    give_reason(page, reasons["schedule"])
    page.get_by_role("button", name="Schedule").click()
    expect_message(page, "(calibration) scheduled.")  # then the row is there to read
    sql = (
        "SELECT id, readiness_assessment_key, assessment_kind, status"
        " FROM assets_readinessassessment WHERE asset_id = %s"
    )
    assessments = rows(server_env, sql, [asset_id])
    assert [a[2:] for a in assessments] == [("calibration", "scheduled")]
    assessment_id, assessment_key = str(assessments[0][0]), str(assessments[0][1])
    expect_message(page, f"Assessment {assessment_key} (calibration) scheduled.")

    history = section(page, "Readiness history")
    history.get_by_role("link", name=f"Complete {assessment_key}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Record the result: {key}")
    performed_label = page.locator("label", has_text=re.compile("^Performed at")).inner_text()
    zone = ZoneInfo(re.search(r"\((.+)\)", performed_label).group(1))  # type: ignore[union-attr]
    performed = _local(zone, PERFORMED_DAYS_AGO)
    valid_until = _local(zone, VALID_DAYS_AGO)
    page.get_by_label("Result (readiness state)").select_option("ready")
    page.get_by_label(re.compile("^Performed at")).fill(performed.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label(re.compile("^Valid until")).fill(valid_until.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Certificate number").fill("CAL-2026-0412")
    give_reason(page, reasons["complete"])
    page.get_by_role("button", name="Complete assessment").click()
    expect_message(page, f"Assessment {assessment_key} completed.")

    overdue = f"calibration overdue since {valid_until.astimezone(UTC).date().isoformat()}"
    expect(page.locator(".badges .readiness")).to_have_text("Readiness: not-ready")
    expect(why).to_have_text([overdue])
    sql = (
        "SELECT status, readiness_state, performed_at, valid_until"
        " FROM assets_readinessassessment WHERE id = %s"
    )
    [(status, state, performed_at, valid_at)] = rows(server_env, sql, [assessment_id])
    assert (status, state) == ("completed", "ready")
    assert (_moment(performed_at), _moment(valid_at)) == (performed, valid_until)

    # The register list says so on the asset's row.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Register").click()
    filter_register(page, search=key)
    assert row_keys(page) == [key]
    row = register_rows(page).first
    expect(row.locator(".readiness")).to_have_text("Not ready")
    expect(row.locator(".why")).to_have_text(overdue)

    # The dashboard counts it overdue, and its number leads to a list holding it.
    tile_after, kind_after, link = _dashboard_overdue(page)
    assert (tile_after, kind_after) == (tile_before + 1, kind_before + 1)
    with page.expect_navigation():
        link.click()
    expect(page.get_by_role("search").get_by_label("Readiness")).to_have_value("overdue")
    assert key in row_keys(page)

    # The next hand-off asks for the override, saying why; without it nothing is written.
    page.goto(asset_url)
    action(page, "Hand off").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("This asset is not ready.")
    expect(alert.get_by_role("listitem")).to_have_text([overdue])
    _choose_holder(page, 2)
    give_reason(page, "Needed on the aircraft tonight.")
    page.get_by_role("button", name="Hand off").click()
    expect(page.get_by_label(OVERRIDE)).to_have_attribute("aria-invalid", "true")
    assert [(c[0], c[2]) for c in _custody(server_env, asset_id)] == [
        (custody_ids[0], "ended"),
        (custody_ids[1], "active"),
    ]

    # Decommissioned: the page lists the custody it ends before it is confirmed.
    page.goto(asset_url)
    action(page, "Decommission").click()
    ends = page.get_by_role("region", name="Custody this ends").locator("tbody tr")
    expect(ends).to_have_count(1)
    expect(ends.get_by_role("cell")).to_have_text(
        [second.split(" (")[0], "primary", re.compile(".+")]
    )
    page.get_by_label("Disposal authorization").fill("DA-2026-204")
    give_reason(page, reasons["decommission"])
    page.get_by_role("button", name="Decommission and end 1 custody assignment").click()
    expect_message(page, f"Asset {key} decommissioned; 1 custody assignment ended.")
    expect(page.locator(".badges .status")).to_have_text("Status: decommissioned")
    expect(_custody_rows(page, status="active")).to_have_count(0)
    expect(_custody_rows(page, "primary", "ended")).to_have_count(2)

    sql = "SELECT status, disposal_authorization, decommissioned_at FROM assets_asset WHERE id = %s"
    [(status, authorization, decommissioned_at)] = rows(server_env, sql, [asset_id])
    assert (status, authorization) == ("decommissioned", "DA-2026-204")
    custody = _custody(server_env, asset_id)
    assert [c[2] for c in custody] == ["ended", "ended"]
    assert _moment(custody[1][5]) == _moment(decommissioned_at)

    # One event per change, each with the reason typed for it, all by the editor.
    subjects = [asset_id, *custody_ids, assessment_id]
    c1, c2 = custody_ids
    assert _events(server_env, subjects) == [
        ("asset.created", "asset", asset_id, reasons["create"], editor),
        ("asset.updated", "asset", asset_id, reasons["edit"], editor),
        ("custody.assigned", "custody-assignment", c1, reasons["assign"], editor),
        ("custody.ended", "custody-assignment", c1, reasons["hand_off"], editor),
        ("custody.handed-off", "custody-assignment", c2, reasons["hand_off"], editor),
        ("readiness.scheduled", "readiness-assessment", assessment_id, reasons["schedule"], editor),
        ("readiness.completed", "readiness-assessment", assessment_id, reasons["complete"], editor),
        ("asset.decommissioned", "asset", asset_id, reasons["decommission"], editor),
        ("custody.ended", "custody-assignment", c2, reasons["decommission"], editor),
    ]


def test_handing_25_assets_to_one_member_at_once(
    signed_in: Callable[[str], Page], server_env: dict[str, str]
) -> None:
    page = signed_in("editor")
    filter_register(page, kind="calibrated-tool", status="active")
    shown = _list_readiness(page)
    keys = list(shown)
    assert len(keys) >= BATCH, f"the demo register has {BATCH} active calibrated tools"
    chosen = keys[:BATCH]
    late = {k: shown[k][1] for k in chosen if shown[k][0] == "Not ready"}
    assert late, f"some of the first {BATCH} active calibrated tools are not ready"
    assert all(why for why in late.values()), late  # each says why
    ids = _asset_ids(server_env, chosen)

    bulk = page.get_by_role("form", name="Act on several assets")
    to = bulk.get_by_label("Hand to").locator("option").nth(3).inner_text()  # "Name (email)"
    member = _member_id(server_env, _email(to))
    before = _active_primaries(server_env, list(ids.values()))
    already = [k for k in chosen if before[ids[k]] == [member]]
    for key in chosen:
        page.get_by_role("checkbox", name=f"Select {key}").check()
    bulk.get_by_role("radio", name="The selected assets").check()
    bulk.get_by_label("Hand to").select_option(label=to)
    reason = "Tool crib audit: the batch goes to one custodian."
    bulk.get_by_label("Reason", exact=True).fill(reason)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        bulk.get_by_role("button", name="Hand custody").click()

    # Refused: the not-ready ones are listed with their reasons, the override is asked for.
    assert posted.value.status == 400
    are = "is" if len(late) == 1 else "are"
    expect(page.get_by_role("heading", level=2)).to_have_text(
        f"{len(late)} of these assets {are} not ready"
    )
    listed = page.get_by_role("list", name="Assets that are not ready").get_by_role("listitem")
    expect(listed).to_have_count(len(late))
    assert sorted(listed.all_inner_texts()) == sorted(f"{k}: {w}" for k, w in late.items())
    override = page.get_by_label(BULK_OVERRIDE)
    expect(override).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Hand to")).to_have_value(member)
    expect(page.get_by_label("Reason", exact=True)).to_have_value(reason)
    assert _active_primaries(server_env, list(ids.values())) == before  # nothing written

    why_override = "Audit needs them together; none goes on an aircraft until recalibrated."
    override.fill(why_override)
    page.get_by_role("button", name="Hand custody").click()
    moved = BATCH - len(already)
    expect_message(page, f"{moved} assets handed to {to}.")
    expect(page.get_by_role("search").get_by_label("Kind", exact=True)).to_have_value(
        "calibrated-tool"
    )

    # Each chosen asset has one active primary custody, the member's; the override is on the
    # not-ready ones only.
    held = _active_primaries(server_env, list(ids.values()))
    assert held == {asset_id: [member] for asset_id in ids.values()}
    sql = (
        "SELECT asset_id, assignment_snapshot FROM assets_custodyassignment WHERE status = 'active'"
        f" AND assignment_kind = 'primary' AND asset_id IN {_in(list(ids.values()))}"
    )
    overrides = {
        str(a): _json(snap).get("overrideReason") or ""
        for a, snap in rows(server_env, sql, list(ids.values()))
    }
    expected = {ids[k]: why_override if k in late else "" for k in chosen if k not in already}
    assert {i: overrides[i] for i in expected} == expected
    # And the register's Holder filter finds them with that member.
    filter_register(page, holder=member, kind="calibrated-tool", status="active")
    assert set(chosen) <= set(row_keys(page))


def test_scheduling_an_assessment_for_the_whole_filter(
    signed_in: Callable[[str], Page], server_env: dict[str, str]
) -> None:
    page = signed_in("editor")
    filter_register(page, search="Tyre pressure", status="active")
    keys = row_keys(page)
    assert 1 < len(keys) < 10, f"the search matches a few assets: {keys}"
    ids = _asset_ids(server_env, keys)
    kind = "leak-check"
    sql = "SELECT COUNT(*) FROM assets_readinessassessment WHERE assessment_kind = %s"
    assert rows(server_env, sql, [kind]) == [(0,)]

    bulk = page.get_by_role("form", name="Act on several assets")
    bulk.get_by_role("radio", name="Every asset matching the filter").check()
    bulk.get_by_label("Assessment kind").select_option("")  # "Another kind (type it below)"
    bulk.get_by_label("Another kind").fill(kind)
    reason = "Seal leak reported on one gauge: check the whole type."
    bulk.get_by_label("Reason", exact=True).fill(reason)
    bulk.get_by_role("button", name="Schedule").click()

    expect_message(page, f"{len(keys)} assessments ({kind}) scheduled.")
    expect(page.get_by_role("search").get_by_label("Search")).to_have_value("Tyre pressure")
    sql = (
        "SELECT id, asset_id, status, readiness_state FROM assets_readinessassessment"
        " WHERE assessment_kind = %s"
    )
    scheduled = rows(server_env, sql, [kind])
    assert sorted(str(r[1]) for r in scheduled) == sorted(ids.values())  # one each, no other
    assert {(r[2], r[3]) for r in scheduled} == {("scheduled", "unknown")}
    events = _events(server_env, [str(r[0]) for r in scheduled])
    assert [(e[0], e[3]) for e in events] == [("readiness.scheduled", reason)] * len(keys)

    # Each asset's page shows its scheduled assessment.
    page.get_by_role("table").get_by_role("link", name=keys[0], exact=True).click()
    planned = section(page, "Readiness history").locator("tbody tr", has_text=kind)
    expect(planned.get_by_role("cell").nth(2)).to_have_text("scheduled")
