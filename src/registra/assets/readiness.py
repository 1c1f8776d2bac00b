"""Computed readiness with reasons (SPEC section 3): pure logic over an asset's assessments.

``validity`` (asset kind -> assessment kind -> days, the organization's
``readiness_validity``) is how long a completed assessment of a required kind stays valid when
its record has no due date of its own (``valid_until``): its due date is then the day it was
performed plus that period. A record's own due date always wins. Decision record 0013."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Protocol

from registra.assets.choices import AssessmentStatus, AssetStatus, ReadinessState


class AssessmentLike(Protocol):
    assessment_kind: str
    status: str
    readiness_state: str
    performed_at: datetime | None
    valid_until: datetime | None


# asset kind -> assessment kind -> days a completed assessment stays valid without a due date
Validity = Mapping[str, Mapping[str, int]]
NO_VALIDITY: Validity = MappingProxyType({})


def due_at(assessment: AssessmentLike, validity_days: int | None) -> datetime | None:
    """When ``assessment`` lapses: its own due date, else the day it was performed plus the
    validity period of its kind (``validity_days``), else never (None)."""
    if assessment.valid_until is not None:
        return assessment.valid_until
    if validity_days is None or assessment.performed_at is None:
        return None
    return assessment.performed_at + timedelta(days=validity_days)


@dataclass(frozen=True)
class Readiness:
    """``ready`` or ``not-ready``, with human-readable reasons when not ready."""

    state: str
    reasons: list[str] = field(default_factory=list)

    @property
    def is_ready(self) -> bool:
        return self.state == ReadinessState.READY


def _day(value: datetime, zone: tzinfo) -> str:
    """The day of ``value`` in ``zone`` (the organization's): what a reason names."""
    return value.astimezone(zone).date().isoformat()


def latest_completed(
    assessments: Iterable[AssessmentLike], kind: str, at: datetime
) -> AssessmentLike | None:
    """The asset's current assessment of a kind: the latest completed one performed by ``at``."""
    best: AssessmentLike | None = None
    for a in assessments:
        if a.assessment_kind != kind or a.status != AssessmentStatus.COMPLETED:
            continue
        if a.performed_at is None or a.performed_at > at:
            continue
        if best is None or a.performed_at > best.performed_at:  # type: ignore[operator]
            best = a
    return best


def _kind_reason(
    kind: str, current: AssessmentLike | None, due: datetime | None, at: datetime, zone: tzinfo
) -> str | None:
    if current is None:
        return f"{kind} never completed"
    performed = _day(current.performed_at, zone)  # type: ignore[arg-type]
    if current.readiness_state == ReadinessState.NOT_READY:
        return f"{kind} failed on {performed}"
    if current.readiness_state == ReadinessState.CONDITIONALLY_READY:
        return f"{kind} only conditionally ready since {performed}"
    if current.readiness_state == ReadinessState.UNKNOWN:
        return f"{kind} result unknown since {performed}"
    if due is not None and due <= at:
        return f"{kind} overdue since {_day(due, zone)}"
    return None


@dataclass(frozen=True)
class KindReadiness:
    """One required assessment kind at a moment: the assessment that decides it (None when
    never completed), why it is not ready (None when it is) and when that assessment lapses
    (``due_at``: its own due date or its kind's validity period; None: never)."""

    kind: str
    assessment: AssessmentLike | None
    reason: str | None
    due: datetime | None = None

    @property
    def is_ready(self) -> bool:
        return self.reason is None


def kinds_readiness(
    *,
    asset_kind: str,
    requirements: Mapping[str, list[str]],
    assessments: Iterable[AssessmentLike],
    at: datetime,
    zone: tzinfo = UTC,
    validity: Validity = NO_VALIDITY,
) -> list[KindReadiness]:
    """Each assessment kind that ``asset_kind`` requires, as it stood at ``at`` (days in the
    reasons in ``zone``; validity periods from ``validity``)."""
    assessments = list(assessments)
    periods = validity.get(asset_kind, {})
    out = []
    for kind in requirements.get(asset_kind, []):
        current = latest_completed(assessments, kind, at)
        due = due_at(current, periods.get(kind)) if current is not None else None
        reason = _kind_reason(kind, current, due, at, zone)
        out.append(KindReadiness(kind, current, reason, due))
    return out


def compute_readiness(
    *,
    asset_status: str,
    asset_kind: str,
    requirements: Mapping[str, list[str]],
    assessments: Iterable[AssessmentLike],
    at: datetime,
    zone: tzinfo = UTC,
    validity: Validity = NO_VALIDITY,
) -> Readiness:
    """Ready only when active and every required kind has a completed, unexpired, ready result
    (the days the reasons name in ``zone``, the organization's)."""
    if asset_status != AssetStatus.ACTIVE:
        return Readiness(ReadinessState.NOT_READY, [asset_status])
    kinds = kinds_readiness(
        asset_kind=asset_kind,
        requirements=requirements,
        assessments=assessments,
        at=at,
        zone=zone,
        validity=validity,
    )
    reasons = [k.reason for k in kinds if k.reason]
    return Readiness(ReadinessState.NOT_READY if reasons else ReadinessState.READY, reasons)


def next_due(
    *,
    asset_kind: str,
    requirements: Mapping[str, list[str]],
    assessments: Iterable[AssessmentLike],
    at: datetime,
    validity: Validity = NO_VALIDITY,
) -> datetime | None:
    """The earliest due date (``due_at``) of the asset's current required assessments: when a
    ready asset stops being ready without anything being written. None: none is due."""
    assessments = list(assessments)
    periods = validity.get(asset_kind, {})
    dues = [
        due
        for kind in requirements.get(asset_kind, [])
        if (current := latest_completed(assessments, kind, at)) is not None
        and (due := due_at(current, periods.get(kind))) is not None
    ]
    return min(dues) if dues else None
