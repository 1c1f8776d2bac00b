"""The bulk write paths behind imports and the demo loader: ``core.bulk`` (prepared
``executemany`` inserts and updates) and ``asset_bulk_decommission``.

``core.bulk`` must store exactly what the ORM stores, leave instances usable, and never touch
another organization's rows; bulk decommissioning keeps every rule of the single transition
and is all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction

from registra.assets import services
from registra.assets.models import Asset, CustodyAssignment
from registra.core import bulk
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.ids import new_id
from registra.core.models import AuditChainHead
from registra.core.timefmt import api_format, now
from tests.cast import audit_since as _since
from tests.cast import make_asset, operator

REASON = "Retirement campaign for worn tooling"


def _mark(org) -> int:
    return AuditChainHead.objects.get(organization_id=org.id).seq


# --- core.bulk -------------------------------------------------------------------------------


AT = now() - timedelta(days=3, microseconds=123)


def _unsaved(org, key: str, **values) -> Asset:
    at = AT
    fields = {
        "id": new_id("asset"),
        "organization": org,
        "asset_key": key,
        "asset_kind": "calibrated-tool",
        "display_name": "Drehmomentschlüssel 20-100 N·m",
        "status": "active",
        "commissioned_at": at,
        "asset_snapshot": {"manufacturer": "Stahlwille", "specs": [1.5, None, True, "µ"]},
        "created_at": at,
        "updated_at": at,
    }
    fields.update(values)
    return Asset(**fields)


def test_insert_many_stores_what_the_orm_stores(cast):
    fast, orm = _unsaved(cast.org, "TW-1"), _unsaved(cast.org, "TW-2")

    with transaction.atomic():
        bulk.insert_many(Asset, [fast])
    orm.save(force_insert=True)

    a, b = Asset.objects.get(id=fast.id), Asset.objects.get(id=orm.id)
    for field in Asset._meta.concrete_fields:
        if field.name not in ("id", "asset_key", "search_text"):
            assert getattr(a, field.attname) == getattr(b, field.attname), field.name
    # The database computed the search text of both (the key differs, the rest is the same).
    assert a.search_text.split("\n")[1:] == b.search_text.split("\n")[1:]
    assert a.search_text.startswith(a.asset_key.upper() + "\n")
    assert a.asset_snapshot == {"manufacturer": "Stahlwille", "specs": [1.5, None, True, "µ"]}
    assert a.commissioned_at == fast.commissioned_at
    assert Asset.objects.filter(asset_snapshot__manufacturer="Stahlwille").count() == 2


def test_inserted_instances_behave_as_saved_rows(cast):
    asset = _unsaved(cast.org, "TW-1")
    with transaction.atomic():
        bulk.insert_many(Asset, [asset])

    asset.display_name = "Renamed"
    asset.save()

    assert Asset.objects.get(id=asset.id).display_name == "Renamed"
    assert Asset.objects.count() == 1


def test_update_many_changes_only_the_named_fields_of_this_organizations_rows(cast):
    mine = make_asset(cast.org, "TW-1")
    theirs = make_asset(cast.other_org, "TW-1")
    mine.display_name, mine.description = "New name", "not saved"
    # A row of another organization presented as ours is never touched.
    forged = Asset.objects.get(id=theirs.id)
    forged.organization_id, forged.display_name = cast.org.id, "Hijacked"

    with transaction.atomic():
        bulk.update_many(Asset, [mine, forged], ["display_name"])

    assert Asset.objects.get(id=mine.id).display_name == "New name"
    assert Asset.objects.get(id=mine.id).description == ""
    assert Asset.objects.get(id=theirs.id).display_name == theirs.display_name


def test_insert_rows_stores_what_insert_many_stores(cast):
    as_instance, as_row = _unsaved(cast.org, "TW-1"), _unsaved(cast.org, "TW-2")
    names = [f.attname for f in Asset._meta.concrete_fields if not f.generated]
    with transaction.atomic():
        bulk.insert_many(Asset, [as_instance])
        bulk.insert_rows(Asset, names, [[getattr(as_row, n) for n in names]])

    a, b = Asset.objects.get(id=as_instance.id), Asset.objects.get(id=as_row.id)
    for field in Asset._meta.concrete_fields:
        if field.name not in ("id", "asset_key", "search_text"):
            assert getattr(a, field.attname) == getattr(b, field.attname), field.name
    assert b.asset_snapshot == {"manufacturer": "Stahlwille", "specs": [1.5, None, True, "µ"]}
    # An empty JSON object (most plan items' detail) is stored as one, on both databases.
    empty = _unsaved(cast.org, "TW-3", asset_snapshot={})
    with transaction.atomic():
        bulk.insert_rows(Asset, names, [[getattr(empty, n) for n in names]])
    assert Asset.objects.get(asset_key="TW-3").asset_snapshot == {}
    assert Asset.objects.filter(organization=cast.org, asset_snapshot={}).count() == 1


@pytest.mark.django_db(transaction=True)
def test_bulk_writes_refuse_to_run_outside_a_transaction(cast):
    with pytest.raises(RuntimeError):
        bulk.insert_many(Asset, [_unsaved(cast.org, "TW-1")])
    asset = _unsaved(cast.org, "TW-2")
    with pytest.raises(RuntimeError):
        bulk.insert_rows(Asset, ["id", "organization_id"], [[asset.id, cast.org.id]])
    assert not Asset.objects.exists()


def test_bulk_writes_refuse_other_models(cast):
    with pytest.raises(TypeError), transaction.atomic():
        bulk.insert_many(CustodyAssignment, [_unsaved(cast.org, "TW-1")])


def test_the_database_still_enforces_its_constraints(cast):
    make_asset(cast.org, "TW-1")
    from django.db import IntegrityError

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_many(Asset, [_unsaved(cast.org, "TW-1")])
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert_many(Asset, [_unsaved(cast.org, "TW-2", status="retired")])


# --- asset_bulk_decommission -----------------------------------------------------------------


def _hold(cast, asset, member, started_at):
    return services.custody_bulk_record(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "member_id": member.id,
                "assignment_key": f"{asset.asset_key}-C1",
                "started_at": started_at,
            }
        ],
    )[0]


def _retire(cast, *items):
    return services.asset_bulk_decommission(
        organization=cast.org, actor=operator(cast.org), reason=REASON, decommissions=list(items)
    )


def test_bulk_decommission_retires_each_asset_and_ends_its_custody(cast):
    a = make_asset(cast.org, "TW-1")
    b = make_asset(cast.org, "TW-2", status="planned")
    when = now() - timedelta(days=10)
    held = _hold(cast, a, cast.technician, when - timedelta(days=30))
    mark = _mark(cast.org)

    result = _retire(
        cast,
        {"asset_id": a.id, "disposal_authorization": "DA-1", "decommissioned_at": when},
        {"asset_id": b.id, "disposal_authorization": "DA-2"},
    )

    assert [r.id for r in result] == [a.id, b.id]
    stored_a, stored_b = Asset.objects.get(id=a.id), Asset.objects.get(id=b.id)
    assert (stored_a.status, stored_a.decommissioned_at, stored_a.disposal_authorization) == (
        "decommissioned",
        when,
        "DA-1",
    )
    assert stored_b.status == "decommissioned" and stored_b.decommissioned_at is not None
    custody = CustodyAssignment.objects.get(id=held.id)
    assert (custody.status, custody.ended_at) == ("ended", when)
    events = _since(cast.org, mark)
    assert [(e.action, e.subject_id) for e in events] == [
        ("asset.decommissioned", a.id),
        ("custody.ended", held.id),
        ("asset.decommissioned", b.id),
    ]
    assert events[0].diff["after"] == {
        "status": "decommissioned",
        "decommissionedAt": api_format(when),
    }
    assert events[0].diff["disposalAuthorization"] == "DA-1"
    assert verify_chain(cast.org.id).ok


@pytest.mark.parametrize(
    ("change", "error", "path"),
    [
        ({"disposal_authorization": ""}, ValidationFailed, "disposalAuthorization"),
        ({"decommissioned_at": now() + timedelta(days=1)}, ValidationFailed, "decommissionedAt"),
        ({"decommissioned_at": now().replace(tzinfo=None)}, ValidationFailed, "decommissionedAt"),
        ({"asset_id": "asset_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, NotFound, None),
    ],
)
def test_bulk_decommission_is_all_or_nothing(cast, change, error, path):
    good = make_asset(cast.org, "TW-1")
    bad = make_asset(cast.org, "TW-2")
    mark = _mark(cast.org)

    with pytest.raises(error) as exc:
        _retire(
            cast,
            {"asset_id": good.id, "disposal_authorization": "DA-1"},
            {"asset_id": bad.id, "disposal_authorization": "DA-2", **change},
        )

    if path:
        assert exc.value.issues[0]["path"] == ["decommissions[1]", path]
    assert set(Asset.objects.values_list("status", flat=True)) == {"active"}
    assert _since(cast.org, mark) == []


def test_bulk_decommission_refuses_terminal_repeated_and_foreign_assets(cast):
    done = make_asset(cast.org, "TW-1")
    _retire(cast, {"asset_id": done.id, "disposal_authorization": "DA-1"})
    live = make_asset(cast.org, "TW-2")
    theirs = make_asset(cast.other_org, "TW-3")
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="terminal"):
        _retire(cast, {"asset_id": done.id, "disposal_authorization": "DA-2"})
    twice = {"asset_id": live.id, "disposal_authorization": "DA-3"}
    with pytest.raises(Conflict):
        _retire(cast, twice, twice)
    with pytest.raises(NotFound):
        _retire(cast, {"asset_id": theirs.id, "disposal_authorization": "DA-4"})

    assert Asset.objects.get(id=live.id).status == "active"
    assert Asset.objects.get(id=theirs.id).status == "active"
    assert _since(cast.org, mark) == []


def test_bulk_decommission_refuses_a_date_before_active_custody_began(cast):
    asset = make_asset(cast.org, "TW-1")
    began = now() - timedelta(days=5)
    held = _hold(cast, asset, cast.technician, began)

    with pytest.raises(ValidationFailed, match="began after"):
        _retire(
            cast,
            {
                "asset_id": asset.id,
                "disposal_authorization": "DA-1",
                "decommissioned_at": began - timedelta(days=1),
            },
        )

    assert CustodyAssignment.objects.get(id=held.id).status == "active"
    assert Asset.objects.get(id=asset.id).status == "active"
