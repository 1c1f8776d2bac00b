"""Apply a run's plan through the asset services, in the caller's transaction.

Items are read back in file order, one kind at a time (``WRITE_ORDER``: an asset exists
before its calibration and custody), ``CHUNK`` at a time, and each chunk is one call of a
bulk service, which checks the actor's role, validates, writes and records one audit event
per record, as for the same change made in the web UI. Any refusal raises and rolls the whole
run back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from registra.assets import selectors as asset_selectors
from registra.assets import services as asset_services
from registra.assets.models import Asset, AssetReadiness, CustodyAssignment, ReadinessAssessment
from registra.core import sql
from registra.core.audit import Actor
from registra.core.models import AuditEvent
from registra.imports.choices import WRITE_ORDER, ItemKind
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations.models import Organization

CHUNK = 2000


class Item(NamedTuple):
    """What apply reads of a plan item: a plain row, its payload parsed by orjson."""

    seq: int
    run_id: str
    line: int | None
    asset_key: str
    asset_id: str
    payload: dict[str, Any]


# A run that wrote this many records refreshes the tables' statistics before it commits, so
# the next run's lookups are planned for the tables as they now are.
ANALYZE_AFTER = 10_000


def apply_plan(
    organization: Organization,
    actor: Actor,
    reason: str,
    run: ImportRun,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> None:
    """Write every item of ``run``'s plan that changes the register (``progress`` is told
    how many items are written, after each chunk)."""
    args = {"organization": organization, "actor": actor, "reason": reason}
    override = f"CMMS import {run.id}: the CMMS records this holder"
    total, done = sum(run.counts.get(k, 0) for k in WRITE_ORDER), 0
    for kind in WRITE_ORDER:
        for items in _chunks(run, kind):
            _write(organization, args, override, kind, items)
            done += len(items)
            if progress:
                progress("applying", done, total)
    if done >= ANALYZE_AFTER:
        sql.analyze(Asset, AssetReadiness, CustodyAssignment, ReadinessAssessment, AuditEvent)


def _write(
    organization: Organization,
    args: dict[str, Any],
    override: str,
    kind: str,
    items: list[Item],
) -> None:
    """One chunk of one kind of item: one bulk service call."""
    if kind == ItemKind.CREATE:
        asset_services.asset_bulk_create(**args, specs=[_spec(i.payload) for i in items])
    elif kind == ItemKind.UPDATE:
        changes = {i.asset_id: _values(i.payload) for i in items}
        asset_services.asset_bulk_update(**args, changes=changes)
    elif kind in (ItemKind.STATUS, ItemKind.ABSENT):
        _statuses(args, [i for i in items if i.payload.get("status")])
    elif kind == ItemKind.ASSESSMENT:
        ids = _asset_ids(organization, items)
        records = [_assessment(i, ids[i.asset_key]) for i in items]
        asset_services.readiness_bulk_record(**args, records=records)
    elif kind == ItemKind.HANDOFF:
        ids = _asset_ids(organization, items)
        holders = {ids[i.asset_key]: i.payload["memberId"] for i in items}
        asset_services.custody_bulk_hand_to_holders(
            **args, holders=holders, override_reason=override
        )


def _chunks(run: ImportRun, kind: str) -> Iterator[list[Item]]:
    """The run's items of one kind in file order, ``CHUNK`` at a time (keyset on seq)."""
    items = ImportPlanItem.objects.filter(run=run, kind=kind).annotate(
        payload_text=Cast("payload", TextField())
    )
    columns = (*Item._fields[:-1], "payload_text")
    after = 0
    while True:
        rows = items.filter(seq__gt=after).order_by("seq").values_list(*columns)[:CHUNK]
        chunk = [Item._make((*row[:-1], orjson.loads(row[-1]))) for row in rows]
        if not chunk:
            return
        yield chunk
        after = chunk[-1].seq


def _spec(payload: dict[str, Any]) -> dict[str, Any]:
    spec = dict(payload)
    spec["commissioned_at"] = _when(spec.get("commissioned_at"))
    return spec


def _values(payload: dict[str, Any]) -> dict[str, Any]:
    values = dict(payload)
    if "commissioned_at" in values:
        values["commissioned_at"] = _when(values["commissioned_at"])
    return values


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _statuses(args: dict[str, Any], items: list[Item]) -> None:
    by_status: dict[str, list[str]] = defaultdict(list)
    for item in items:
        by_status[item.payload["status"]].append(item.asset_id)
    for status, asset_ids in by_status.items():
        asset_services.asset_bulk_change_status(**args, asset_ids=asset_ids, status=status)


def _asset_ids(organization: Organization, items: list[Item]) -> dict[str, str]:
    """Asset ids by key: an item of an asset created by this run names only its key."""
    known = {i.asset_key: i.asset_id for i in items if i.asset_id}
    missing = [i.asset_key for i in items if not i.asset_id]
    if missing:
        known.update(asset_selectors.asset_ids_by_keys(organization, missing))
    return known


def _assessment(item: Item, asset_id: str) -> dict[str, Any]:
    p = item.payload
    valid_until = _when(p.get("validUntil"))
    return {
        "asset_id": asset_id,
        "readiness_assessment_key": p["key"],
        "assessment_kind": "calibration",
        "readiness_state": p["state"],
        "status": "completed",
        "performed_at": _when(p["performedAt"]),
        "valid_until": valid_until,
        "posture_snapshot": {"validUntil": p.get("validUntil")} if valid_until else {},
        "evidence_snapshot": {"source": f"CMMS import {item.run_id}, line {item.line}"},
    }
