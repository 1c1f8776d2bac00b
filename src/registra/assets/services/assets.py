"""Asset writes: create, update, status transitions, decommission (single and bulk)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from registra.assets import selectors
from registra.assets.choices import (
    ASSET_TRANSITIONS,
    AssetStatus,
    CustodyStatus,
    check_transition,
)
from registra.assets.models import Asset, CustodyAssignment
from registra.assets.services._common import (
    ASSET_STATUSES,
    UPDATABLE,
    _build_asset,
    _clean_asset_values,
    _known_responsibilities,
    _lock_batch,
    _responsibility,
    asset_fields,
)
from registra.assets.services._readiness_model import refresh_readiness
from registra.assets.services.custody import _end_pending
from registra.core import audit, bulk, validation
from registra.core.audit import Actor, PendingEvent
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed, field_error
from registra.core.queries import rows_in
from registra.core.timefmt import now
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require

# --- assets --------------------------------------------------------------------------------


@transaction.atomic
def asset_create(*, organization: Organization, actor: Actor, reason: str, **spec: Any) -> Asset:
    """Register an asset. ``spec`` holds the model's field names (``asset_key``,
    ``asset_kind``, ``display_name``, ...). Status may be planned, active or inactive."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    return asset_bulk_create(organization=organization, actor=actor, reason=reason, specs=[spec])[0]


@transaction.atomic
def asset_bulk_create(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    specs: list[Mapping[str, Any]],
) -> list[Asset]:
    """Create many assets in one transaction, one ``asset.created`` event each.

    Errors name the row (``specs[i]``) so an importer can report line numbers.
    """
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    at = now()
    assets, errors = [], []
    known = _known_responsibilities(
        organization, {s.get("custodian_responsibility_id") for s in specs}
    )
    for i, spec in enumerate(specs):
        try:
            asset = _build_asset(organization, spec, at)
            if asset.custodian_responsibility_id and asset.custodian_responsibility_id not in known:
                raise field_error(
                    "custodianResponsibilityId",
                    f"responsibility {asset.custodian_responsibility_id} not found",
                )
            assets.append(asset)
        except ValidationFailed as exc:
            errors.append(_prefix(exc, f"specs[{i}]") if len(specs) > 1 else exc)
    if errors:
        raise validation.merge(errors)
    _ensure_unique_keys(organization, [a.asset_key for a in assets])
    bulk.insert_many(Asset, assets)
    refresh_readiness(organization, assets, at, new=True)
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        at=at,
        events=[
            PendingEvent("asset.created", "asset", a.id, None, asset_fields(a)) for a in assets
        ],
    )
    return assets


def asset_spec_problems(
    organization: Organization, spec: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """What ``asset_bulk_create`` would refuse in ``spec`` for one asset, checked by the same
    rules, as (API field name, message); nothing is written (an import plans with it)."""
    try:
        _build_asset(organization, spec, now())
    except ValidationFailed as exc:
        return _problems(exc)
    return []


def asset_values_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What ``asset_bulk_update`` would refuse in these field values, by the same rules."""
    try:
        _clean_asset_values(dict(values))
    except ValidationFailed as exc:
        return _problems(exc)
    return []


def _problems(exc: ValidationFailed) -> list[tuple[str, str]]:
    if not exc.issues:
        return [("", exc.message)]
    return [(str(i["path"][0]) if i["path"] else "", i["message"]) for i in exc.issues]


def _prefix(exc: ValidationFailed, where: str) -> ValidationFailed:
    issues = [{"path": [where, *i["path"]], "message": i["message"]} for i in exc.issues or []]
    return ValidationFailed(f"{where}: {exc.message}", issues=issues)


def _ensure_unique_keys(organization: Organization, keys: list[str]) -> None:
    seen: set[str] = set()
    dupes = {k for k in keys if k in seen or seen.add(k)}  # type: ignore[func-returns-value]
    if dupes:
        raise Conflict(f"assetKey repeated in one request: {', '.join(sorted(dupes)[:5])}")
    taken = selectors.asset_keys_taken(organization, keys)
    if taken:
        raise Conflict(f"assetKey already registered: {', '.join(sorted(taken)[:5])}")


@transaction.atomic
def asset_update(
    *, organization: Organization, actor: Actor, reason: str, asset_id: str, **changes: Any
) -> Asset:
    """Change an asset's descriptive fields. ``assetKey`` is immutable; status changes go
    through ``asset_change_status`` / ``asset_decommission``."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    return asset_bulk_update(
        organization=organization, actor=actor, reason=reason, changes={asset_id: changes}
    )[0]


@transaction.atomic
def asset_bulk_update(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    changes: Mapping[str, Mapping[str, Any]],
) -> list[Asset]:
    """Apply field changes to many assets (``{asset_id: {field: value}}``), one
    ``asset.updated`` event per asset that really changed."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    at = now()
    assets = {a.id: a for a in selectors.assets_for_update(organization, list(changes))}
    missing = [i for i in changes if i not in assets]
    if missing:
        raise NotFound(f"asset {missing[0]} not found")
    events, changed = [], []
    for asset_id, raw in changes.items():
        asset = assets[asset_id]
        if "asset_key" in raw and raw["asset_key"] != asset.asset_key:
            raise field_error("assetKey", "is immutable after creation")
        if "status" in raw and raw["status"] != asset.status:
            raise field_error("status", "is changed with the status transition, not an update")
        if asset.status == AssetStatus.DECOMMISSIONED:
            raise Unprocessable(f"asset {asset.asset_key} is decommissioned and can't be edited")
        unknown = set(raw) - set(UPDATABLE) - {"asset_key", "status"}
        if unknown:
            raise field_error(sorted(unknown)[0], "is not an updatable asset field")
        values = _clean_asset_values({k: v for k, v in raw.items() if k in UPDATABLE})
        if "custodian_responsibility_id" in values:
            values["custodian_responsibility_id"] = _responsibility(
                organization, "custodianResponsibilityId", values["custodian_responsibility_id"]
            )
        before = asset_fields(asset)
        for name, value in values.items():
            setattr(asset, name, value)
        b, a = audit.changed_fields(before, asset_fields(asset))
        if not a:
            continue
        asset.updated_at = at
        changed.append(asset)
        events.append(PendingEvent("asset.updated", "asset", asset.id, b, a))
    if changed:
        bulk.update_many(Asset, changed, [*UPDATABLE, "updated_at"])
        refresh_readiness(organization, changed, at)  # the kind may have changed
        audit.record_many(
            organization_id=organization.id, actor=actor, reason=reason, events=events, at=at
        )
    return [assets[i] for i in changes]


@transaction.atomic
def asset_change_status(
    *, organization: Organization, actor: Actor, reason: str, asset_id: str, status: str
) -> Asset:
    """planned -> active (sets commissionedAt if empty), active <-> inactive."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    return asset_bulk_change_status(
        organization=organization, actor=actor, reason=reason, asset_ids=[asset_id], status=status
    )[0]


@transaction.atomic
def asset_bulk_change_status(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_ids: Sequence[str],
    status: str,
) -> list[Asset]:
    """Move every one of these assets to ``status``, all or nothing: one reason for the batch,
    one ``asset.status-changed`` event per asset. A move the transitions don't allow refuses
    the whole batch and names the asset; at most ``MAX_BATCH`` assets at once."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    status = validation.choice("status", status, ASSET_STATUSES)
    if status == AssetStatus.DECOMMISSIONED:
        raise Unprocessable("decommissioning needs a disposal authorization: use decommission")
    changed = _lock_batch(organization, asset_ids)
    at = now()
    events = []
    for asset in changed:
        _check_transition(asset, status)
        before = asset_fields(asset)
        asset.status = status
        if status == AssetStatus.ACTIVE and asset.commissioned_at is None:
            asset.commissioned_at = at
        asset.updated_at = at
        b, a = audit.changed_fields(before, asset_fields(asset))
        events.append(PendingEvent("asset.status-changed", "asset", asset.id, b, a))
    bulk.update_many(Asset, changed, ["status", "commissioned_at", "updated_at"])
    refresh_readiness(organization, changed, at)
    audit.record_many(
        organization_id=organization.id, actor=actor, reason=reason, events=events, at=at
    )
    return changed


def _check_transition(asset: Asset, status: str) -> None:
    check_transition(ASSET_TRANSITIONS, f"asset {asset.asset_key}", asset.status, status)


@transaction.atomic
def asset_decommission(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_id: str,
    disposal_authorization: str,
    decommissioned_at: datetime | None = None,
) -> Asset:
    """Terminal transition: records date, actor and disposal authorization, and ends every
    active custody assignment of the asset at the same instant."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    item = {
        "asset_id": asset_id,
        "disposal_authorization": disposal_authorization,
        "decommissioned_at": decommissioned_at,
    }
    return asset_bulk_decommission(
        organization=organization, actor=actor, reason=reason, decommissions=[item]
    )[0]


@transaction.atomic
def asset_bulk_decommission(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    decommissions: Sequence[Mapping[str, Any]],
) -> list[Asset]:
    """Decommission many assets in one transaction (retirement campaigns, history loads).

    Each item has ``asset_id``, ``disposal_authorization`` and an optional past
    ``decommissioned_at``. Each asset follows ``asset_decommission``'s rules: a legal
    transition, a disposal authorization, and every active custody assignment ended at the
    decommissioning instant (which may not precede that custody's start). Events: one
    ``asset.decommissioned`` per asset, each followed by a ``custody.ended`` per assignment.
    """
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    at = now()
    items = _clean_decommissions(decommissions, at)
    ids = [asset_id for asset_id, _, _ in items]
    if len(set(ids)) != len(ids):
        raise Conflict("an asset is named twice in one decommissioning request")
    assets = {a.id: a for a in selectors.assets_for_update(organization, ids)}
    missing = [i for i in ids if i not in assets]
    if missing:
        raise NotFound(f"asset {missing[0]} not found")
    custody = _active_custody_by_asset(organization, ids)
    events: list[PendingEvent] = []
    ended: list[CustodyAssignment] = []
    for asset_id, authorization, when in items:
        asset = assets[asset_id]
        _check_transition(asset, AssetStatus.DECOMMISSIONED)
        held = custody.get(asset_id, [])
        if any(when < c.started_at for c in held):
            raise field_error(
                "decommissionedAt",
                f"asset {asset.asset_key} has active custody that began after {when.isoformat()}",
            )
        before = asset_fields(asset)
        asset.status, asset.decommissioned_at = AssetStatus.DECOMMISSIONED, when
        asset.disposal_authorization, asset.decommissioned_by_id = authorization, actor.id
        asset.updated_at = at
        events.append(
            PendingEvent(
                "asset.decommissioned",
                "asset",
                asset.id,
                *audit.changed_fields(before, asset_fields(asset)),
                extra={"disposalAuthorization": authorization},
            )
        )
        for c in held:
            events.append(_end_pending(c, when, at))
            ended.append(c)
    bulk.update_many(Asset, list(assets.values()), _DECOMMISSION_FIELDS)
    bulk.update_many(CustodyAssignment, ended, ["status", "ended_at", "updated_at"])
    refresh_readiness(organization, assets.values(), at)  # with their custody ended
    audit.record_many(
        organization_id=organization.id, actor=actor, reason=reason, events=events, at=at
    )
    return [assets[i] for i in ids]


_DECOMMISSION_FIELDS = [
    "status",
    "decommissioned_at",
    "disposal_authorization",
    "decommissioned_by_id",
    "updated_at",
]


def _clean_decommissions(
    decommissions: Sequence[Mapping[str, Any]], at: datetime
) -> list[tuple[str, str, datetime]]:
    """(asset id, disposal authorization, when) per item; errors name the item when many."""
    items, errors = [], []
    for i, d in enumerate(decommissions):
        try:
            authorization = validation.text(
                "disposalAuthorization", d.get("disposal_authorization"), min_len=1, max_len=500
            )
            when = validation.aware("decommissionedAt", d.get("decommissioned_at")) or at
            if when > at:
                raise field_error("decommissionedAt", "must not be in the future")
            items.append((str(d.get("asset_id") or ""), authorization, when))
        except ValidationFailed as exc:
            errors.append(_prefix(exc, f"decommissions[{i}]") if len(decommissions) > 1 else exc)
    if errors:
        raise validation.merge(errors)
    return items


def _active_custody_by_asset(
    organization: Organization, asset_ids: list[str]
) -> dict[str, list[CustodyAssignment]]:
    """Every active custody assignment of these assets, locked, grouped by asset."""
    grouped: dict[str, list[CustodyAssignment]] = {}
    active = CustodyAssignment.objects.select_for_update().filter(
        organization=organization, status=CustodyStatus.ACTIVE
    )
    for c in rows_in(active, "asset_id", asset_ids):
        grouped.setdefault(c.asset_id, []).append(c)
    return grouped
