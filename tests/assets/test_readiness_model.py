"""``AssetReadiness`` stays true: after every exported service (run by an actor allowed to), each
asset's stored readiness is what the computation says at that moment (and its kind, status
and holder are the asset's), and readiness "now"
turns from ready to not ready when a due date passes, without a write."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import transaction

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.models import Asset, AssetReadiness
from registra.assets.readiness import next_due
from registra.core.timefmt import now
from registra.organizations.policy import Permission, actor_for_member
from tests.cast import REASON, Cast, calibrate, make_asset, operator
from tests.organizations.test_policy import ROWS

pytestmark = pytest.mark.django_db


def _stored_matches_computed(cast: Cast) -> list[str]:
    """The assets whose stored readiness differs from the computation (empty: all agree)."""
    wrong = []
    org = cast.org
    org.refresh_from_db()
    for asset in Asset.objects.filter(organization=org):
        stored = AssetReadiness.objects.filter(asset_id=asset.id).first()
        if stored is None:
            wrong.append(f"{asset.asset_key}: no row")
            continue
        at = stored.computed_at
        live = selectors.asset_readiness(org, asset, at=at)
        history = selectors.assessment_history(org, asset.id)
        due = next_due(
            asset_kind=asset.asset_kind,
            requirements=org.readiness_requirements,
            assessments=history,
            at=at,
            validity=org.readiness_validity,
        )
        if (stored.state, stored.reasons, stored.next_due) != (live.state, live.reasons, due):
            wrong.append(f"{asset.asset_key}: stored {stored.state} {stored.reasons}")
        held = selectors.active_primary(org, asset.id)
        copied = (stored.asset_kind, stored.status, stored.holder_id)
        actual = (asset.asset_kind, asset.status, held.subject_resource_id if held else None)
        if copied != actual:
            wrong.append(f"{asset.asset_key}: stored {copied}, the asset's {actual}")
    return wrong


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_service_leaves_the_stored_readiness_true(cast: Cast, name: str) -> None:
    calibrate(cast.org, make_asset(cast.org, "TW-READY"))
    make_asset(cast.org, "TW-NEVER")
    row = ROWS[name]
    # The operator may do everything but a member's own sign-in security (decision 0014).
    own = row.permission == Permission.MANAGE_OWN_ACCOUNT
    actor = actor_for_member(cast.admin) if own else operator(cast.org)
    with transaction.atomic():
        row.call(cast, actor, row.prepare(cast))
    assert _stored_matches_computed(cast) == []


def test_requirements_changes_recompute_the_kinds_they_touch(cast: Cast) -> None:
    asset = make_asset(cast.org, "TUG-1", asset_kind="vehicle")
    assert AssetReadiness.objects.get(asset_id=asset.id).state == "ready"  # nothing required
    asset_services.organization_set_readiness_requirements(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        requirements={"calibrated-tool": ["calibration"], "vehicle": ["inspection"]},
    )
    stored = AssetReadiness.objects.get(asset_id=asset.id)
    assert (stored.state, stored.reasons) == ("not-ready", ["inspection never completed"])


def test_a_passed_due_date_makes_a_ready_asset_not_ready_now(cast: Cast) -> None:
    asset = make_asset(cast.org, "TW-1")
    calibrate(cast.org, asset, days_valid=10)
    stored = AssetReadiness.objects.get(asset_id=asset.id)
    assert stored.state == "ready" and stored.next_due is not None
    ready = selectors.RegisterFilter(readiness="ready")
    ids = lambda at: set(  # noqa: E731
        selectors.register_assets(cast.org, ready, at=at).values_list("id", flat=True)
    )
    assert asset.id in ids(now())
    assert asset.id not in ids(stored.next_due + timedelta(seconds=1))


def test_overdue_and_due_soon_follow_the_next_due_date(cast: Cast) -> None:
    asset = make_asset(cast.org, "TW-1")
    calibrate(cast.org, asset, days_valid=40)
    due = AssetReadiness.objects.get(asset_id=asset.id).next_due
    assert due is not None

    def matching(choice: str, at: datetime) -> bool:
        flt = selectors.RegisterFilter(readiness=choice)
        return selectors.register_assets(cast.org, flt, at=at).filter(id=asset.id).exists()

    assert not matching("due-soon", now())  # due in 39 days, the window is 30
    assert matching("due-soon", due - timedelta(days=29))
    assert not matching("overdue", due - timedelta(seconds=1))
    assert matching("overdue", due) and matching("not-ready", due)
