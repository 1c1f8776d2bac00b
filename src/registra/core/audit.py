"""Record audit events in the caller's transaction and verify an organization's chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from django.db import transaction

from registra.core import bulk
from registra.core.ids import new_id
from registra.core.models import AuditChainHead, AuditEvent
from registra.core.timefmt import api_format, now, to_micros

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who made a change: a member (``user_``), a service account (``svc_``) or a system job.

    The audit records ``kind``, ``id`` and ``label``. The rest says what the actor may do, and
    is read by ``registra.organizations.policy`` (build actors with its constructors): the
    organization it is bound to (None: the installation, for system jobs only), a member's role
    and membership status, a service account's scopes and status.
    """

    kind: str  # "member" | "service-account" | "system"
    id: str
    label: str = ""
    organization_id: str | None = None
    role: str = ""
    status: str = ""
    scopes: frozenset[str] = frozenset()

    @classmethod
    def system(cls, job: str, *, organization_id: str | None = None, label: str = "") -> Actor:
        return cls(
            kind="system", id=f"system:{job}", label=label or job, organization_id=organization_id
        )

    @property
    def job(self) -> str:
        """A system job's name (empty for members and service accounts)."""
        return self.id.removeprefix("system:") if self.kind == "system" else ""


@dataclass
class PendingEvent:
    """An event not yet chained: services build these, ``record_many`` appends them."""

    action: str
    subject_type: str
    subject_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


_SCALARS = frozenset({str, int, float, bool, type(None)})


# orjson hands these to _orjson_default instead of serializing them its own way.
_ORJSON_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _orjson_default(value: Any) -> Any:
    if type(value) is datetime:
        return api_format(value)
    if type(value) is date:
        return value.isoformat()
    if isinstance(value, str):  # status choices: JSON keeps only their text
        return str.__str__(value)
    raise TypeError  # anything else takes the exact path in jsonable


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a diff value (timestamps in API format, dates in ISO)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or kind is list:
        # A round trip through orjson gives the same copy as the walk below, many times faster
        # for large snapshots (only NaN and infinities become null, as JSON has no such values);
        # values it does not know (non-str keys, subclasses, other types) raise and take the walk.
        try:
            return orjson.loads(orjson.dumps(value, default=_orjson_default, option=_ORJSON_STRICT))
        except orjson.JSONEncodeError:
            pass
    return _jsonable_walk(value)


def _jsonable_walk(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, datetime):
        return api_format(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the fields that differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _canonical(event: AuditEvent) -> bytes:
    content = {
        "id": event.id,
        "organizationId": event.organization_id,
        "seq": event.seq,
        "occurredAt": to_micros(event.occurred_at),
        "actorType": event.actor_type,
        "actorId": event.actor_id,
        "actorLabel": event.actor_label,
        "action": event.action,
        "subjectType": event.subject_type,
        "subjectId": event.subject_id,
        "reason": event.reason,
        "diff": event.diff,
    }
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def event_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(event)).hexdigest()


_EVENT_COLUMNS = (
    "id",
    "organization_id",
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "reason",
    "diff",
    "prev_hash",
    "hash",
)
if tuple(f.attname for f in AuditEvent._meta.concrete_fields) != _EVENT_COLUMNS:
    raise RuntimeError("AuditEvent's columns changed: update _EVENT_COLUMNS and record_many")


def _locked_head(organization_id: str) -> AuditChainHead:
    head, _ = AuditChainHead.objects.get_or_create(
        organization_id=organization_id, defaults={"seq": 0, "hash": GENESIS_HASH}
    )
    return AuditChainHead.objects.select_for_update().get(pk=head.pk)


def record_many(
    *,
    organization_id: str,
    actor: Actor,
    reason: str,
    events: Sequence[PendingEvent],
    at: datetime | None = None,
) -> list[AuditEvent]:
    """Append events to the organization's chain. Must run inside the caller's transaction."""
    if not events:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events must be recorded inside the mutation's transaction")
    head = _locked_head(organization_id)
    occurred_at = at or now()
    label = actor.label[:300]
    rows: list[AuditEvent] = []
    seq, prev = head.seq, head.hash
    for pending in events:
        seq += 1
        diff: dict[str, Any] = {
            "before": jsonable(pending.before) if pending.before is not None else None,
            "after": jsonable(pending.after) if pending.after is not None else None,
        }
        if pending.extra:
            diff.update(jsonable(dict(pending.extra)))
        # Positional, in _EVENT_COLUMNS order: much cheaper than keywords for a large import.
        row = AuditEvent(
            new_id("evt"),
            organization_id,
            seq,
            occurred_at,
            actor.kind,
            actor.id,
            label,
            pending.action,
            pending.subject_type,
            pending.subject_id,
            reason,
            diff,
            prev,
            "",
        )
        row.hash = event_hash(prev, row)
        prev = row.hash
        rows.append(row)
    bulk.insert_many(AuditEvent, rows)
    head.seq, head.hash = seq, prev
    head.save(update_fields=["seq", "hash"])
    return rows


def record(
    *,
    organization_id: str,
    actor: Actor,
    reason: str,
    action: str,
    subject_type: str,
    subject_id: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event (see ``record_many``)."""
    pending = PendingEvent(action, subject_type, subject_id, before, after, extra or {})
    return record_many(
        organization_id=organization_id, actor=actor, reason=reason, events=[pending]
    )[0]


@dataclass(frozen=True)
class ChainReport:
    """The outcome of a verification: ``ok``, how many events were checked, the first bad one."""

    ok: bool
    checked: int
    bad_event_id: str | None = None
    bad_seq: int | None = None
    problem: str = ""


def _iter_events(organization_id: str) -> Iterable[AuditEvent]:
    return (
        AuditEvent.objects.filter(organization_id=organization_id)
        .order_by("seq")
        .iterator(chunk_size=5000)
    )


def verify_chain(organization_id: str) -> ChainReport:
    """Walk the chain in order; report the first edited, missing or reordered event."""
    prev, expected_seq, checked, last_id = GENESIS_HASH, 1, 0, None
    for event in _iter_events(organization_id):
        if event.seq != expected_seq:
            return ChainReport(
                False,
                checked,
                event.id,
                event.seq,
                f"event {event.id} has sequence {event.seq}, expected {expected_seq}: "
                "an earlier event was deleted",
            )
        if event.prev_hash != prev:
            return ChainReport(
                False,
                checked,
                event.id,
                event.seq,
                f"event {event.id} (sequence {event.seq}) does not follow the previous event: "
                "events were reordered or removed",
            )
        if event_hash(prev, event) != event.hash:
            return ChainReport(
                False,
                checked,
                event.id,
                event.seq,
                f"event {event.id} (sequence {event.seq}) was edited: its content no longer "
                "matches its hash",
            )
        prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
        last_id = event.id
    head = AuditChainHead.objects.filter(organization_id=organization_id).first()
    if head is not None and head.seq != checked:
        return ChainReport(
            False,
            checked,
            None,
            checked + 1,
            f"the chain ends at sequence {checked} but the head records {head.seq}: "
            "the latest events were deleted",
        )
    if head is not None and head.hash != prev:
        # The walk itself was consistent, so the last event was edited and re-hashed.
        return ChainReport(
            False,
            checked,
            last_id,
            checked,
            f"event {last_id} (sequence {checked}) was edited: it no longer matches the hash "
            "the chain head recorded",
        )
    return ChainReport(True, checked)
