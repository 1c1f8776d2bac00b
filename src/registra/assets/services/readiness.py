"""Readiness writes: schedule, start, complete, cancel, and bulk records."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from registra.assets import selectors
from registra.assets.choices import (
    ASSESSMENT_TRANSITIONS,
    AssessmentStatus,
    AssetStatus,
    ReadinessState,
    check_transition,
)
from registra.assets.models import Asset, ReadinessAssessment
from registra.assets.services._common import (
    _KEY_RULE,
    ASSESSMENT_STATUSES,
    READINESS_STATES,
    RECORD_KEY_RE,
    _asset_statuses,
    _known_responsibilities,
    _lock_asset,
    _lock_batch,
    _refuse_decommissioned,
    _responsibility,
    _snapshot,
    assessment_fields,
)
from registra.assets.services._readiness_model import refresh_readiness
from registra.core import audit, bulk, validation
from registra.core.audit import Actor, PendingEvent
from registra.core.errors import Conflict, Unprocessable, field_error
from registra.core.ids import new_id
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require
from registra.organizations.services.organizations import (
    clean_requirements,
    clean_validity,
)
from registra.organizations.services.organizations import validity_days as check_validity_days

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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    return _schedule(
        organization,
        actor,
        reason,
        [_lock_asset(organization, asset_id)],
        assessment_kind,
        key=readiness_assessment_key,
        performed_by_responsibility_id=performed_by_responsibility_id,
        posture_snapshot=posture_snapshot,
    )[0]


@transaction.atomic
def readiness_bulk_schedule(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_ids: Sequence[str],
    assessment_kind: str,
    performed_by_responsibility_id: str | None = None,
) -> list[ReadinessAssessment]:
    """Plan one assessment of ``assessment_kind`` for every one of these assets, all or
    nothing: one reason for the batch, one ``readiness.scheduled`` event per assessment. At
    most ``MAX_BATCH`` assets; a decommissioned one refuses the batch, naming it."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    return _schedule(
        organization,
        actor,
        reason,
        _lock_batch(organization, asset_ids),
        assessment_kind,
        key=None,
        performed_by_responsibility_id=performed_by_responsibility_id,
        posture_snapshot=None,
    )


def _schedule(
    organization: Organization,
    actor: Actor,
    reason: str,
    assets: Sequence[Asset],
    assessment_kind: str,
    *,
    key: str | None,
    performed_by_responsibility_id: str | None,
    posture_snapshot: Mapping[str, Any] | None,
) -> list[ReadinessAssessment]:
    """A scheduled assessment (state ``unknown``) for each of ``assets`` (locked), keyed
    ``key`` or ``<assetKey>-<kind>-<timestamp>``; ``reason`` validated by the caller."""
    kind = validation.text("assessmentKind", assessment_kind, min_len=1, max_len=64)
    _refuse_decommissioned(assets)
    performer = _responsibility(
        organization, "performedByResponsibilityId", performed_by_responsibility_id
    )
    posture = _snapshot("postureSnapshot", posture_snapshot)
    at = now()
    rows = [
        ReadinessAssessment(
            id=new_id("asrdy"),
            organization=organization,
            asset=asset,
            readiness_assessment_key=validation.pattern(
                "readinessAssessmentKey",
                key or _default_assessment_key(asset.asset_key, kind, at),
                RECORD_KEY_RE,
                _KEY_RULE,
                160,
            ),
            assessment_kind=kind,
            readiness_state=ReadinessState.UNKNOWN,
            status=AssessmentStatus.SCHEDULED,
            performed_by_responsibility_id=performer,
            posture_snapshot=posture,
            created_at=at,
            updated_at=at,
        )
        for asset in assets
    ]
    taken = rows[0].readiness_assessment_key if len(rows) == 1 else "of one of them"
    conflict = f"readiness assessment key {taken} is taken"
    _insert(organization, actor, reason, at, rows, "readiness.scheduled", conflict)
    return rows


def _insert(
    organization: Organization,
    actor: Actor,
    reason: str,
    at: datetime,
    rows: list[ReadinessAssessment],
    action: str,
    conflict: str,
) -> None:
    """Insert new assessments with an ``action`` event each; a key already used is a
    Conflict saying ``conflict``."""
    try:
        with transaction.atomic():
            bulk.insert_many(ReadinessAssessment, rows)
    except IntegrityError as exc:
        raise Conflict(conflict) from exc
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        at=at,
        events=[
            PendingEvent(action, "readiness-assessment", r.id, None, assessment_fields(r))
            for r in rows
        ],
    )


def _default_assessment_key(asset_key: str, kind: str, at: datetime) -> str:
    """``<assetKey>-<kind>-<timestamp>``, kept a valid key (at most 156 characters) whatever the
    free-text kind holds: spaces, accents and slashes become dashes."""
    kind_part = re.sub(r"[^A-Za-z0-9._:-]+", "-", kind).strip("-")[:64] or "assessment"
    return f"{asset_key[:70]}-{kind_part}-{at:%Y%m%d%H%M%S%f}"


def _lock_assessment(organization: Organization, assessment_id: str) -> ReadinessAssessment:
    assessments = ReadinessAssessment.objects.filter(organization=organization, id=assessment_id)
    return first_or_404(assessments, f"readiness assessment {assessment_id}", lock=True)


def _move(r: ReadinessAssessment, status: str) -> None:
    record = f"assessment {r.readiness_assessment_key}"
    check_transition(ASSESSMENT_TRANSITIONS, record, r.status, status)


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
    refresh_readiness(
        organization, selectors.assets_for_readiness(organization, [r.asset_id]), r.updated_at
    )
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    at = now()
    statuses = _asset_statuses(organization, {r["asset_id"] for r in records})
    known = _known_responsibilities(
        organization, {r.get("performed_by_responsibility_id") for r in records}
    )
    rows = [_assessment_row(organization, i, r, statuses, known, at) for i, r in enumerate(records)]
    conflict = "a readiness assessment key is taken"
    _insert(organization, actor, reason, at, rows, "readiness.recorded", conflict)
    refresh_readiness(organization, selectors.assets_for_readiness(organization, statuses), at)
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


# --- requirements --------------------------------------------------------------------------


@transaction.atomic
def organization_set_readiness_requirements(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    requirements: dict[str, list[str]],
    validity: dict[str, dict[str, int]] | None = None,
) -> Organization:
    """Set which assessment kinds each asset kind needs to be ready and, optionally, how many
    days a completed one stays valid when its record has no due date (``validity``; None keeps
    the periods of the kinds still required). The readiness of every asset of a kind whose
    requirements or periods changed is computed again in the same transaction."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    clean = clean_requirements(requirements)
    _lock_rules(organization)
    if validity is None:
        validity = _still_required(organization.readiness_validity or {}, clean)
    return _change_rules(organization, actor, reason, clean, clean_validity(validity, clean))


@transaction.atomic
def readiness_requirement_set(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_kind: str,
    assessment_kind: str,
    validity_days: int | None = None,
) -> Organization:
    """Require ``assessment_kind`` of every asset of ``asset_kind`` (if not yet), valid for
    ``validity_days`` after it was performed when its record has no due date (None: such an
    assessment never lapses). The assets of that kind are recomputed in the same transaction."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    kind = validation.text("assetKind", asset_kind, min_len=1, max_len=64)
    needed = validation.text("assessmentKind", assessment_kind, min_len=1, max_len=64)
    days = None if validity_days is None else check_validity_days(validity_days)
    _lock_rules(organization)
    requirements = {k: list(v) for k, v in (organization.readiness_requirements or {}).items()}
    validity = {k: dict(v) for k, v in (organization.readiness_validity or {}).items()}
    requirements[kind] = sorted({*requirements.get(kind, []), needed})
    periods = validity.setdefault(kind, {})
    if days is None:
        periods.pop(needed, None)
    else:
        periods[needed] = days
    validity = {k: v for k, v in validity.items() if v}
    return _change_rules(organization, actor, reason, requirements, validity)


@transaction.atomic
def readiness_requirement_remove(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    asset_kind: str,
    assessment_kind: str,
) -> Organization:
    """Stop requiring ``assessment_kind`` of ``asset_kind`` (and drop its validity period); the
    assets of that kind are recomputed in the same transaction."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    _lock_rules(organization)
    requirements = {k: list(v) for k, v in (organization.readiness_requirements or {}).items()}
    if assessment_kind not in requirements.get(asset_kind, []):
        raise Unprocessable(f"{asset_kind} does not require {assessment_kind}")
    requirements[asset_kind].remove(assessment_kind)
    requirements = {k: v for k, v in requirements.items() if v}
    validity = _still_required(organization.readiness_validity or {}, requirements)
    return _change_rules(organization, actor, reason, requirements, validity)


def _lock_rules(organization: Organization) -> None:
    """Lock the organization's row and read its requirements and periods afresh, so two
    changes at once never lose one another."""
    rules = (
        Organization.objects.select_for_update()
        .filter(id=organization.id)
        .values("readiness_requirements", "readiness_validity")
        .get()
    )
    organization.readiness_requirements = rules["readiness_requirements"] or {}
    organization.readiness_validity = rules["readiness_validity"] or {}


def _still_required(
    validity: Mapping[str, Mapping[str, int]], requirements: Mapping[str, list[str]]
) -> dict[str, dict[str, int]]:
    kept = {
        kind: {k: d for k, d in periods.items() if k in requirements.get(kind, [])}
        for kind, periods in validity.items()
    }
    return {kind: periods for kind, periods in kept.items() if periods}


def _rules(organization: Organization) -> dict[str, Any]:
    return {
        "readinessRequirements": dict(organization.readiness_requirements or {}),
        "readinessValidity": dict(organization.readiness_validity or {}),
    }


def _change_rules(
    organization: Organization,
    actor: Actor,
    reason: str,
    requirements: dict[str, list[str]],
    validity: dict[str, dict[str, int]],
) -> Organization:
    """Store the rules (clean), recompute the assets of every asset kind whose rules changed
    (``refresh_readiness``, in chunks: a kind may have a million assets), and record what
    changed. A change to nothing writes nothing."""
    before = _rules(organization)
    organization.readiness_requirements = requirements
    organization.readiness_validity = validity
    after = _rules(organization)
    old, new = audit.changed_fields(before, after)
    if not new:
        return organization
    at = now()
    organization.updated_at = at
    organization.save(update_fields=["readiness_requirements", "readiness_validity", "updated_at"])
    changed = {
        kind
        for rules_before, rules_after in zip(before.values(), after.values(), strict=True)
        for kind in set(rules_before) | set(rules_after)
        if rules_before.get(kind) != rules_after.get(kind)
    }
    for kind in sorted(changed):
        refresh_readiness(organization, selectors.assets_of_kind(organization, kind), at)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="organization.readiness-requirements-changed",
        subject_type="organization",
        subject_id=organization.id,
        before=old,
        after=new,
    )
    return organization
