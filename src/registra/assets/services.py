"""Writes for assets, custody and readiness. Each runs in one transaction, checks its rules and
records its audit event (one per record, bulk variants included) in that transaction."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from registra.assets import selectors
from registra.assets.choices import (
    ASSESSMENT_TRANSITIONS,
    ASSET_TRANSITIONS,
    SUBJECT_MODULE_MEMBERSHIP,
    SUBJECT_TYPE_MEMBER_USER,
    AssessmentStatus,
    AssetStatus,
    AssignmentKind,
    CustodyStatus,
    ReadinessState,
)
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core import audit, bulk, validation
from registra.core.audit import Actor, PendingEvent
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed, field_error
from registra.core.ids import new_id
from registra.core.timefmt import now
from registra.organizations.choices import MembershipStatus
from registra.organizations.models import Member, Organization, ResponsibilityAssignment

ASSET_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
RECORD_KEY_RE = ASSET_KEY_RE
_KEY_RULE = "must start with a letter or digit and use only A-Z a-z 0-9 . _ : -"
# Allowed values, computed once: the choices classes rebuild their lists on every access,
# which showed up when validating hundreds of thousands of imported rows.
ASSET_STATUSES = tuple(AssetStatus.values)
CREATABLE_STATUSES = (
    AssetStatus.PLANNED.value,
    AssetStatus.ACTIVE.value,
    AssetStatus.INACTIVE.value,
)
ASSIGNMENT_KINDS = tuple(AssignmentKind.values)
READINESS_STATES = tuple(ReadinessState.values)
ASSESSMENT_STATUSES = tuple(AssessmentStatus.values)
UPDATABLE = (
    "asset_kind",
    "display_name",
    "description",
    "source_kind",
    "custodian_responsibility_id",
    "commissioned_at",
    "asset_snapshot",
    "classification_snapshot",
    "source_ref_snapshot",
)


def asset_fields(a: Asset) -> dict[str, Any]:
    """The audited view of an asset (API names, snapshots included)."""
    return {
        "assetKey": a.asset_key,
        "assetKind": a.asset_kind,
        "displayName": a.display_name,
        "description": a.description,
        "sourceKind": a.source_kind,
        "status": a.status,
        "custodianResponsibilityId": a.custodian_responsibility_id,
        "commissionedAt": a.commissioned_at,
        "decommissionedAt": a.decommissioned_at,
        "assetSnapshot": a.asset_snapshot,
        "classificationSnapshot": a.classification_snapshot,
        "sourceRefSnapshot": a.source_ref_snapshot,
    }


def custody_fields(c: CustodyAssignment) -> dict[str, Any]:
    return {
        "assetId": c.asset_id,
        "assignmentKey": c.assignment_key,
        "assignmentKind": c.assignment_kind,
        "subjectResourceId": c.subject_resource_id,
        "status": c.status,
        "startedAt": c.started_at,
        "endedAt": c.ended_at,
        "assignmentSnapshot": c.assignment_snapshot,
    }


def assessment_fields(r: ReadinessAssessment) -> dict[str, Any]:
    return {
        "assetId": r.asset_id,
        "readinessAssessmentKey": r.readiness_assessment_key,
        "assessmentKind": r.assessment_kind,
        "readinessState": r.readiness_state,
        "status": r.status,
        "performedAt": r.performed_at,
        "performedByResponsibilityId": r.performed_by_responsibility_id,
        "validUntil": r.valid_until,
        "postureSnapshot": r.posture_snapshot,
        "evidenceSnapshot": r.evidence_snapshot,
    }


# --- validation ----------------------------------------------------------------------------


def _snapshot(name: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise field_error(name, "must be a JSON object")
    return dict(value)


def _responsibility(organization: Organization, field: str, ra_id: str | None) -> str | None:
    if ra_id in (None, ""):
        return None
    exists = ResponsibilityAssignment.objects.filter(organization=organization, id=ra_id).exists()
    if not exists:
        raise field_error(field, f"responsibility {ra_id} not found in this organization")
    return ra_id


def _clean_asset_values(values: dict[str, Any]) -> dict[str, Any]:
    """Single-record rules for the updatable fields present in ``values``."""
    v = dict(values)
    rules = {
        "asset_kind": ("assetKind", 1, 64),
        "display_name": ("displayName", 1, 200),
        "description": ("description", 0, 4000),
        "source_kind": ("sourceKind", 1, 64),
    }
    for name, (api_name, lo, hi) in rules.items():
        if name in v:
            v[name] = validation.text(
                api_name, v[name] if v[name] is not None else "", min_len=lo, max_len=hi
            )
    for name, api_name in (
        ("asset_snapshot", "assetSnapshot"),
        ("classification_snapshot", "classificationSnapshot"),
        ("source_ref_snapshot", "sourceRefSnapshot"),
    ):
        if name in v:
            v[name] = _snapshot(api_name, v[name])
    if "commissioned_at" in v:
        validation.aware("commissionedAt", v["commissioned_at"])
    return v


def _build_asset(organization: Organization, spec: Mapping[str, Any], at: datetime) -> Asset:
    key = validation.pattern("assetKey", spec.get("asset_key"), ASSET_KEY_RE, _KEY_RULE, 128)
    status = validation.choice(
        "status",
        spec.get("status", AssetStatus.PLANNED),
        CREATABLE_STATUSES,
    )
    values = _clean_asset_values(
        {
            "asset_kind": spec.get("asset_kind"),
            "display_name": spec.get("display_name"),
            "description": spec.get("description", ""),
            "source_kind": spec.get("source_kind", "manual"),
            "asset_snapshot": spec.get("asset_snapshot"),
            "classification_snapshot": spec.get("classification_snapshot"),
            "source_ref_snapshot": spec.get("source_ref_snapshot"),
            "commissioned_at": spec.get("commissioned_at"),
        }
    )
    if status != AssetStatus.PLANNED and values["commissioned_at"] is None:
        values["commissioned_at"] = at
    created_at = spec.get("created_at") or at
    return Asset(
        id=new_id("asset"),
        organization=organization,
        asset_key=key,
        status=status,
        # An empty column (CSV import, form) means no custodian, not a dangling foreign key.
        custodian_responsibility_id=spec.get("custodian_responsibility_id") or None,
        created_at=created_at,
        updated_at=spec.get("updated_at") or created_at,
        **values,
    )


# --- assets --------------------------------------------------------------------------------


def _lock_asset(organization: Organization, asset_id: str) -> Asset:
    asset = Asset.objects.select_for_update().filter(organization=organization, id=asset_id).first()
    if asset is None:
        raise NotFound(f"asset {asset_id} not found")
    return asset


@transaction.atomic
def asset_create(*, organization: Organization, actor: Actor, reason: str, **spec: Any) -> Asset:
    """Register an asset. ``spec`` holds the model's field names (``asset_key``,
    ``asset_kind``, ``display_name``, ...). Status may be planned, active or inactive."""
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
        audit.record_many(
            organization_id=organization.id, actor=actor, reason=reason, events=events, at=at
        )
    return [assets[i] for i in changes]


@transaction.atomic
def asset_change_status(
    *, organization: Organization, actor: Actor, reason: str, asset_id: str, status: str
) -> Asset:
    """planned -> active (sets commissionedAt if empty), active <-> inactive."""
    reason = validation.reason(reason)
    status = validation.choice("status", status, ASSET_STATUSES)
    if status == AssetStatus.DECOMMISSIONED:
        raise Unprocessable("decommissioning needs a disposal authorization: use decommission")
    asset = _lock_asset(organization, asset_id)
    _check_transition(asset, status)
    before = asset_fields(asset)
    at = now()
    asset.status = status
    if status == AssetStatus.ACTIVE and asset.commissioned_at is None:
        asset.commissioned_at = at
    asset.updated_at = at
    asset.save(update_fields=["status", "commissioned_at", "updated_at"])
    b, a = audit.changed_fields(before, asset_fields(asset))
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="asset.status-changed",
        subject_type="asset",
        subject_id=asset.id,
        before=b,
        after=a,
    )
    return asset


def _check_transition(asset: Asset, status: str) -> None:
    if status not in ASSET_TRANSITIONS[asset.status]:
        allowed = sorted(ASSET_TRANSITIONS[asset.status]) or ["none: it is terminal"]
        raise Unprocessable(
            f"asset {asset.asset_key} can't go from {asset.status} to {status}; "
            f"allowed from {asset.status}: {', '.join(allowed)}"
        )


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
    for start in range(0, len(asset_ids), 900):
        for c in CustodyAssignment.objects.select_for_update().filter(
            organization=organization,
            asset_id__in=asset_ids[start : start + 900],
            status=CustodyStatus.ACTIVE,
        ):
            grouped.setdefault(c.asset_id, []).append(c)
    return grouped


# --- custody -------------------------------------------------------------------------------


def _end(c: CustodyAssignment, when: datetime, at: datetime) -> PendingEvent:
    event = _end_pending(c, when, at)
    c.save(update_fields=["status", "ended_at", "updated_at"])
    return event


def _end_pending(c: CustodyAssignment, when: datetime, at: datetime) -> PendingEvent:
    """End ``c`` in memory (the caller saves it) and describe the change."""
    before = custody_fields(c)
    c.status, c.ended_at, c.updated_at = CustodyStatus.ENDED, when, at
    return PendingEvent(
        "custody.ended",
        "custody-assignment",
        c.id,
        *audit.changed_fields(before, custody_fields(c)),
    )


def _holder(organization: Organization, member_id: str) -> Member:
    m = Member.objects.filter(organization=organization, id=member_id).first()
    if m is None:
        raise field_error("memberId", f"member {member_id} not found in this organization")
    if m.status != MembershipStatus.ACTIVE:
        raise Unprocessable(f"{m.email} is not an active member and can't hold custody")
    return m


def _check_ready_or_override(
    organization: Organization, asset: Asset, override_reason: str | None, at: datetime
) -> str:
    readiness = selectors.asset_readiness(organization, asset, at=at)
    if readiness.is_ready:
        return ""
    if not override_reason:
        raise Unprocessable(
            f"asset {asset.asset_key} is not ready ({'; '.join(readiness.reasons)}): "
            "handing it over needs an explicit override with a reason"
        )
    return validation.text("overrideReason", override_reason, min_len=10, max_len=1000)


def _new_assignment(
    organization: Organization,
    asset: Asset,
    holder: Member,
    *,
    kind: str,
    key: str | None,
    started_at: datetime,
    at: datetime,
    snapshot: Mapping[str, Any],
) -> CustodyAssignment:
    # Microseconds, so handing an asset back to its previous holder never reuses a key.
    key = key or f"{asset.asset_key}-{holder.id[-8:].lower()}-{started_at:%Y%m%d%H%M%S%f}"
    key = validation.pattern("assignmentKey", key, RECORD_KEY_RE, _KEY_RULE, 160)
    return CustodyAssignment(
        id=new_id("ascust"),
        organization=organization,
        asset=asset,
        assignment_key=key,
        assignment_kind=kind,
        subject_module_key=SUBJECT_MODULE_MEMBERSHIP,
        subject_resource_type=SUBJECT_TYPE_MEMBER_USER,
        subject_resource_id=holder.id,
        status=CustodyStatus.ACTIVE,
        started_at=started_at,
        ended_at=None,
        assignment_snapshot={
            "holderName": holder.full_name,
            "holderEmail": holder.email,
            **{k: v for k, v in snapshot.items() if v not in (None, "")},
        },
        created_at=at,
        updated_at=at,
    )


def _not_future(field: str, value: datetime | None, at: datetime) -> datetime:
    """A recorded custody time: aware, not after ``at`` (the default when absent)."""
    when = validation.aware(field, value) or at
    if when > at:
        raise field_error(field, "must not be in the future")
    return when


def _save_assignment(c: CustodyAssignment) -> None:
    try:
        with transaction.atomic():
            c.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(
            f"assignment key {c.assignment_key} is taken, or the asset already has an active "
            "primary custody"
        ) from exc


@transaction.atomic
def custody_assign(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_id: str,
    member_id: str,
    assignment_kind: str = AssignmentKind.PRIMARY,
    assignment_key: str | None = None,
    started_at: datetime | None = None,
    location: str = "",
    condition_notes: str = "",
    override_reason: str | None = None,
) -> CustodyAssignment:
    """Give an asset to a member. A primary assignment needs no active primary already (use
    ``custody_hand_off``); a not-ready asset needs ``override_reason``."""
    reason = validation.reason(reason)
    kind = validation.choice("assignmentKind", assignment_kind, ASSIGNMENT_KINDS)
    asset = _lock_asset(organization, asset_id)
    if asset.status == AssetStatus.DECOMMISSIONED:
        raise Unprocessable(f"asset {asset.asset_key} is decommissioned")
    holder = _holder(organization, member_id)
    at = now()
    override = _check_ready_or_override(organization, asset, override_reason, at)
    if kind == AssignmentKind.PRIMARY and selectors.active_primary(organization, asset.id):
        raise Conflict(
            f"asset {asset.asset_key} already has an active primary custody; hand it off instead"
        )
    c = _new_assignment(
        organization,
        asset,
        holder,
        kind=kind,
        key=assignment_key,
        started_at=_not_future("startedAt", started_at, at),
        at=at,
        snapshot={
            "location": location,
            "conditionNotes": condition_notes,
            "overrideReason": override,
        },
    )
    _save_assignment(c)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="custody.assigned",
        subject_type="custody-assignment",
        subject_id=c.id,
        before=None,
        after=custody_fields(c),
        extra={"notReadyOverride": override} if override else None,
    )
    return c


@transaction.atomic
def custody_hand_off(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_id: str,
    to_member_id: str,
    assignment_key: str | None = None,
    location: str = "",
    condition_notes: str = "",
    override_reason: str | None = None,
) -> CustodyAssignment:
    """End the current primary custody and start the new one at the same instant."""
    reason = validation.reason(reason)
    asset = _lock_asset(organization, asset_id)
    if asset.status == AssetStatus.DECOMMISSIONED:
        raise Unprocessable(f"asset {asset.asset_key} is decommissioned")
    current = selectors.active_primary(organization, asset.id, lock=True)
    if current is None:
        raise Unprocessable(f"asset {asset.asset_key} has no active primary custody to hand off")
    holder = _holder(organization, to_member_id)
    if current.subject_resource_id == holder.id:
        raise Unprocessable(f"{holder.email} already holds {asset.asset_key}")
    at = now()
    override = _check_ready_or_override(organization, asset, override_reason, at)
    ended = _end(current, at, at)
    c = _new_assignment(
        organization,
        asset,
        holder,
        kind=AssignmentKind.PRIMARY,
        key=assignment_key,
        started_at=at,
        at=at,
        snapshot={
            "location": location,
            "conditionNotes": condition_notes,
            "overrideReason": override,
            "handedOffFrom": current.id,
        },
    )
    _save_assignment(c)
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        at=at,
        events=[
            ended,
            PendingEvent(
                "custody.handed-off",
                "custody-assignment",
                c.id,
                None,
                custody_fields(c),
                extra={
                    "fromAssignmentId": current.id,
                    **({"notReadyOverride": override} if override else {}),
                },
            ),
        ],
    )
    return c


@transaction.atomic
def custody_end(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    assignment_id: str,
    ended_at: datetime | None = None,
) -> CustodyAssignment:
    """End an active custody assignment (the asset is returned)."""
    reason = validation.reason(reason)
    c = (
        CustodyAssignment.objects.select_for_update()
        .filter(organization=organization, id=assignment_id)
        .first()
    )
    if c is None:
        raise NotFound(f"custody assignment {assignment_id} not found")
    if c.status != CustodyStatus.ACTIVE:
        raise Unprocessable(f"custody assignment {c.assignment_key} has already ended")
    at = now()
    when = _not_future("endedAt", ended_at, at)
    if when < c.started_at:
        raise field_error("endedAt", "must not be before the assignment started")
    event = _end(c, when, at)
    audit.record_many(
        organization_id=organization.id, actor=actor, reason=reason, events=[event], at=at
    )
    return c


@transaction.atomic
def custody_bulk_record(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    records: Sequence[Mapping[str, Any]],
) -> list[CustodyAssignment]:
    """Record many custody assignments as they happened elsewhere (CMMS import, history
    loads): each record names ``asset_id``, ``member_id``, ``assignment_kind``,
    ``assignment_key``, ``started_at`` and optional ``ended_at``. One event per record.

    An active record (no ``ended_at``) needs an active holder and an asset that is not
    decommissioned; an ended one may not end before it started. The database still refuses
    a second active primary per asset."""
    reason = validation.reason(reason)
    at = now()
    member_ids = {r["member_id"] for r in records}
    members = {m.id: m for m in Member.objects.filter(organization=organization, id__in=member_ids)}
    statuses = _asset_statuses(organization, {r["asset_id"] for r in records})
    rows = [_custody_row(organization, i, r, members, statuses, at) for i, r in enumerate(records)]
    try:
        with transaction.atomic():
            bulk.insert_many(CustodyAssignment, rows)
    except IntegrityError as exc:
        raise Conflict(
            "an assignment key is taken, or an asset would get a second active primary custody"
        ) from exc
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        at=at,
        events=[
            PendingEvent("custody.recorded", "custody-assignment", c.id, None, custody_fields(c))
            for c in rows
        ],
    )
    return rows


def _custody_row(
    organization: Organization,
    i: int,
    r: Mapping[str, Any],
    members: Mapping[str, Member],
    statuses: Mapping[str, str],
    at: datetime,
) -> CustodyAssignment:
    where = f"records[{i}]"
    holder = members.get(r["member_id"])
    if holder is None:
        raise field_error(f"{where}.memberId", f"member {r['member_id']} not found")
    kind = validation.choice(
        f"{where}.assignmentKind",
        r.get("assignment_kind", AssignmentKind.PRIMARY),
        ASSIGNMENT_KINDS,
    )
    started = validation.aware(f"{where}.startedAt", r.get("started_at"))
    if started is None:
        raise field_error(f"{where}.startedAt", "is required")
    ended = validation.aware(f"{where}.endedAt", r.get("ended_at"))
    if ended is not None and ended < started:
        raise field_error(f"{where}.endedAt", "must not be before the assignment started")
    if ended is None and statuses[r["asset_id"]] == AssetStatus.DECOMMISSIONED:
        raise Unprocessable(f"{where}: a decommissioned asset can't have active custody")
    if ended is None and holder.status != MembershipStatus.ACTIVE:
        raise Unprocessable(
            f"{where}: {holder.email} is not an active member and can't hold custody"
        )
    return CustodyAssignment(
        id=new_id("ascust"),
        organization=organization,
        asset_id=r["asset_id"],
        assignment_key=validation.pattern(
            f"{where}.assignmentKey", r["assignment_key"], RECORD_KEY_RE, _KEY_RULE, 160
        ),
        assignment_kind=kind,
        subject_module_key=SUBJECT_MODULE_MEMBERSHIP,
        subject_resource_type=SUBJECT_TYPE_MEMBER_USER,
        subject_resource_id=holder.id,
        status=CustodyStatus.ENDED if ended else CustodyStatus.ACTIVE,
        started_at=started,
        ended_at=ended,
        assignment_snapshot={
            "holderName": holder.full_name,
            "holderEmail": holder.email,
            **dict(r.get("snapshot") or {}),
        },
        created_at=r.get("created_at") or at,
        updated_at=r.get("updated_at") or at,
    )


def _asset_statuses(organization: Organization, asset_ids: set[str]) -> dict[str, str]:
    """``{asset id: status}`` for these assets; NotFound if any is not in this organization."""
    ids = list(asset_ids)
    statuses: dict[str, str] = {}
    for start in range(0, len(ids), 900):
        statuses.update(
            Asset.objects.filter(
                organization=organization, id__in=ids[start : start + 900]
            ).values_list("id", "status")
        )
    if len(statuses) != len(ids):
        raise NotFound("an asset named in these records was not found in this organization")
    return statuses


def _known_responsibilities(organization: Organization, ids: set[str | None]) -> set[str]:
    """Which of these responsibility ids exist in this organization."""
    wanted = list(ids - {None, ""})
    known: set[str] = set()
    for start in range(0, len(wanted), 900):
        known.update(
            ResponsibilityAssignment.objects.filter(
                organization=organization, id__in=wanted[start : start + 900]
            ).values_list("id", flat=True)
        )
    return known


# --- readiness -----------------------------------------------------------------------------


@transaction.atomic
def readiness_schedule(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_id: str,
    assessment_kind: str,
    readiness_assessment_key: str | None = None,
    performed_by_responsibility_id: str | None = None,
    posture_snapshot: Mapping[str, Any] | None = None,
) -> ReadinessAssessment:
    """Plan an assessment (state ``unknown``, status ``scheduled``)."""
    reason = validation.reason(reason)
    kind = validation.text("assessmentKind", assessment_kind, min_len=1, max_len=64)
    asset = _lock_asset(organization, asset_id)
    if asset.status == AssetStatus.DECOMMISSIONED:
        raise Unprocessable(f"asset {asset.asset_key} is decommissioned")
    at = now()
    key = readiness_assessment_key or _default_assessment_key(asset.asset_key, kind, at)
    r = ReadinessAssessment(
        id=new_id("asrdy"),
        organization=organization,
        asset=asset,
        readiness_assessment_key=validation.pattern(
            "readinessAssessmentKey", key, RECORD_KEY_RE, _KEY_RULE, 160
        ),
        assessment_kind=kind,
        readiness_state=ReadinessState.UNKNOWN,
        status=AssessmentStatus.SCHEDULED,
        performed_by_responsibility_id=_responsibility(
            organization, "performedByResponsibilityId", performed_by_responsibility_id
        ),
        posture_snapshot=_snapshot("postureSnapshot", posture_snapshot),
        created_at=at,
        updated_at=at,
    )
    try:
        with transaction.atomic():
            r.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict(f"readiness assessment key {r.readiness_assessment_key} is taken") from exc
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="readiness.scheduled",
        subject_type="readiness-assessment",
        subject_id=r.id,
        before=None,
        after=assessment_fields(r),
    )
    return r


def _default_assessment_key(asset_key: str, kind: str, at: datetime) -> str:
    """``<assetKey>-<kind>-<timestamp>``, kept a valid key (at most 156 characters) whatever the
    free-text kind holds: spaces, accents and slashes become dashes."""
    kind_part = re.sub(r"[^A-Za-z0-9._:-]+", "-", kind).strip("-")[:64] or "assessment"
    return f"{asset_key[:70]}-{kind_part}-{at:%Y%m%d%H%M%S%f}"


def _lock_assessment(organization: Organization, assessment_id: str) -> ReadinessAssessment:
    r = (
        ReadinessAssessment.objects.select_for_update()
        .filter(organization=organization, id=assessment_id)
        .first()
    )
    if r is None:
        raise NotFound(f"readiness assessment {assessment_id} not found")
    return r


def _move(r: ReadinessAssessment, status: str) -> None:
    if status not in ASSESSMENT_TRANSITIONS[r.status]:
        allowed = sorted(ASSESSMENT_TRANSITIONS[r.status]) or ["none: it is final"]
        raise Unprocessable(
            f"assessment {r.readiness_assessment_key} can't go from {r.status} "
            f"to {status}; allowed: {', '.join(allowed)}"
        )


def _transition(
    organization: Organization,
    actor: Actor,
    reason: str,
    assessment_id: str,
    status: str,
    action: str,
    **values: Any,
) -> ReadinessAssessment:
    reason = validation.reason(reason)
    r = _lock_assessment(organization, assessment_id)
    _move(r, status)
    before = assessment_fields(r)
    r.status, r.updated_at = status, now()
    for name, value in values.items():
        setattr(r, name, value)
    r.save()
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="readiness-assessment",
        subject_id=r.id,
        before=audit.changed_fields(before, assessment_fields(r))[0],
        after=audit.changed_fields(before, assessment_fields(r))[1],
    )
    return r


@transaction.atomic
def readiness_start(
    *, organization: Organization, actor: Actor, reason: str, assessment_id: str
) -> ReadinessAssessment:
    """scheduled -> in-progress."""
    return _transition(
        organization,
        actor,
        reason,
        assessment_id,
        AssessmentStatus.IN_PROGRESS,
        "readiness.started",
    )


@transaction.atomic
def readiness_complete(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    assessment_id: str,
    readiness_state: str,
    performed_at: datetime,
    valid_until: datetime | None = None,
    performed_by_responsibility_id: str | None = None,
    posture_snapshot: Mapping[str, Any] | None = None,
    evidence_snapshot: Mapping[str, Any] | None = None,
) -> ReadinessAssessment:
    """Record the result: state, when it was performed (required) and how long it is valid."""
    state = validation.choice("readinessState", readiness_state, READINESS_STATES)
    if performed_at is None:
        raise field_error("performedAt", "is required to complete an assessment")
    validation.aware("performedAt", performed_at)
    validation.aware("validUntil", valid_until)
    if performed_at > now():
        raise field_error("performedAt", "must not be in the future")
    if valid_until is not None and valid_until <= performed_at:
        raise field_error("validUntil", "must be after performedAt")
    values: dict[str, Any] = {
        "readiness_state": state,
        "performed_at": performed_at,
        "valid_until": valid_until,
    }
    if performed_by_responsibility_id is not None:
        values["performed_by_responsibility_id"] = _responsibility(
            organization, "performedByResponsibilityId", performed_by_responsibility_id
        )
    if posture_snapshot is not None:
        values["posture_snapshot"] = _snapshot("postureSnapshot", posture_snapshot)
    if evidence_snapshot is not None:
        values["evidence_snapshot"] = _snapshot("evidenceSnapshot", evidence_snapshot)
    return _transition(
        organization,
        actor,
        reason,
        assessment_id,
        AssessmentStatus.COMPLETED,
        "readiness.completed",
        **values,
    )


@transaction.atomic
def readiness_cancel(
    *, organization: Organization, actor: Actor, reason: str, assessment_id: str
) -> ReadinessAssessment:
    """scheduled or in-progress -> cancelled."""
    return _transition(
        organization,
        actor,
        reason,
        assessment_id,
        AssessmentStatus.CANCELLED,
        "readiness.cancelled",
    )


@transaction.atomic
def readiness_bulk_record(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    records: Sequence[Mapping[str, Any]],
) -> list[ReadinessAssessment]:
    """Record many assessments as they happened (CMMS calibration columns, history loads).

    Each record has ``asset_id``, ``readiness_assessment_key``, ``assessment_kind``,
    ``readiness_state``, ``status`` and optional ``performed_at``, ``valid_until``,
    ``performed_by_responsibility_id`` and snapshots. One event per record. The rules of
    ``readiness_complete`` and ``readiness_schedule`` hold: a completed record was performed
    (not in the future) and its validity ends after that; nothing is scheduled or in progress
    on a decommissioned asset; the performer is a responsibility of this organization.
    """
    reason = validation.reason(reason)
    at = now()
    statuses = _asset_statuses(organization, {r["asset_id"] for r in records})
    known = _known_responsibilities(
        organization, {r.get("performed_by_responsibility_id") for r in records}
    )
    rows = [_assessment_row(organization, i, r, statuses, known, at) for i, r in enumerate(records)]
    try:
        with transaction.atomic():
            bulk.insert_many(ReadinessAssessment, rows)
    except IntegrityError as exc:
        raise Conflict("a readiness assessment key is taken") from exc
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        at=at,
        events=[
            PendingEvent(
                "readiness.recorded", "readiness-assessment", r.id, None, assessment_fields(r)
            )
            for r in rows
        ],
    )
    return rows


_OPEN_ASSESSMENT = (AssessmentStatus.SCHEDULED, AssessmentStatus.IN_PROGRESS)


def _assessment_row(
    organization: Organization,
    i: int,
    r: Mapping[str, Any],
    statuses: Mapping[str, str],
    known: set[str],
    at: datetime,
) -> ReadinessAssessment:
    where = f"records[{i}]"
    status = validation.choice(f"{where}.status", r.get("status"), ASSESSMENT_STATUSES)
    performed = validation.aware(f"{where}.performedAt", r.get("performed_at"))
    valid_until = validation.aware(f"{where}.validUntil", r.get("valid_until"))
    if status == AssessmentStatus.COMPLETED and performed is None:
        raise field_error(f"{where}.performedAt", "is required when completed")
    if performed is not None and performed > at:
        raise field_error(f"{where}.performedAt", "must not be in the future")
    if performed is not None and valid_until is not None and valid_until <= performed:
        raise field_error(f"{where}.validUntil", "must be after performedAt")
    if status in _OPEN_ASSESSMENT and statuses[r["asset_id"]] == AssetStatus.DECOMMISSIONED:
        raise Unprocessable(f"{where}: a decommissioned asset can't have open assessments")
    performer = r.get("performed_by_responsibility_id") or None
    if performer is not None and performer not in known:
        raise field_error(
            f"{where}.performedByResponsibilityId", f"responsibility {performer} not found"
        )
    return ReadinessAssessment(
        id=new_id("asrdy"),
        organization=organization,
        asset_id=r["asset_id"],
        readiness_assessment_key=validation.pattern(
            f"{where}.readinessAssessmentKey",
            r["readiness_assessment_key"],
            RECORD_KEY_RE,
            _KEY_RULE,
            160,
        ),
        assessment_kind=validation.text(
            f"{where}.assessmentKind", r["assessment_kind"], min_len=1, max_len=64
        ),
        readiness_state=validation.choice(
            f"{where}.readinessState", r.get("readiness_state"), READINESS_STATES
        ),
        status=status,
        performed_at=performed,
        valid_until=valid_until,
        performed_by_responsibility_id=performer,
        posture_snapshot=_snapshot(f"{where}.postureSnapshot", r.get("posture_snapshot")),
        evidence_snapshot=_snapshot(f"{where}.evidenceSnapshot", r.get("evidence_snapshot")),
        created_at=r.get("created_at") or at,
        updated_at=r.get("updated_at") or at,
    )
