"""The asset page: fields and snapshots as labelled data, computed readiness with its reasons,
custody and readiness history, the asset's audit trail with per-field diffs, the as-of view of
a past moment, the role rules for its controls, 404s for foreign and unknown ids, and a pinned
query count however long the asset's history."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment
from registra.core.timefmt import now
from registra.organizations.models import Member, Organization
from registra.web.display import PATH_SEPARATOR
from tests.cast import REASON, Cast, calibrate, make_asset, operator, org_day
from tests.web.conftest import give_password, sign_in

pytestmark = pytest.mark.django_db

SNAPSHOT = {
    "manufacturer": "Norbar",
    "model": "TTi 60",
    "serialNumber": "NB-60-0042",
    "location": "Hangar 2, toolbox A",
    "specifications": {"range": "12-60 N·m", "drive": "3/8 in"},
    "acquisition": {"date": "2024-03-01", "supplier": "Aviation Tooling GmbH", "costEur": 412.5},
}
CLASSIFICATION = {
    "level": {"label": "Flight-safety critical", "rank": 4, "severity": "critical"},
    "criticality": "critical",
    "regulatoryClass": "EASA Part-145.A.40 tools and equipment",
    "classifiedAt": "2024-03-02T09:00:00.000Z",
}
SOURCE_REF = {
    "sourceSystem": "AMOS",
    "externalId": "EQ0000042",
    "importRunId": "run-7",
    "lastSyncedAt": "2026-01-05T02:00:00.000Z",
    "sourceRow": {"EQUIPMENT_NO": "EQ0000042", "STATUS": "In Service"},
}


def _url(asset: Asset) -> str:
    return f"/o/skyline-mro/assets/{asset.id}/"


def _text(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed, to assert what a reader sees."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _page(client: Client, asset: Asset, status: int = 200, **query: str) -> str:
    response = client.get(_url(asset), query)
    assert response.status_code == status, response.content.decode()[:3000]
    return response.content.decode()


def _section(html: str, heading_id: str) -> str:
    """The text of one section of the page, found by its heading's id."""
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert found, heading_id
    return _text(found.group(0))


def _berlin(moment: datetime) -> str:
    """``moment`` as the as-of field takes it: minutes, in the organization's zone."""
    return moment.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M")


def _aged(org: Organization, key: str, days: int = 10, **spec: object) -> Asset:
    """An asset registered ``days`` ago (as a history load records it)."""
    return make_asset(org, key, created_at=now() - timedelta(days=days), **spec)


def _hold(org: Organization, asset: Asset, member: Member, **options: Any) -> CustodyAssignment:
    """Give ``asset`` to ``member`` (primary custody), as the operator."""
    return asset_services.custody_assign(
        organization=org,
        actor=operator(org),
        reason=REASON,
        asset_id=asset.id,
        member_id=member.id,
        **options,
    )


@pytest.fixture
def viewer(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.viewer)


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


def test_fields_and_snapshots_are_labelled_data_not_json(cast: Cast, viewer: Client) -> None:
    asset = make_asset(
        cast.org,
        "TW-042",
        display_name="Torque wrench 12-60 N·m",
        description="Click-type, blue case",
        source_kind="cmms-import",
        asset_snapshot=SNAPSHOT,
        classification_snapshot=CLASSIFICATION,
        source_ref_snapshot=SOURCE_REF,
    )
    html = _page(viewer, asset)
    text = _text(html)
    assert "<h1>" in html and html.count("<h1") == 1
    for shown in (
        "Asset key TW-042",
        "Name Torque wrench 12-60 N·m",
        "Description Click-type, blue case",
        "Source cmms-import",
        "Status active",
        "Manufacturer Norbar",
        "Serial number NB-60-0042",
        "Location Hangar 2, toolbox A",
        "Range 12-60 N·m",  # a specification row
        "Drive 3/8 in",
        "Supplier Aviation Tooling GmbH",
        "Cost (EUR) 412.5",
        "Label Flight-safety critical",
        "Severity critical",
        "Regulatory class EASA Part-145.A.40 tools and equipment",
        "Classified 2024-03-02 10:00",  # 09:00 UTC in Europe/Berlin
        "Source system AMOS",
        "Last synced 2026-01-05 03:00",
        "EQUIPMENT_NO EQ0000042",  # the source row's keys as received
        "STATUS In Service",
    ):
        assert shown in text, shown
    assert '<th scope="row">Range</th>' in html  # specifications as key/value rows
    for raw in ('"manufacturer"', "{&quot;", "{'", '{"'):
        assert raw not in html


def test_the_computed_readiness_says_why_it_is_not_ready(cast: Cast, viewer: Client) -> None:
    asset = make_asset(cast.org, "TW-1")
    readiness = _section(_page(viewer, asset), "readiness-h")
    assert "not-ready" in readiness and "calibration never completed" in readiness

    calibrate(cast.org, asset, state="not-ready")
    failed_on = org_day(cast.org, now() - timedelta(days=1))
    assert f"calibration failed on {failed_on}" in _section(_page(viewer, asset), "readiness-h")

    calibrate(cast.org, asset)
    readiness = _section(_page(viewer, asset), "readiness-h")
    assert "Computed at" in readiness and "not-ready" not in readiness


def test_custody_history_names_holders_and_the_as_of_view_shows_the_earlier_holder(
    cast: Cast, viewer: Client
) -> None:
    asset = _aged(cast.org, "TW-7")
    calibrate(cast.org, asset)
    _hold(
        cast.org,
        asset,
        cast.technician,
        started_at=now() - timedelta(days=3),
        location="Line station 3",
    )
    asset_services.custody_hand_off(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        to_member_id=cast.editor.id,
    )
    custody = _section(_page(viewer, asset), "custody-h")
    assert "Eddie Editor sky.eddie@example.test primary active" in custody
    assert "Tess Technician sky.tess@example.test primary ended" in custody
    assert "Line station 3" in custody

    before = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(hours=1))), "as-of-h")
    assert "Primary holder Tess Technician (sky.tess@example.test)" in before
    assert "Eddie Editor" not in before
    # The calibration was performed yesterday but recorded only now: an hour ago it did not
    # exist, so the readiness then is worked out without it.
    assert "Status active" in before and "calibration never completed" in before

    earlier = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(days=4))), "as-of-h")
    assert "Primary holder Nobody held it." in earlier


def test_the_audit_trail_shows_each_event_with_its_field_diff(cast: Cast, viewer: Client) -> None:
    asset = _aged(cast.org, "TW-9", display_name="Tool TW-9", asset_snapshot=SNAPSHOT)
    moved = {**SNAPSHOT, "location": "Hangar 5, toolbox C"}
    asset_services.asset_update(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason="Relabelled after the annual stock take",
        asset_id=asset.id,
        display_name="Torque wrench TTi 60",
        asset_snapshot=moved,
    )
    asset_services.asset_change_status(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason="Sent out for repair of the ratchet",
        asset_id=asset.id,
        status="inactive",
    )
    html = _page(viewer, asset)
    trail = _section(html, "trail-h")
    assert trail.index("asset.status-changed") < trail.index("asset.updated")  # newest first
    assert trail.index("asset.updated") < trail.index("asset.created")
    assert "asset.updated · Eddie Editor Reason: Relabelled after the annual stock take" in trail
    assert "Name Tool TW-9 Torque wrench TTi 60" in trail
    location = PATH_SEPARATOR.join(["Asset snapshot", "Location"])
    assert f"{location} Hangar 2, toolbox A Hangar 5, toolbox C" in trail
    model = PATH_SEPARATOR.join(["Asset snapshot", "Model"])
    assert model not in trail.split("asset.created")[0]  # unchanged: no row
    assert model in trail  # the creation records it
    assert "Status active inactive" in trail

    then = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(hours=1))), "as-of-h")
    assert "Status active" in then and "Name Tool TW-9" in then
    assert "Location Hangar 2, toolbox A" in then and "Hangar 5" not in then


def test_a_decommissioned_asset_shows_its_authorization_and_ended_custody(
    cast: Cast, viewer: Client
) -> None:
    asset = _aged(cast.org, "TW-10", status="inactive")
    since = now() - timedelta(days=5)
    _hold(cast.org, asset, cast.technician, started_at=since, override_reason="Held in stores")
    asset_services.asset_decommission(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason="Scrapped after a failed overhaul",
        asset_id=asset.id,
        disposal_authorization="DA-2026-0042",
        decommissioned_at=now() - timedelta(days=2),
    )
    html = _page(viewer, asset)
    details = _section(html, "fields-h")
    assert "Disposal authorization DA-2026-0042" in details
    assert "Decommissioned by Eddie Editor" in details
    assert "Tess Technician sky.tess@example.test primary ended" in _section(html, "custody-h")
    # Recorded now, the decommissioning took effect two days ago: the as-of view says so.
    then = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(days=1))), "as-of-h")
    assert "Status decommissioned" in then and "Nobody held it." in then
    before = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(days=3))), "as-of-h")
    assert "Status inactive" in before and "Primary holder Tess Technician" in before


def test_as_of_before_the_asset_was_registered(cast: Cast, viewer: Client) -> None:
    asset = _aged(cast.org, "TW-11", days=2)
    then = _section(_page(viewer, asset, as_of=_berlin(now() - timedelta(days=3))), "as-of-h")
    assert "TW-11 was not registered yet at that moment." in then


def test_a_bad_or_future_as_of_is_a_400_that_keeps_the_value(cast: Cast, viewer: Client) -> None:
    asset = make_asset(cast.org, "TW-12")
    html = _page(viewer, asset, 400, as_of="2026-13-45T99:00")
    assert "Enter a valid date/time." in _section(html, "as-of-h")
    assert 'value="2026-13-45T99:00"' in html
    assert "Asset key TW-12" in _text(html)  # the rest of the page is there

    future = _berlin(now() + timedelta(days=2))
    html = _page(viewer, asset, 400, as_of=future)
    assert "must not be in the future" in html and f'value="{future}"' in html
    assert 'for="id_as_of">Date and time (Europe/Berlin)' in html


def test_a_foreign_or_unknown_asset_is_a_404(cast: Cast, viewer: Client) -> None:
    theirs = make_asset(cast.other_org, "TW-1")
    make_asset(cast.org, "TW-1")  # the same key here does not open theirs
    assert viewer.get(_url(theirs)).status_code == 404
    assert viewer.get("/o/skyline-mro/assets/asset_01J0000000000000000000000/").status_code == 404
    assert viewer.get(f"/o/harbor-aero/assets/{theirs.id}/").status_code == 404  # not a member


def _writes(html: str) -> list[str]:
    return re.findall(r'href="/o/skyline-mro/assets/[^/"]+/([^"]+)"', html)


def test_the_controls_link_to_the_write_pages_for_writers_only(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    asset = make_asset(cast.org, "TW-13")
    calibrate(cast.org, asset)
    custody = _hold(cast.org, asset, cast.technician)
    client = signed_in(cast.editor)
    html = _page(client, asset)
    assert _writes(html) == [
        "edit",
        "status",
        "custody/assign",
        "custody/hand-off",
        "readiness/schedule",
        "decommission",
        f"custody/{custody.id}/end",
    ]
    for link in _writes(html):  # every control opens a page
        assert client.get(f"/o/skyline-mro/assets/{asset.id}/{link}").status_code == 200, link
    give_password(cast.viewer)
    viewer = Client()
    sign_in(viewer, cast.viewer.email)
    html = _page(viewer, asset)
    assert _writes(html) == [] and "Actions on this asset" not in html


def test_the_register_links_each_key_to_its_page(cast: Cast, viewer: Client) -> None:
    asset = make_asset(cast.org, "TW-14")
    html = viewer.get("/o/skyline-mro/").content.decode()
    assert f'<a href="/o/skyline-mro/assets/{asset.id}/">TW-14</a>' in html
    assert '<h1><span class="key">TW-14</span> Tool TW-14</h1>' in _page(viewer, asset)


def _long_history(org: Organization, asset: Asset, members: list[Member], n: int) -> None:
    """``n`` custody records (the last still active) and ``4n/3`` assessments."""
    start = now() - timedelta(days=2 * n + 2)
    op = operator(org)
    asset_services.custody_bulk_record(
        organization=org,
        actor=op,
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "member_id": members[i % len(members)].id,
                "assignment_kind": "primary",
                "assignment_key": f"{asset.asset_key}-C{i:03d}",
                "started_at": start + timedelta(days=2 * i),
                "ended_at": None if i == n - 1 else start + timedelta(days=2 * i + 2),
            }
            for i in range(n)
        ],
    )
    asset_services.readiness_bulk_record(
        organization=org,
        actor=op,
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": f"{asset.asset_key}-R{i:03d}",
                "assessment_kind": "calibration" if i % 2 else "inspection",
                "readiness_state": "ready",
                "status": "completed",
                "performed_at": start + timedelta(days=i),
                "created_at": start + timedelta(days=i),
                "valid_until": start + timedelta(days=i + 90),
                "posture_snapshot": {"validUntil": None, "tolerance": "±4% of reading"},
                "evidence_snapshot": {"certificateNumber": f"CAL-{i:04d}", "lab": "In-house"},
            }
            for i in range(n * 4 // 3)
        ],
    )


def test_the_page_runs_a_fixed_number_of_queries(cast: Cast, viewer: Client) -> None:
    members = [cast.technician, cast.editor, cast.admin]
    small, large = _aged(cast.org, "Q-1", days=200), _aged(cast.org, "Q-2", days=200)
    _long_history(cast.org, small, members, 3)
    _long_history(cast.org, large, members, 30)  # 30 custody records, 40 assessments
    as_of = _berlin(now() - timedelta(days=20))

    def count(asset: Asset, **query: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            html = _page(viewer, asset, **query)
        assert html.count("<tr>") > 3
        return len(queries)

    # session, member, organization, membership; the asset, its custody, its assessments,
    # its audit trail
    assert count(small) == count(large) == 8
    assert count(small, as_of=as_of) == count(large, as_of=as_of) == 8
    text = _section(_page(viewer, large, as_of=as_of), "as-of-h")
    assert "Nobody held it." not in text and "Readiness ready" in text
