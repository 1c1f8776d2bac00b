"""Record audit events in the caller's transaction and verify an organization's chain.

Each event's hash is an HMAC-SHA256 over the previous hash and the event's canonical content,
keyed with a key derived from ``settings.REGISTRA_AUDIT_KEY``, which is never stored in the
database: someone who can write to the database but does not hold the key cannot re-hash an
edited chain so that it verifies. Checkpoints (``core/checkpoints.py``) pin a chain's head
outside the database. Decision record 0005.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from registra.core import bulk
from registra.core.ids import new_id
from registra.core.models import AuditChainHead, AuditEvent
from registra.core.timefmt import api_format, now, to_micros

GENESIS_HASH = "0" * 64
logger = logging.getLogger("registra.audit")

# What every event recorded in this context also carries (``annotated``).
_ANNOTATIONS: ContextVar[Mapping[str, Any]] = ContextVar(
    "audit_annotations", default=MappingProxyType({})
)


@contextmanager
def annotated(**extra: Any) -> Iterator[None]:
    """Every event recorded inside this block carries ``extra`` in its diff (an import run
    applying its plan through the services: each event names the run), besides its own."""
    token = _ANNOTATIONS.set({**_ANNOTATIONS.get(), **extra})
    try:
        yield
    finally:
        _ANNOTATIONS.reset(token)


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


@dataclass(frozen=True)
class AuditKeys:
    """The keys derived from the audit key: one seals the chains, one signs checkpoints, and
    ``key_id`` names the audit key in the database and in checkpoints without revealing it."""

    chain: bytes
    checkpoint: bytes
    key_id: str


@lru_cache(maxsize=4)
def _derive_keys(audit_key: str) -> AuditKeys:
    # HMAC as a pseudo-random function with a distinct label per use: a checkpoint signature can
    # never be replayed as a chain hash or the other way round.
    def derive(label: bytes) -> bytes:
        return hmac.digest(audit_key.encode(), label, "sha256")

    return AuditKeys(
        chain=derive(b"registra.audit.chain.v1"),
        checkpoint=derive(b"registra.audit.checkpoint.v1"),
        key_id=derive(b"registra.audit.key-id.v1").hex()[:16],
    )


def audit_keys() -> AuditKeys:
    """The keys for the configured ``REGISTRA_AUDIT_KEY`` (read each call: tests override it)."""
    return _derive_keys(settings.REGISTRA_AUDIT_KEY)


def warn_about_a_host_local_key() -> None:
    """Warn at start-up when PostgreSQL is used with the key generated into this host's data
    directory: another host would seal the same chains with a key of its own."""
    key_file = settings.REGISTRA_AUDIT_KEY_FILE
    if key_file and settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        logger.warning(
            "REGISTRA_AUDIT_KEY is not set: the audit chains are sealed with the key generated "
            "into %s on this host only; set REGISTRA_AUDIT_KEY to the same value on every host",
            key_file,
        )


def canonical_content(event: AuditEvent) -> bytes:
    """The bytes an event's hash covers, besides the previous hash: every column but the hashes."""
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


def event_hash(prev_hash: str, event: AuditEvent, *, key: bytes | None = None) -> str:
    """The keyed hash that seals ``event`` after ``prev_hash`` (the chain key unless given)."""
    message = prev_hash.encode() + b"\n" + canonical_content(event)
    return hmac.digest(key or audit_keys().chain, message, "sha256").hex()


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
        organization_id=organization_id,
        defaults={"seq": 0, "hash": GENESIS_HASH, "key_id": audit_keys().key_id},
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
    keys = audit_keys()
    occurred_at = at or now()
    label = actor.label[:300]
    rows: list[AuditEvent] = []
    seq, prev = head.seq, head.hash
    annotations = _ANNOTATIONS.get()
    for pending in events:
        seq += 1
        diff: dict[str, Any] = {
            "before": jsonable(pending.before) if pending.before is not None else None,
            "after": jsonable(pending.after) if pending.after is not None else None,
        }
        if pending.extra or annotations:
            diff.update(jsonable({**annotations, **pending.extra}))
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
        row.hash = event_hash(prev, row, key=keys.chain)
        prev = row.hash
        rows.append(row)
    bulk.insert_many(AuditEvent, rows)
    if head.key_id != keys.key_id and head.seq:
        # Not refused, so the register keeps working, but the chain no longer verifies under
        # either key from here on: say so at once (decision record 0005).
        logger.error(
            "audit chain of %s was sealed with audit key %s but this process has key %s: "
            "REGISTRA_AUDIT_KEY differs between processes or was changed",
            organization_id,
            head.key_id or "(none)",
            keys.key_id,
        )
    head.seq, head.hash, head.key_id = seq, prev, keys.key_id
    head.save(update_fields=["seq", "hash", "key_id"])
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


def head_seq(organization_id: str) -> int:
    """The organization's last audit sequence number (0 before its first event): a plan made
    now can later ask what changed since (``count_since``)."""
    head = AuditChainHead.objects.filter(organization_id=organization_id).first()
    return head.seq if head else 0


def count_since(
    organization_id: str, seq: int, *, subject_types: Iterable[str], actions: Iterable[str]
) -> int:
    """How many events after ``seq`` are about these subject types or are these actions."""
    later = AuditEvent.objects.filter(organization_id=organization_id, seq__gt=seq)
    return later.filter(
        Q(subject_type__in=list(subject_types)) | Q(action__in=list(actions))
    ).count()


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


def _key_problem(organization_id: str, keys: AuditKeys) -> str:
    """Why this chain cannot be verified with the configured key at all, or ``""``."""
    head = AuditChainHead.objects.filter(organization_id=organization_id).first()
    if head is None or head.key_id == keys.key_id:
        return ""
    if not head.key_id:
        return (
            "the chain is not sealed with an audit key: it was written before keyed hashing and "
            "was not re-sealed at the upgrade because it was already broken, or its head was edited"
        )
    return (
        f"the chain was sealed with audit key {head.key_id} but the configured key is "
        f"{keys.key_id}: REGISTRA_AUDIT_KEY is not the key this chain was written with "
        "(the key is wrong, or was lost or changed)"
    )


def verify_chain(organization_id: str, *, contains: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain in order; report the first edited, missing or reordered event.

    ``contains`` is a (sequence, hash) pair from a checkpoint: the chain must still hold that
    event with that hash, so a tail deleted with the head rolled back is caught too."""
    keys = audit_keys()
    if problem := _key_problem(organization_id, keys):
        return ChainReport(False, 0, None, None, problem)
    prev, expected_seq, checked, last_id = GENESIS_HASH, 1, 0, None
    for event in _iter_events(organization_id):
        problem = _event_problem(event, expected_seq, prev, keys.chain)
        if not problem and contains is not None and event.seq == contains[0]:
            problem = _checkpoint_problem(event, contains[1])
        if problem:
            return ChainReport(False, checked, event.id, event.seq, problem)
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
    if contains is not None and checked < contains[0]:
        return ChainReport(
            False,
            checked,
            None,
            checked + 1,
            f"the chain ends at sequence {checked} but the checkpoint recorded sequence "
            f"{contains[0]}: the latest events were deleted and the chain head rolled back",
        )
    return ChainReport(True, checked)


def _event_problem(event: AuditEvent, expected_seq: int, prev: str, chain_key: bytes) -> str:
    if event.seq != expected_seq:
        return (
            f"event {event.id} has sequence {event.seq}, expected {expected_seq}: "
            "an earlier event was deleted"
        )
    if event.prev_hash != prev:
        return (
            f"event {event.id} (sequence {event.seq}) does not follow the previous event: "
            "events were reordered or removed"
        )
    if not hmac.compare_digest(event_hash(prev, event, key=chain_key), event.hash):
        return (
            f"event {event.id} (sequence {event.seq}) was edited: its content no longer "
            "matches its keyed hash"
        )
    return ""


def _checkpoint_problem(event: AuditEvent, checkpoint_hash: str) -> str:
    if hmac.compare_digest(event.hash, checkpoint_hash):
        return ""
    return (
        f"event {event.id} (sequence {event.seq}) has hash {event.hash} but the checkpoint "
        f"recorded {checkpoint_hash}: the chain was rewritten after the checkpoint"
    )
