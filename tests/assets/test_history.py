"""The as-of reconstruction (assets.history), pure: an asset's fields and status from its audit
trail, its holders from custody dates, its readiness from the assessments that existed then."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from registra.assets.history import asset_as_of, effective_at, fields_as_of, holders_as_of
from registra.core.timefmt import api_format

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
DAY = timedelta(days=1)
TOOLS = {"calibrated-tool": ["calibration"]}
CREATED = {
    "assetKey": "TW-1",
    "assetKind": "calibrated-tool",
    "displayName": "Torque wrench",
    "status": "active",
    "decommissionedAt": None,
    "assetSnapshot": {"location": "Hangar 1"},
}


@dataclass
class Event:
    seq: int
    occurred_at: datetime
    after: dict[str, Any]
    before: dict[str, Any] | None = field(default_factory=dict)
    action: str = "asset.updated"

    @property
    def diff(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after}


@dataclass
class Custody:
    holder: str
    started_at: datetime
    ended_at: datetime | None = None
    assignment_kind: str = "primary"


@dataclass
class Assessment:
    created_at: datetime
    performed_at: datetime | None
    valid_until: datetime | None
    readiness_state: str = "ready"
    status: str = "completed"
    assessment_kind: str = "calibration"


def _created(seq: int = 1, at: datetime = T0) -> Event:
    return Event(seq, at, dict(CREATED), before=None, action="asset.created")


def test_fields_replay_the_trail_up_to_the_moment() -> None:
    events = [
        _created(),
        Event(2, T0 + 2 * H, {"displayName": "Torque wrench TTi 60"}),
        Event(3, T0 + 4 * H, {"status": "inactive"}),
        Event(4, T0 + 5 * H, {"assetSnapshot": {"location": "Hangar 5"}}),
    ]
    at = lambda t: fields_as_of(events, created_at=T0, at=t)  # noqa: E731
    assert at(T0 - timedelta(seconds=1)) is None  # not registered yet
    assert at(T0) == CREATED
    assert at(T0 + 3 * H) == {**CREATED, "displayName": "Torque wrench TTi 60"}
    assert at(T0 + 4 * H)["status"] == "inactive"  # an event at that very moment counts
    assert at(T0 + 4 * H)["assetSnapshot"] == {"location": "Hangar 1"}
    assert at(T0 + DAY)["assetSnapshot"] == {"location": "Hangar 5"}


def test_a_history_load_counts_from_the_records_own_creation_time() -> None:
    # Loaded today, registered a year ago: the creation event takes effect a year ago.
    loaded = T0 + 365 * DAY
    events = [_created(at=loaded)]
    assert fields_as_of(events, created_at=T0, at=T0 + 30 * DAY) == CREATED
    assert effective_at(events[0], T0) == T0


def test_a_decommissioning_counts_from_its_own_date() -> None:
    recorded, when = T0 + 10 * DAY, T0 + 7 * DAY
    after = {"status": "decommissioned", "decommissionedAt": api_format(when)}
    events = [
        _created(),
        Event(2, recorded, after, before={"status": "active"}, action="asset.decommissioned"),
    ]
    assert fields_as_of(events, created_at=T0, at=when - H)["status"] == "active"
    assert fields_as_of(events, created_at=T0, at=when)["status"] == "decommissioned"
    assert fields_as_of(events, created_at=T0, at=recorded - H)["status"] == "decommissioned"


def test_events_of_one_instant_apply_in_the_chains_order() -> None:
    at = T0 + H
    events = [
        Event(3, at, {"displayName": "third"}),
        _created(),
        Event(2, at, {"displayName": "second"}),
    ]
    assert fields_as_of(events, created_at=T0, at=at)["displayName"] == "third"


def test_holders_at_a_handoff_instant_and_around_it() -> None:
    handoff = T0 + 5 * DAY
    tess = Custody("tess", T0, handoff)
    eddie = Custody("eddie", handoff)
    loan = Custody("ada", T0 + DAY, T0 + 6 * DAY, assignment_kind="loan")
    custody = [loan, eddie, tess]
    names = lambda t: [c.holder for c in holders_as_of(custody, t)]  # noqa: E731
    assert names(T0 - H) == []
    assert names(handoff - timedelta(microseconds=1)) == ["tess", "ada"]  # primary first
    assert names(handoff) == ["eddie", "ada"]  # the new holder holds it from the instant
    assert names(T0 + 7 * DAY) == ["eddie"]


def test_the_as_of_readiness_uses_what_existed_then_and_the_status_then() -> None:
    events = [_created(), Event(2, T0 + 20 * DAY, {"status": "inactive"})]
    assessments = [
        # performed on day 1, recorded on day 2, valid for 10 days
        Assessment(T0 + 2 * DAY, T0 + DAY, T0 + 11 * DAY),
    ]
    custody = [Custody("tess", T0 + DAY)]

    def state(t: datetime) -> tuple[str | None, list[str], list[str | None]]:
        as_of = asset_as_of(
            created_at=T0,
            events=events,
            custody=custody,
            assessments=assessments,
            requirements=TOOLS,
            at=t,
        )
        assert as_of.readiness is not None
        return as_of.readiness.state, as_of.readiness.reasons, [k.reason for k in as_of.kinds]

    never = "calibration never completed"
    assert state(T0 + DAY + H) == ("not-ready", [never], [never])  # not recorded yet
    assert state(T0 + 3 * DAY) == ("ready", [], [None])
    overdue = "calibration overdue since 2026-03-12"
    assert state(T0 + 15 * DAY) == ("not-ready", [overdue], [overdue])
    assert state(T0 + 21 * DAY) == ("not-ready", ["inactive"], [overdue])


def test_before_registration_there_are_no_fields_and_no_readiness() -> None:
    as_of = asset_as_of(
        created_at=T0,
        events=[_created()],
        custody=[],
        assessments=[],
        requirements=TOOLS,
        at=T0 - DAY,
    )
    assert (as_of.fields, as_of.readiness, as_of.primary, as_of.kinds) == (None, None, None, [])
