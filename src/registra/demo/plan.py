"""Plan the demo register: pure, seeded generation with no database access.

``RegisterPlanner(seed=..., anchor=...).asset(i)`` must be called for i = 0, 1, 2... in order:
one ``random.Random(seed)`` stream drives everything, so asset *i* depends only on the seed and
on *i* (never on how many assets are planned), and the same seed always gives the same keys,
names, statuses and counts. Times are offsets from ``anchor`` (the load time), so overdue and
due-soon stay meaningful whenever the demo is loaded.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from registra.demo import catalogue as cat
from registra.demo import snapshots as snap
from registra.demo.catalogue import EquipmentType

_T = TypeVar("_T")
DAY = timedelta(days=1)
YEARS_OF_HISTORY = 6
STATUSES = ("active", "inactive", "planned", "decommissioned")
STATUS_CUM = list(accumulate((74, 8, 7, 11)))
# Latest result of the required assessment: within validity, lapsed, failed, conditional, none.
OUTCOMES = ("current", "overdue", "failed", "conditional", "never")
OUTCOMES_CUM = list(accumulate((78, 12, 4, 3, 3)))
PAST_HOLDERS = (0, 1, 2, 3, 4)  # ended primary assignments before the current one
PAST_HOLDERS_CUM = list(accumulate((25, 30, 25, 12, 8)))
ASSESSMENT_CODES = {"calibration": "CAL", "inspection": "INSP", "security-review": "SEC"}
INSPECTORS = {
    "ground-support-equipment": "gse-workshop",
    "lifting-equipment": "lifting-inspection",
    "vehicle": "airside-fleet",
}
CUSTODIANS = {
    "ground-support-equipment": "gse-workshop",
    "lifting-equipment": "lifting-inspection",
    "vehicle": "airside-fleet",
    "it-system": "it-service-owner",
    "cloud-service": "it-service-owner",
}
CMMS_STATUS = {
    "active": "In Service",
    "inactive": "Unserviceable",
    "planned": "On Order",
    "decommissioned": "Scrapped",
}


@dataclass(frozen=True)
class Person:
    """A crew member: office staff or a technician (``technician`` may hold custody)."""

    email: str
    full_name: str
    role: str
    external_employee_id: str
    title: str
    technician: bool


def crew(slug: str) -> list[Person]:
    """The organization's people: the same crew for every seed (only the register varies)."""
    rng = random.Random("registra-demo-crew")
    pairs = [(f, last) for f in cat.FIRST_NAMES for last in cat.LAST_NAMES]
    names = rng.sample(pairs, len(cat.OFFICE) + cat.TECHNICIANS)
    titles = [(title, role, False) for title, role in cat.OFFICE]
    for n in range(cat.TECHNICIANS):
        if n < len(cat.TOOLBOXES):
            titles.append((f"Lead technician {cat.TOOLBOXES[n]}", "editor", True))
        else:
            trade = ("Aircraft technician (B1)", "Avionics technician (B2)", "Mechanic (A)")[n % 3]
            titles.append((trade, "viewer", True))
    return [
        Person(
            email=f"{first.lower()}.{last.lower()}@{slug}.example",
            full_name=f"{first} {last}",
            role=role,
            external_employee_id=f"E{10401 + n}",
            title=title,
            technician=technician,
        )
        for n, ((first, last), (title, role, technician)) in enumerate(
            zip(names, titles, strict=True)
        )
    ]


@dataclass
class CustodyPlan:
    """One custody assignment; ``holder`` is a crew email. ``ended_at`` None means active."""

    key: str
    kind: str
    holder: str
    started_at: datetime
    ended_at: datetime | None
    snapshot: dict[str, Any]


@dataclass
class AssessmentPlan:
    """One readiness assessment; ``performed_by`` is a responsibility key."""

    key: str
    kind: str
    state: str
    status: str
    performed_at: datetime | None
    valid_until: datetime | None
    performed_by: str | None
    posture: dict[str, Any]
    evidence: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass
class AssetPlan:
    """An asset spec for ``asset_bulk_create`` plus its history. ``custodian`` is a
    responsibility key; ``decommission`` is (when, disposal authorization) or None."""

    spec: dict[str, Any]
    final_status: str
    custodian: str | None
    custody: list[CustodyPlan] = field(default_factory=list)
    assessments: list[AssessmentPlan] = field(default_factory=list)
    decommission: tuple[datetime, str] | None = None

    @property
    def key(self) -> str:
        return str(self.spec["asset_key"])


# An assessment before it gets its key: (status, performed at, valid until, readiness state).
_Row = tuple[str, datetime | None, datetime | None, str]
# A custody assignment before it gets its key: (kind, holder, started at, ended at).
_Span = tuple[str, str, datetime, datetime | None]


@dataclass(frozen=True)
class _Life:
    created: datetime
    commissioned: datetime | None
    end: datetime  # decommissioning time, or the anchor while in service
    decommissioned: datetime | None


class RegisterPlanner:
    """Draws asset plans from one seeded stream (see the module docstring)."""

    def __init__(self, *, seed: int, anchor: datetime, slug: str) -> None:
        self.rng = random.Random(seed)
        self.seed, self.anchor, self.slug = seed, anchor, slug
        self.holders = [p.email for p in crew(slug) if p.technician]
        self._types_cum = list(accumulate(t.weight for t in cat.EQUIPMENT))

    def _pick(self, items: Sequence[_T], cum_weights: list[int]) -> _T:
        """``rng.choices(items, cum_weights=...)[0]``, the same draw without its overhead."""
        return items[bisect(cum_weights, self.rng.random() * cum_weights[-1], 0, len(items) - 1)]

    def _days(self, lo: float, hi: float) -> timedelta:
        return timedelta(days=self.rng.uniform(lo, hi))

    def asset(self, index: int) -> AssetPlan:
        """The plan of asset number ``index`` (0-based); call in order."""
        rng = self.rng
        t = self._pick(cat.EQUIPMENT, self._types_cum)
        status = STATUSES[index] if index < len(STATUSES) else self._status()
        key = f"{t.code}-{index + 1:06d}"
        make, model = rng.choice(t.makes)
        serial = "".join(c for c in make.upper() if c.isalpha())[:2] + f"{rng.randrange(10**7):07d}"
        life = self._life(status)
        location = rng.choice(cat.LOCATIONS[t.asset_kind])
        specs, full_scale = snap.specifications(rng, t, index)
        plan = AssetPlan(
            spec=self._spec(index, key, t, status, life, make, model, serial, location, specs),
            final_status=status,
            custodian=self._custodian(t),
        )
        if t.custody and status != "planned":
            plan.custody = self._custody(key, status, life, location)
        plan.assessments = self._assessments(key, t, status, life, full_scale)
        if life.decommissioned is not None:
            year = life.decommissioned.year
            why = rng.choice(cat.DISPOSALS)
            plan.decommission = (life.decommissioned, f"DA-{year}-{index + 1:06d} ({why})")
        return plan

    def _status(self) -> str:
        return self._pick(STATUSES, STATUS_CUM)

    def _life(self, status: str) -> _Life:
        a = self.anchor
        if status == "planned":
            return _Life(a - self._days(1, 120), None, a, None)
        created = a - self._days(60, YEARS_OF_HISTORY * 365)
        commissioned = created + self._days(0, 21)
        if status != "decommissioned":
            return _Life(created, commissioned, a, None)
        decommissioned = commissioned + self._days(30, (a - DAY - commissioned).days)
        return _Life(created, commissioned, decommissioned, decommissioned)

    def _custodian(self, t: EquipmentType) -> str | None:
        if self.rng.random() < 0.04:
            return None  # not yet allocated: the UI shows these as needing a custodian
        if t.asset_kind == "calibrated-tool":
            return f"toolbox-{self.rng.choice(cat.TOOLBOXES).lower()}"
        return CUSTODIANS[t.asset_kind]

    def _spec(
        self,
        index: int,
        key: str,
        t: EquipmentType,
        status: str,
        life: _Life,
        make: str,
        model: str,
        serial: str,
        location: str,
        specs: dict[str, Any],
    ) -> dict[str, Any]:
        rng = self.rng
        since = life.commissioned or life.created
        updated = since + (self.anchor - since) * rng.random()
        source_kind = self._source_kind(t, status)
        display = f"{t.label}, {make} {model}"
        return {
            "asset_key": key,
            "asset_kind": t.asset_kind,
            "display_name": display,
            "description": f"{t.label} ({make} {model}, S/N {serial}) at {location}.",
            "source_kind": source_kind,
            # Decommissioning is its own transition, recorded after the asset's history.
            "status": self._status_before(status),
            "commissioned_at": life.commissioned,
            "created_at": life.created,
            "updated_at": max(updated, life.created),
            "asset_snapshot": {
                "manufacturer": make,
                "model": model,
                "serialNumber": serial,
                "location": location,
                "specifications": specs,
                "acquisition": self._acquisition(index, life),
            },
            "classification_snapshot": snap.classification(t, life.created),
            "source_ref_snapshot": self._source_ref(index, source_kind, status, display, updated),
        }

    def _status_before(self, status: str) -> str:
        """Decommissioned assets are created in service; the transition is recorded after."""
        if status != "decommissioned":
            return status
        return "inactive" if self.rng.random() < 0.3 else "active"

    def _source_kind(self, t: EquipmentType, status: str) -> str:
        rng = self.rng
        if t.asset_kind == "cloud-service":
            return "manual"
        if t.code in ("SRV", "NSW", "PRN"):
            return "discovery-scan"
        if status == "planned" and rng.random() < 0.8:
            return "procurement-import"
        return "cmms-import" if rng.random() < 0.97 else "manual"

    def _acquisition(self, index: int, life: _Life) -> dict[str, Any]:
        rng = self.rng
        bought = life.created - self._days(0, 30)
        return {
            "date": bought.date().isoformat(),
            "supplier": rng.choice(("Aviation Tooling GmbH", "Tronair Europe", "Direct OEM")),
            "purchaseOrder": f"PO-{bought.year}-{index + 1:06d}",
            "costEur": round(rng.uniform(80, 60000), 2),
        }

    def _source_ref(
        self, index: int, source_kind: str, status: str, display: str, synced: datetime
    ) -> dict[str, Any]:
        if source_kind == "manual":
            return {}
        system = {
            "cmms-import": "AMOS",
            "procurement-import": "SAP S/4HANA",
            "discovery-scan": "Lansweeper",
        }[source_kind]
        external = f"EQ{index + 1:07d}"
        return {
            "sourceSystem": system,
            "externalId": external,
            "importRunId": f"demo-seed-{self.seed}",
            "lastSyncedAt": snap.iso(synced),
            "sourceRow": {
                "EQUIPMENT_NO": external,
                "DESCRIPTION": display[:60],
                "STATUS": CMMS_STATUS[status],
            },
        }

    # --- custody ---------------------------------------------------------------------------

    def _holder(self, other_than: str | None) -> str:
        while True:
            holder = self.rng.choice(self.holders)
            if holder != other_than:
                return holder

    def _custody(self, key: str, status: str, life: _Life, location: str) -> list[CustodyPlan]:
        """Past holders (handoffs at the same instant, or returns to stores with a gap), then
        the current primary holder for most assets in service."""
        rng, end = self.rng, life.end
        assert life.commissioned is not None
        start = life.commissioned + self._days(0, 5)
        spans: list[_Span] = []
        holder: str | None = None
        for _ in range(self._pick(PAST_HOLDERS, PAST_HOLDERS_CUM)):
            stop = start + self._days(14, 540)
            if stop >= end - DAY:
                break
            holder = self._holder(holder)
            spans.append(("primary", holder, start, stop))
            start = stop if rng.random() < 0.7 else stop + self._days(1, 60)
        keep = {"active": 0.88, "decommissioned": 0.6}.get(status, 0.0)
        if start < end and rng.random() < keep:
            holder = self._holder(holder)
            spans.append(("primary", holder, start, None))
        if status == "active" and rng.random() < 0.05:
            spans.append(self._extra(life, holder))
        return [
            CustodyPlan(
                key=f"{key}-C{n:02d}",
                kind=kind,
                holder=who,
                started_at=began,
                ended_at=ended,
                snapshot={"location": location, "conditionNotes": rng.choice(cat.CONDITION_NOTES)},
            )
            for n, (kind, who, began, ended) in enumerate(spans, start=1)
        ]

    def _extra(self, life: _Life, primary: str | None) -> _Span:
        """A loan (or a second driver) beside the primary holder."""
        assert life.commissioned is not None
        kind = "loan" if self.rng.random() < 0.7 else "secondary"
        began = max(self.anchor - self._days(1, 30), life.commissioned)
        ended = None if self.rng.random() < 0.6 else began + (self.anchor - began) / 2
        return kind, self._holder(primary), began, ended

    # --- readiness -------------------------------------------------------------------------

    def _assessments(
        self, key: str, t: EquipmentType, status: str, life: _Life, full_scale: float
    ) -> list[AssessmentPlan]:
        kinds = cat.READINESS_REQUIREMENTS.get(t.asset_kind, [])
        plans: list[AssessmentPlan] = []
        for kind in kinds:
            plans += self._history(key, t, kind, status, life, full_scale)
        return plans

    def _history(
        self, key: str, t: EquipmentType, kind: str, status: str, life: _Life, full_scale: float
    ) -> list[AssessmentPlan]:
        rng = self.rng
        rows: list[_Row] = []
        if status == "planned":
            if rng.random() < 0.5:
                rows.append(("scheduled", None, None, "unknown"))
        else:
            outcome = self._pick(OUTCOMES, OUTCOMES_CUM)
            rows += self._completed(outcome, t.interval_days, life)
            if status != "decommissioned":
                rows += self._open(outcome, rows, status)
        code = ASSESSMENT_CODES[kind]
        return [
            self._assessment(f"{key}-{code}-{n:02d}", t, kind, life, row, full_scale)
            for n, row in enumerate(rows, start=1)
        ]

    def _completed(self, outcome: str, interval: int, life: _Life) -> list[_Row]:
        """Completed results, oldest first; the last one carries the outcome."""
        assert life.commissioned is not None
        start, ref, period = life.commissioned, life.end, timedelta(days=interval)
        if outcome == "never":
            return []
        state = {"failed": "not-ready", "conditional": "conditionally-ready"}.get(outcome, "ready")
        if outcome == "current":
            performed = ref + self._days(1, interval) - period
        elif outcome == "overdue":
            performed = ref - self._days(1, 150) - period
        else:
            performed = ref - self._days(1, interval / 2)
        performed = max(performed, start + self._days(0, 3))
        valid = None if state == "not-ready" else performed + period
        rows: list[_Row] = [("completed", performed, valid, state)]
        for _ in range(self.rng.choice((0, 1, 1, 2, 2))):
            performed = performed - period - self._days(0, 20)
            if performed < start:
                break
            rows.append(("completed", performed, performed + period, "ready"))
        return rows[::-1]

    def _open(self, outcome: str, done: list[_Row], status: str) -> list[_Row]:
        """What is planned next: re-calibration when due soon, overdue, failed or never done."""
        rng = self.rng
        if status == "inactive" and rng.random() < 0.8:
            return []
        rows: list[_Row] = []
        if rng.random() < 0.02:
            rows.append(("cancelled", None, None, "unknown"))
        due_soon = bool(done) and done[-1][2] is not None and done[-1][2] - self.anchor < 45 * DAY
        chance = {"overdue": 0.55, "failed": 0.6, "never": 0.7}.get(outcome, 0.7 * due_soon)
        r = rng.random()
        if r < chance:
            in_progress = outcome == "overdue" and r < 0.15
            rows.append(("in-progress" if in_progress else "scheduled", None, None, "unknown"))
        return rows

    def _assessment(
        self,
        key: str,
        t: EquipmentType,
        kind: str,
        life: _Life,
        row: _Row,
        full_scale: float,
    ) -> AssessmentPlan:
        rng = self.rng
        status, performed, valid, state = row
        if performed is not None:
            created = performed + self._days(0, 0.5)
            created = min(created, self.anchor)
        else:
            created = max(self.anchor - self._days(1, 20), life.created)
        by = self._performer(t, kind)
        posture = snap.posture(rng, t, kind, state, valid, full_scale) if performed else {}
        if status in ("scheduled", "in-progress"):
            planned_for = self.anchor + self._days(1, 42)
            posture = {"plannedFor": planned_for.date().isoformat()}
        evidence = snap.evidence(rng, kind, by, performed) if performed else {}
        return AssessmentPlan(
            key=key,
            kind=kind,
            state=state,
            status=status,
            performed_at=performed,
            valid_until=valid,
            performed_by=by,
            posture=posture,
            evidence=evidence,
            created_at=created,
            updated_at=created,
        )

    def _performer(self, t: EquipmentType, kind: str) -> str:
        if kind == "calibration":
            return "calibration-lab" if self.rng.random() < 0.75 else "external-calibration"
        if kind == "security-review":
            return "information-security"
        return INSPECTORS[t.asset_kind]
