"""Custody pages: assign, hand off in one step, end; the override a not-ready asset needs; the
role check on GET and on a forged POST; 404 for another organization's asset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment
from registra.core.models import AuditEvent
from registra.organizations.models import Member
from tests.cast import REASON, Cast, audit_mark, audit_since, calibrate, make_asset, operator

pytestmark = pytest.mark.django_db
WHY = "Issued for the A-check on D-ABCD"


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


@pytest.fixture
def ready(cast: Cast) -> Asset:
    asset = make_asset(cast.org, "TW-001")
    calibrate(cast.org, asset)
    return asset


def _url(asset: Asset, action: str) -> str:
    return f"/o/skyline-mro/assets/{asset.id}/custody/{action}"


def _active(asset: Asset) -> list[CustodyAssignment]:
    return list(CustodyAssignment.objects.filter(asset_id=asset.id, status="active"))


def _held_by_technician(cast: Cast, asset: Asset) -> CustodyAssignment:
    return asset_services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=cast.technician.id,
    )


def test_assign_gives_the_asset_to_a_member(cast: Cast, editor: Client, ready: Asset) -> None:
    mark = audit_mark(cast.org)
    response = editor.post(
        _url(ready, "assign"),
        {"member": cast.technician.id, "kind": "primary", "location": "Hangar 2", "reason": WHY},
        follow=True,
    )
    assert response.status_code == 200
    assert (
        "TW-001 assigned to Tess Technician (sky.tess@example.test)." in response.content.decode()
    )
    (c,) = _active(ready)
    assert (c.subject_resource_id, c.assignment_kind) == (cast.technician.id, "primary")
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == ("custody.assigned", WHY, cast.editor.id)


def test_hand_off_moves_custody_in_one_step(cast: Cast, editor: Client, ready: Asset) -> None:
    _held_by_technician(cast, ready)
    page = editor.get(_url(ready, "hand-off")).content.decode()
    assert "Held now by <strong>Tess Technician</strong>" in page
    assert f'value="{cast.technician.id}"' not in page  # not offered to the current holder
    response = editor.post(_url(ready, "hand-off"), {"member": cast.viewer.id, "reason": WHY})
    assert response.status_code == 302
    (c,) = _active(ready)
    assert c.subject_resource_id == cast.viewer.id
    ended = CustodyAssignment.objects.get(asset_id=ready.id, status="ended")
    assert ended.subject_resource_id == cast.technician.id and ended.ended_at == c.started_at


def test_a_not_ready_asset_needs_an_override_with_a_reason(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "TW-404")  # a calibrated tool without a calibration
    page = editor.get(_url(asset, "assign")).content.decode()
    assert "This asset is not ready." in page and "calibration" in page
    data = {"member": cast.technician.id, "kind": "primary", "location": "Bay 3", "reason": WHY}
    refused = editor.post(_url(asset, "assign"), data)
    assert refused.status_code == 400 and not _active(asset)
    html = refused.content.decode()
    assert "This field is required." in html and 'value="Bay 3"' in html  # typed values kept
    override = "Needed for an AOG; calibration booked for tomorrow"
    assert (
        editor.post(_url(asset, "assign"), {**data, "override_reason": override}).status_code == 302
    )
    (c,) = _active(asset)
    assert c.assignment_snapshot["overrideReason"] == override
    event = AuditEvent.objects.filter(action="custody.assigned").get()
    assert event.diff["notReadyOverride"] == override


def test_end_returns_the_asset(cast: Cast, editor: Client, ready: Asset) -> None:
    c = _held_by_technician(cast, ready)
    assert editor.post(_url(ready, f"{c.id}/end"), {"reason": "short"}).status_code == 400
    assert _active(ready)
    assert editor.post(_url(ready, f"{c.id}/end"), {"reason": WHY}).status_code == 302
    assert not _active(ready)


@pytest.mark.parametrize("who", ["viewer", "auditor"])
def test_readers_get_403_and_a_forged_post_writes_nothing(
    cast: Cast, signed_in: Callable[[Member], Client], ready: Asset, who: str
) -> None:
    client = signed_in(getattr(cast, who))
    mark = audit_mark(cast.org)
    assert client.get(_url(ready, "assign")).status_code == 403
    forged = {"member": cast.viewer.id, "kind": "primary", "reason": WHY}
    assert client.post(_url(ready, "assign"), forged).status_code == 403
    assert not _active(ready) and not audit_since(cast.org, mark)


def test_another_organizations_asset_is_a_404(cast: Cast, editor: Client) -> None:
    foreign = make_asset(cast.other_org, "TW-001")
    assert editor.get(_url(foreign, "assign")).status_code == 404
    assert editor.post(_url(foreign, "assign"), {"reason": WHY}).status_code == 404
    assert editor.get(_url(foreign, "nope/end")).status_code == 404


def test_the_hand_off_page_runs_a_fixed_number_of_queries(
    cast: Cast, editor: Client, ready: Asset
) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert editor.get(_url(ready, "hand-off")).status_code == 200
    # session, signed-in member, organization, membership, asset, active custody, the
    # assessments for readiness, the active members (the page has no holder here)
    assert len(queries) == 8, [q["sql"][:80] for q in queries.captured_queries]
