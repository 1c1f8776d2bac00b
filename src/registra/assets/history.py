"""The as-of view: who held an asset, what each required readiness kind was, and its status and
fields at a past moment. Pure functions over rows already read (``selectors.asset_detail``).

- Custody and assessments carry their own dates: a custody assignment held the asset from
  ``started_at`` until ``ended_at`` (a handoff ends one and starts the next at the same instant,
  so at that instant the new holder holds it); an assessment counts once it existed
  (``created_at``) and, as the readiness code says, from when it was performed.
- Status and fields come from the asset's audit trail: the state after the last event that
  took effect at or before the moment. Services record every field at creation and the changed
  fields afterwards, so replaying the ``after`` halves rebuilds the whole record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from registra.assets.choices import AssignmentKind
from registra.assets.readiness import (
    NO_VALIDITY,
    AssessmentLike,
    KindReadiness,
    Readiness,
    Validity,
    compute_readiness,
    kinds_readiness,
)
from registra.core.timefmt import parse_timestamp

DECOMMISSIONED = "asset.decommissioned"
_KIND_ORDER = {k: i for i, k in enumerate(AssignmentKind.values)}


class EventLike(Protocol):
    seq: int
    occurred_at: datetime
    action: str
    diff: Any


class CustodyLike(Protocol):
    assignment_kind: str
    started_at: datetime
    ended_at: datetime | None


class DatedAssessment(AssessmentLike, Protocol):
    created_at: datetime


def effective_at(event: EventLike, created_at: datetime) -> datetime:
    """When an event took effect, in the register's own dates. A creation counts from the
    record's ``created_at`` (history loads and imports register an asset with the time it came
    into the register) and a decommissioning from its ``decommissionedAt`` (it may be recorded
    after the fact, and it ended the asset's custody at that instant); any other event from when
    it was recorded."""
    diff = event.diff or {}
    if diff.get("before") is None:
        return min(event.occurred_at, created_at)
    decommissioned = (diff.get("after") or {}).get("decommissionedAt")
    if event.action == DECOMMISSIONED and decommissioned:
        return min(event.occurred_at, parse_timestamp(decommissioned))
    return event.occurred_at


def fields_as_of(
    events: Iterable[EventLike], *, created_at: datetime, at: datetime
) -> dict[str, Any] | None:
    """The asset's audited fields at ``at`` (API names and values as the trail records them),
    or None when it was not registered yet."""
    if at < created_at:
        return None
    state: dict[str, Any] | None = None
    timeline = sorted(((effective_at(e, created_at), e.seq, e) for e in events), key=_when)
    for when, _, event in timeline:
        if when > at:
            break
        state = {**(state or {}), **((event.diff or {}).get("after") or {})}
    return state


def _when(item: tuple[datetime, int, Any]) -> tuple[datetime, int]:
    """Effective time, then the chain's order for events that took effect together."""
    return item[0], item[1]


def holders_as_of(custody: Iterable[CustodyLike], at: datetime) -> list[CustodyLike]:
    """The custody assignments active at ``at``: primary first, then by start."""
    held = [c for c in custody if c.started_at <= at and (c.ended_at is None or c.ended_at > at)]
    return sorted(held, key=lambda c: (_KIND_ORDER.get(c.assignment_kind, 99), c.started_at))


@dataclass(frozen=True)
class AsOf:
    """An asset at a moment: ``fields`` is None when it was not registered yet."""

    at: datetime
    fields: dict[str, Any] | None
    holders: list[CustodyLike] = field(default_factory=list)
    readiness: Readiness | None = None
    kinds: list[KindReadiness] = field(default_factory=list)

    @property
    def primary(self) -> CustodyLike | None:
        """The primary holder at that moment (at most one, by the database's rule)."""
        for c in self.holders:
            if c.assignment_kind == AssignmentKind.PRIMARY:
                return c
        return None


def asset_as_of(
    *,
    created_at: datetime,
    events: Sequence[EventLike],
    custody: Iterable[CustodyLike],
    assessments: Iterable[DatedAssessment],
    requirements: Mapping[str, list[str]],
    at: datetime,
    zone: tzinfo = UTC,
    validity: Validity = NO_VALIDITY,
) -> AsOf:
    """Custody, readiness (the same code as now, at ``at``, over the assessments that existed
    then, with the status and kind the asset had then), status and fields at ``at``."""
    holders = holders_as_of(custody, at)
    fields = fields_as_of(events, created_at=created_at, at=at)
    if fields is None:
        return AsOf(at, None, holders)
    existing = [a for a in assessments if a.created_at <= at]
    status, kind = str(fields.get("status", "")), str(fields.get("assetKind", ""))
    readiness = compute_readiness(
        asset_status=status,
        asset_kind=kind,
        requirements=requirements,
        assessments=existing,
        at=at,
        zone=zone,
        validity=validity,
    )
    kinds = kinds_readiness(
        asset_kind=kind,
        requirements=requirements,
        assessments=existing,
        at=at,
        zone=zone,
        validity=validity,
    )
    return AsOf(at, fields, holders, readiness, kinds)
