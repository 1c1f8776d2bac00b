"""Custody writes: assign, hand off, end, and bulk records of custody held elsewhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from registra.assets import selectors
from registra.assets.choices import (
    SUBJECT_MODULE_MEMBERSHIP,
    SUBJECT_TYPE_MEMBER_USER,
    AssetStatus,
    AssignmentKind,
    CustodyStatus,
)
from registra.assets.models import Asset, CustodyAssignment
from registra.assets.services._common import (
    _KEY_RULE,
    ASSIGNMENT_KINDS,
    RECORD_KEY_RE,
    _asset_statuses,
    _lock_asset,
    _lock_batch,
    _refuse_decommissioned,
    custody_fields,
)
from registra.assets.services._readiness_model import refresh_holders
from registra.core import audit, bulk, validation
from registra.core.audit import Actor, PendingEvent
from registra.core.errors import Conflict, Unprocessable, field_error
from registra.core.ids import new_id
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import MembershipStatus
from registra.organizations.models import Member, Organization
from registra.organizations.policy import Permission, require

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
    return _holders(organization, {member_id})[member_id]


def _holders(organization: Organization, member_ids: set[str]) -> dict[str, Member]:
    """These members by id, each an active member of the organization (else refused)."""
    found = {m.id: m for m in Member.objects.filter(organization=organization, id__in=member_ids)}
    for member_id in sorted(member_ids):
        m = found.get(member_id)
        if m is None:
            raise field_error("memberId", f"member {member_id} not found in this organization")
        if m.status != MembershipStatus.ACTIVE:
            raise Unprocessable(f"{m.email} is not an active member and can't hold custody")
    return found


def _check_ready_or_override(
    organization: Organization, assets: Sequence[Asset], override_reason: str | None, at: datetime
) -> tuple[str, set[str]]:
    """The validated override and the ids of the assets it covers: those not ready at ``at``.
    Handing over a not-ready asset without an override is refused, saying why it is not ready."""
    readiness = selectors.assets_readiness(organization, list(assets), at=at)
    not_ready = [a for a in assets if not readiness[a.id].is_ready]
    if not not_ready:
        return "", set()
    if not override_reason:
        why = [f"{a.asset_key}: {'; '.join(readiness[a.id].reasons)}" for a in not_ready[:3]]
        if len(not_ready) > 3:
            why.append(f"and {len(not_ready) - 3} more")
        if len(assets) == 1:
            reasons = "; ".join(readiness[assets[0].id].reasons)
            what = f"asset {assets[0].asset_key} is not ready ({reasons}): handing it over"
        else:
            count = len(not_ready)
            what = f"{count} of the assets are not ready ({'; '.join(why)}): handing them over"
        message = f"{what} needs an explicit override with a reason"
        raise Unprocessable(message, issues=[{"path": ["overrideReason"], "message": message}])
    override = validation.text("overrideReason", override_reason, min_len=10, max_len=1000)
    return override, {a.id for a in not_ready}


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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    kind = validation.choice("assignmentKind", assignment_kind, ASSIGNMENT_KINDS)
    asset = _lock_asset(organization, asset_id)
    _refuse_decommissioned([asset])
    holder = _holder(organization, member_id)
    at = now()
    override, _ = _check_ready_or_override(organization, [asset], override_reason, at)
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
    refresh_holders(organization, [asset.id])
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    asset = _lock_asset(organization, asset_id)
    _refuse_decommissioned([asset])
    current = selectors.active_primary(organization, asset.id, lock=True)
    if current is None:
        raise Unprocessable(f"asset {asset.asset_key} has no active primary custody to hand off")
    holder = _holder(organization, to_member_id)
    if current.subject_resource_id == holder.id:
        raise Unprocessable(f"{holder.email} already holds {asset.asset_key}")
    return _transfer(
        organization,
        actor,
        reason,
        [asset],
        {asset.id: holder},
        current={asset.id: current},
        override_reason=override_reason,
        key=assignment_key,
        snapshot={"location": location, "conditionNotes": condition_notes},
    )[0]


@transaction.atomic
def custody_bulk_hand_over(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_ids: Sequence[str],
    to_member_id: str,
    override_reason: str | None = None,
) -> list[CustodyAssignment]:
    """Give every one of these assets to one member as primary holder (the web's bulk
    action): ``custody_bulk_hand_to_holders`` with one holder."""
    return custody_bulk_hand_to_holders(
        organization=organization,
        actor=actor,
        reason=reason,
        holders=dict.fromkeys(asset_ids, to_member_id),
        override_reason=override_reason,
    )


@transaction.atomic
def custody_bulk_hand_to_holders(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    holders: Mapping[str, str],
    override_reason: str | None = None,
) -> list[CustodyAssignment]:
    """Make each asset's member its primary holder (``{asset id: member id}``), all or
    nothing: an asset held by somebody else is handed off (its custody ended at the same
    instant), one held by nobody is assigned, one its member already holds is left as it is.
    One reason for the batch, one event per assignment ended or started; the not-ready assets
    among them need ``override_reason`` (recorded on theirs only). At most ``MAX_BATCH``
    assets."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    assets = _lock_batch(organization, list(holders))
    _refuse_decommissioned(assets)
    members = _holders(organization, set(holders.values()))
    current = selectors.active_primaries(organization, [a.id for a in assets], lock=True)
    moving = [
        a
        for a in assets
        if a.id not in current or current[a.id].subject_resource_id != holders[a.id]
    ]
    if not moving:
        return []
    return _transfer(
        organization,
        actor,
        reason,
        moving,
        {a.id: members[holders[a.id]] for a in moving},
        current=current,
        override_reason=override_reason,
        key=None,
        snapshot={},
    )


def _transfer(
    organization: Organization,
    actor: Actor,
    reason: str,
    assets: Sequence[Asset],
    holders: Mapping[str, Member],
    *,
    current: Mapping[str, CustodyAssignment],
    override_reason: str | None,
    key: str | None,
    snapshot: Mapping[str, Any],
) -> list[CustodyAssignment]:
    """Make ``holders[asset id]`` the primary holder of each of ``assets`` (locked, not
    decommissioned, not held by that member) at one instant: the current primary custody,
    where there is one, ends as the new one starts. Events ``custody.ended`` then
    ``custody.handed-off``, or ``custody.assigned`` for an asset nobody held."""
    at = now()
    override, not_ready = _check_ready_or_override(organization, assets, override_reason, at)
    ended: list[CustodyAssignment] = []
    started: list[CustodyAssignment] = []
    events: list[PendingEvent] = []
    for asset in assets:
        before = current.get(asset.id)
        overridden = override if asset.id in not_ready else ""
        c = _new_assignment(
            organization,
            asset,
            holders[asset.id],
            kind=AssignmentKind.PRIMARY,
            key=key,
            started_at=at,
            at=at,
            snapshot={
                **snapshot,
                "overrideReason": overridden,
                "handedOffFrom": before.id if before else None,
            },
        )
        extra = {"notReadyOverride": overridden} if overridden else {}
        if before is None:
            events.append(
                PendingEvent(
                    "custody.assigned",
                    "custody-assignment",
                    c.id,
                    None,
                    custody_fields(c),
                    extra=extra,
                )
            )
        else:
            events.append(_end_pending(before, at, at))
            events.append(
                PendingEvent(
                    "custody.handed-off",
                    "custody-assignment",
                    c.id,
                    None,
                    custody_fields(c),
                    extra={"fromAssignmentId": before.id, **extra},
                )
            )
            ended.append(before)
        started.append(c)
    bulk.update_many(CustodyAssignment, ended, ["status", "ended_at", "updated_at"])
    if len(started) == 1:
        _save_assignment(started[0])
    else:
        try:
            with transaction.atomic():
                bulk.insert_many(CustodyAssignment, started)
        except IntegrityError as exc:
            raise Conflict("an assignment key is taken") from exc
    refresh_holders(organization, [a.id for a in assets])
    audit.record_many(
        organization_id=organization.id, actor=actor, reason=reason, at=at, events=events
    )
    return started


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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    assignments = CustodyAssignment.objects.filter(organization=organization, id=assignment_id)
    c = first_or_404(assignments, f"custody assignment {assignment_id}", lock=True)
    if c.status != CustodyStatus.ACTIVE:
        raise Unprocessable(f"custody assignment {c.assignment_key} has already ended")
    at = now()
    when = _not_future("endedAt", ended_at, at)
    if when < c.started_at:
        raise field_error("endedAt", "must not be before the assignment started")
    event = _end(c, when, at)
    refresh_holders(organization, [c.asset_id])
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
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
    refresh_holders(organization, [c.asset_id for c in rows])
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
