"""Decommissioning (SPEC section 3): terminal, with a disposal authorization, ending every
active custody at the same instant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from registra.assets import services
from registra.assets.models import Asset, CustodyAssignment
from registra.core.audit import verify_chain
from registra.core.errors import NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from tests.assets.services.helpers import REASON
from tests.assets.services.helpers import custody as _custody
from tests.assets.services.helpers import decommission as _decommission
from tests.cast import OPERATOR_ID, make_asset, operator
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

# --- asset_decommission ----------------------------------------------------------------------


@pytest.mark.parametrize("start", ["planned", "active", "inactive"])
def test_decommission_from_every_non_terminal_status(cast, start):
    asset = make_asset(cast.org, "TW-001", status=start)
    mark = _mark(cast.org)

    result = _decommission(cast, asset, actor=cast.actor(cast.admin))

    assert result.status == "decommissioned"
    stored = Asset.objects.get(id=asset.id)
    assert stored.status == "decommissioned"
    assert stored.decommissioned_at is not None
    assert stored.decommissioned_at == stored.updated_at
    assert stored.disposal_authorization == "DA-2026-0042"
    assert stored.decommissioned_by_id == cast.admin.id
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "asset.decommissioned",
        cast.admin.id,
        REASON,
        asset.id,
    )
    assert event.diff == {
        "before": {"status": start, "decommissionedAt": None},
        "after": {
            "status": "decommissioned",
            "decommissionedAt": api_format(stored.decommissioned_at),
        },
        "disposalAuthorization": "DA-2026-0042",
    }


def test_decommission_ends_every_active_custody_at_the_same_instant(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    other = make_asset(cast.org, "TW-002", asset_kind="vehicle")
    returned = _custody(cast, asset, cast.viewer, kind="loan", key="loan-1")
    services.custody_end(
        organization=cast.org, actor=operator(cast.org), reason=REASON, assignment_id=returned.id
    )
    primary = _custody(cast, asset, cast.technician)
    secondary = _custody(cast, asset, cast.editor, kind="secondary")
    loan = _custody(cast, asset, cast.auditor, kind="loan")
    elsewhere = _custody(cast, other, cast.technician)
    ended_before = CustodyAssignment.objects.get(id=returned.id).ended_at
    mark = _mark(cast.org)

    _decommission(cast, asset)

    stored = Asset.objects.get(id=asset.id)
    live = [primary, secondary, loan]
    rows = {c.id: c for c in CustodyAssignment.objects.filter(asset=asset)}
    for c in live:
        assert rows[c.id].status == "ended"
        assert rows[c.id].ended_at == stored.decommissioned_at
    assert rows[returned.id].ended_at == ended_before
    assert not CustodyAssignment.objects.filter(asset=asset, status="active").exists()
    assert CustodyAssignment.objects.get(id=elsewhere.id).status == "active"
    events = _since(cast.org, mark)
    assert [e.action for e in events] == ["asset.decommissioned"] + ["custody.ended"] * 3
    assert {e.subject_id for e in events[1:]} == {c.id for c in live}
    assert {e.occurred_at for e in events} == {stored.updated_at}
    assert {(e.actor_id, e.reason) for e in events} == {(OPERATOR_ID, REASON)}
    for e in events[1:]:
        assert e.diff == {
            "before": {"status": "active", "endedAt": None},
            "after": {"status": "ended", "endedAt": api_format(stored.decommissioned_at)},
        }
    assert verify_chain(cast.org.id).ok


def test_decommission_on_a_recorded_date(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=cast.technician.id,
        started_at=now() - timedelta(days=10),
    )
    when = now() - timedelta(days=2)

    result = _decommission(cast, asset, decommissioned_at=when)

    assert result.decommissioned_at == when
    assert Asset.objects.get(id=asset.id).decommissioned_at == when
    assert CustodyAssignment.objects.get(id=primary.id).ended_at == when


def test_decommission_refuses_a_date_before_an_active_custody_started(cast):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = _custody(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, decommissioned_at=primary.started_at - timedelta(days=1))

    assert _issues(exc) == [["decommissionedAt"]]
    assert Asset.objects.get(id=asset.id).status == "active"
    assert CustodyAssignment.objects.get(id=primary.id).status == "active"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    "when",
    [now().replace(tzinfo=None), now() + timedelta(days=1)],
    ids=["naive", "future"],
)
def test_decommission_refuses_a_naive_or_future_date(cast, when):
    asset = make_asset(cast.org, "TW-001")
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, decommissioned_at=when)

    assert _issues(exc) == [["decommissionedAt"]]
    assert Asset.objects.get(id=asset.id).status == "active"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize("authorization", ["", "   ", None, "a" * 501])
def test_decommission_needs_a_disposal_authorization(cast, authorization):
    asset = make_asset(cast.org, "TW-001", asset_kind="vehicle")
    primary = _custody(cast, asset, cast.technician)
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _decommission(cast, asset, authorization=authorization)

    assert _issues(exc) == [["disposalAuthorization"]]
    stored = Asset.objects.get(id=asset.id)
    assert (stored.status, stored.decommissioned_at, stored.disposal_authorization) == (
        "active",
        None,
        "",
    )
    assert CustodyAssignment.objects.get(id=primary.id).status == "active"
    assert _since(cast.org, mark) == []


def test_decommission_twice_is_refused(cast):
    asset = make_asset(cast.org, "TW-001")
    first = _decommission(cast, asset)
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="can't go from decommissioned"):
        _decommission(cast, asset, authorization="DA-2026-9999")

    stored = Asset.objects.get(id=asset.id)
    assert stored.disposal_authorization == "DA-2026-0042"
    assert stored.decommissioned_at == first.decommissioned_at
    assert _since(cast.org, mark) == []


def test_decommission_refuses_another_organizations_asset(cast):
    theirs = make_asset(cast.other_org, "TW-001")

    with pytest.raises(NotFound):
        _decommission(cast, theirs)

    assert Asset.objects.get(id=theirs.id).status == "active"


def test_the_database_ties_decommissioned_at_to_the_status(cast):
    asset = make_asset(cast.org, "TW-001")

    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(id=asset.id).update(status="decommissioned")
    with pytest.raises(IntegrityError), transaction.atomic():
        Asset.objects.filter(id=asset.id).update(decommissioned_at=now())
    assert Asset.objects.get(id=asset.id).status == "active"
