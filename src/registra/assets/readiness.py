"""Computed readiness with reasons (SPEC section 3): pure logic over an asset's assessments."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from registra.assets.choices import AssessmentStatus, AssetStatus, ReadinessState


class AssessmentLike(Protocol):
    assessment_kind: str
    status: str
    readiness_state: str
    performed_at: datetime | None
    valid_until: datetime | None


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
    kind: str, current: AssessmentLike | None, at: datetime, zone: tzinfo
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
    if current.valid_until is not None and current.valid_until <= at:
        return f"{kind} overdue since {_day(current.valid_until, zone)}"
    return None


@dataclass(frozen=True)
class KindReadiness:
    """One required assessment kind at a moment: the assessment that decides it (None when
    never completed) and why it is not ready (None when it is)."""

    kind: str
    assessment: AssessmentLike | None
    reason: str | None

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
) -> list[KindReadiness]:
    """Each assessment kind that ``asset_kind`` requires, as it stood at ``at`` (days in the
    reasons in ``zone``)."""
    assessments = list(assessments)
    out = []
    for kind in requirements.get(asset_kind, []):
        current = latest_completed(assessments, kind, at)
        out.append(KindReadiness(kind, current, _kind_reason(kind, current, at, zone)))
    return out


def compute_readiness(
    *,
    asset_status: str,
    asset_kind: str,
    requirements: Mapping[str, list[str]],
    assessments: Iterable[AssessmentLike],
    at: datetime,
    zone: tzinfo = UTC,
) -> Readiness:
    """Ready only when active and every required kind has a completed, unexpired, ready result
    (the days the reasons name in ``zone``, the organization's)."""
    if asset_status != AssetStatus.ACTIVE:
        return Readiness(ReadinessState.NOT_READY, [asset_status])
    kinds = kinds_readiness(
        asset_kind=asset_kind, requirements=requirements, assessments=assessments, at=at, zone=zone
    )
    reasons = [k.reason for k in kinds if k.reason]
    return Readiness(ReadinessState.NOT_READY if reasons else ReadinessState.READY, reasons)


def next_due(
    *,
    asset_kind: str,
    requirements: Mapping[str, list[str]],
    assessments: Iterable[AssessmentLike],
    at: datetime,
) -> datetime | None:
    """The earliest due date (``valid_until``) of the asset's current required assessments:
    when a ready asset stops being ready without anything being written. None: none is due."""
    assessments = list(assessments)
    dues = [
        current.valid_until
        for kind in requirements.get(asset_kind, [])
        if (current := latest_completed(assessments, kind, at)) is not None
        and current.valid_until is not None
    ]
    return min(dues) if dues else None
