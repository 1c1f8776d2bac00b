"""``asset_bulk_change_status``: one reason, one event per asset, all or nothing."""

from __future__ import annotations

import pytest

from registra.assets import services
from registra.assets.models import Asset
from registra.assets.services import MAX_BATCH
from registra.core.errors import NotFound, Unprocessable, ValidationFailed
from tests.cast import REASON, Cast, audit_mark, audit_since, make_asset, operator

pytestmark = pytest.mark.django_db


def _move(cast: Cast, ids: list[str], status: str) -> list[Asset]:
    return services.asset_bulk_change_status(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        asset_ids=ids,
        status=status,
    )


def test_moves_every_asset_with_one_event_each(cast: Cast) -> None:
    assets = [make_asset(cast.org, f"B-{i:02d}", status="planned") for i in range(25)]
    mark = audit_mark(cast.org)
    moved = _move(cast, [a.id for a in assets], "active")
    assert {a.status for a in moved} == {"active"}
    fresh = Asset.objects.filter(id__in=[a.id for a in assets])
    assert {(a.status, a.commissioned_at is not None) for a in fresh} == {("active", True)}
    events = audit_since(cast.org, mark)
    assert len(events) == 25 and {e.action for e in events} == {"asset.status-changed"}
    assert {e.reason for e in events} == {REASON} and {e.actor_id for e in events} == {
        cast.editor.id
    }
    assert events[0].diff["before"]["status"] == "planned"


def test_one_asset_that_cannot_move_refuses_the_whole_batch(cast: Cast) -> None:
    fine = [make_asset(cast.org, f"B-{i}", status="active") for i in range(3)]
    stuck = make_asset(cast.org, "B-X", status="planned")  # planned can't go to inactive
    mark = audit_mark(cast.org)
    with pytest.raises(Unprocessable, match="asset B-X can't go from planned to inactive"):
        _move(cast, [*(a.id for a in fine), stuck.id], "inactive")
    assert set(
        Asset.objects.filter(id__in=[a.id for a in fine]).values_list("status", flat=True)
    ) == {"active"}
    assert audit_since(cast.org, mark) == []


def test_batch_size_and_foreign_ids_are_refused(cast: Cast) -> None:
    mine = make_asset(cast.org, "B-1")
    foreign = make_asset(cast.other_org, "B-1")
    with pytest.raises(ValidationFailed, match=f"must name 1 to {MAX_BATCH} assets, got 0"):
        _move(cast, [], "inactive")
    with pytest.raises(NotFound):
        _move(cast, [mine.id, foreign.id], "inactive")
    assert Asset.objects.get(id=mine.id).status == "active"


def test_decommissioning_is_not_a_status_change(cast: Cast) -> None:
    asset = make_asset(cast.org, "B-1")
    with pytest.raises(Unprocessable, match="disposal authorization"):
        services.asset_bulk_change_status(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_ids=[asset.id],
            status="decommissioned",
        )
