"""The audit chain: ``record`` / ``record_many`` append hash-linked events per organization, and
``verify_chain`` finds any edited, deleted or reordered event. Tampering is simulated the way an
intruder with database access would do it: ``QuerySet.update`` and ``delete`` on the rows.
Checkpoints are in ``test_audit_checkpoints.py``."""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from django.db import transaction
from django.test import override_settings

from registra.assets import services as asset_services
from registra.core import audit
from registra.core.audit import (
    GENESIS_HASH,
    Actor,
    PendingEvent,
    audit_keys,
    canonical_content,
    event_hash,
    verify_chain,
)
from registra.core.models import AuditChainHead, AuditEvent
from tests.cast import SYSTEM, calibrate, make_asset

ORG = "org_01HZZZZZZZZZZZZZZZZZZZZZZA"
OTHER_ORG = "org_01HZZZZZZZZZZZZZZZZZZZZZZB"
ADA = Actor(kind="member", id="user_01HZZZZZZZZZZZZZZZZZZZZZZA", label="Ada Admin")
REASON = "Recorded by the audit chain tests"


def _append(org_id: str, count: int) -> list[AuditEvent]:
    return [
        audit.record(
            organization_id=org_id,
            actor=ADA,
            reason=REASON,
            action="asset.updated",
            subject_type="asset",
            subject_id=f"asset_{i}",
            before={"displayName": f"Torque wrench {i}"},
            after={"displayName": f"Torque wrench {i} (recalibrated)"},
        )
        for i in range(count)
    ]


def _rows(org_id: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization_id=org_id).order_by("seq"))


def _head(org_id: str) -> AuditChainHead:
    return AuditChainHead.objects.get(organization_id=org_id)


# --- record ----------------------------------------------------------------------------------


def test_record_appends_the_first_event_after_the_genesis_hash(db):
    event = audit.record(
        organization_id=ORG,
        actor=ADA,
        reason=REASON,
        action="asset.created",
        subject_type="asset",
        subject_id="asset_1",
        after={"assetKey": "TW-001"},
    )

    assert event.seq == 1
    assert event.prev_hash == GENESIS_HASH
    assert event.id.startswith("evt_")
    [row] = _rows(ORG)
    assert row.id == event.id
    assert (row.actor_type, row.actor_id, row.actor_label) == ("member", ADA.id, "Ada Admin")
    assert (row.action, row.subject_type, row.subject_id) == ("asset.created", "asset", "asset_1")
    assert row.reason == REASON
    assert row.diff == {"before": None, "after": {"assetKey": "TW-001"}}
    # The stored hash is reproducible from the row as the database gives it back, and it is
    # the HMAC of the previous hash and the canonical content under the chain key.
    assert row.hash == event.hash == event_hash(GENESIS_HASH, row)
    message = GENESIS_HASH.encode() + b"\n" + canonical_content(row)
    assert row.hash == hmac.new(audit_keys().chain, message, hashlib.sha256).hexdigest()
    assert row.hash != hashlib.sha256(message).hexdigest()
    head = _head(ORG)
    assert (head.seq, head.hash, head.key_id) == (1, row.hash, audit_keys().key_id)


def test_record_links_each_event_to_the_previous_hash(db):
    first, second, third = _append(ORG, 3)

    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    assert [r.hash for r in _rows(ORG)] == [first.hash, second.hash, third.hash]
    assert (_head(ORG).seq, _head(ORG).hash) == (3, third.hash)
    assert verify_chain(ORG).ok


def test_record_stores_a_json_safe_diff_with_extra_fields(db):
    at = datetime(2026, 5, 25, 14, 8, 33, 123456, tzinfo=UTC)
    event = audit.record(
        organization_id=ORG,
        actor=SYSTEM,
        reason=REASON,
        action="readiness.completed",
        subject_type="readiness-assessment",
        subject_id="asrdy_1",
        before={"performedAt": None, "limits": ("low", "high")},
        after={"performedAt": at, "dueOn": date(2026, 11, 25)},
        extra={"notes": {"measuredAt": at}},
    )

    expected = {
        "before": {"performedAt": None, "limits": ["low", "high"]},
        "after": {"performedAt": "2026-05-25T14:08:33.123Z", "dueOn": "2026-11-25"},
        "notes": {"measuredAt": "2026-05-25T14:08:33.123Z"},
    }
    assert event.diff == expected
    row = AuditEvent.objects.get(id=event.id)
    assert row.diff == expected
    assert (row.actor_type, row.actor_id) == ("system", "system:tests")
    assert verify_chain(ORG).ok


def test_record_truncates_a_long_actor_label_and_still_verifies(db):
    long_label = Actor(kind="member", id=ADA.id, label="A" * 400)

    event = audit.record(
        organization_id=ORG,
        actor=long_label,
        reason=REASON,
        action="member.joined",
        subject_type="member",
        subject_id=ADA.id,
    )

    assert len(event.actor_label) == 300
    assert AuditEvent.objects.get(id=event.id).actor_label == "A" * 300
    assert verify_chain(ORG).ok


def test_record_many_appends_in_order_at_one_instant(db):
    _append(ORG, 1)
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    events = [
        PendingEvent("asset.created", "asset", f"asset_{i}", None, {"assetKey": f"TW-{i}"})
        for i in range(3)
    ]

    rows = audit.record_many(organization_id=ORG, actor=ADA, reason=REASON, events=events, at=at)

    assert [r.seq for r in rows] == [2, 3, 4]
    assert [r.subject_id for r in rows] == ["asset_0", "asset_1", "asset_2"]
    stored = _rows(ORG)[1:]
    assert [r.id for r in stored] == [r.id for r in rows]
    assert {r.occurred_at for r in stored} == {at}
    assert {(r.action, r.actor_id, r.reason) for r in stored} == {("asset.created", ADA.id, REASON)}
    assert [r.diff["after"] for r in stored] == [{"assetKey": f"TW-{i}"} for i in range(3)]
    assert _head(ORG).seq == 4
    assert verify_chain(ORG) == audit.ChainReport(True, 4)


def test_record_many_with_no_events_writes_nothing(db):
    assert audit.record_many(organization_id=ORG, actor=ADA, reason=REASON, events=[]) == []
    assert _rows(ORG) == []
    assert not AuditChainHead.objects.filter(organization_id=ORG).exists()


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the mutation's transaction"):
        audit.record(
            organization_id=ORG,
            actor=ADA,
            reason=REASON,
            action="asset.created",
            subject_type="asset",
            subject_id="asset_1",
        )
    assert _rows(ORG) == []

    with transaction.atomic():
        _append(ORG, 1)
    assert len(_rows(ORG)) == 1


def test_chains_are_kept_per_organization(db):
    ours = _append(ORG, 2)
    theirs = _append(OTHER_ORG, 1)
    ours += _append(ORG, 1)

    assert [e.seq for e in ours] == [1, 2, 3]
    assert [e.seq for e in theirs] == [1]
    assert theirs[0].prev_hash == GENESIS_HASH
    assert ours[2].prev_hash == ours[1].hash
    assert verify_chain(ORG) == audit.ChainReport(True, 3)
    assert verify_chain(OTHER_ORG) == audit.ChainReport(True, 1)


# --- verify_chain: intact chains -------------------------------------------------------------


def test_verify_an_organization_without_events(db):
    assert verify_chain(ORG) == audit.ChainReport(True, 0)


def test_verify_the_events_real_services_wrote(cast):
    asset = make_asset(
        cast.org,
        "TW-1001",
        asset_snapshot={"manufacturer": "Prüfwerk GmbH", "specifications": {"rangeNm": 12.5}},
    )
    calibrate(cast.org, asset)
    asset_services.asset_update(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason="Typo in the display name fixed",
        asset_id=asset.id,
        display_name="Torque wrench 12.5 Nm — bay 3",
    )

    report = verify_chain(cast.org.id)

    assert report.ok, report.problem
    assert report.checked == AuditEvent.objects.filter(organization_id=cast.org.id).count()
    assert report.checked == _head(cast.org.id).seq
    assert verify_chain(cast.other_org.id).ok


# --- verify_chain: tampering -----------------------------------------------------------------


def _five(org_id: str = ORG) -> list[AuditEvent]:
    events = _append(org_id, 5)
    assert verify_chain(org_id).ok
    return events


def test_verify_detects_an_edited_reason(db):
    events = _five()
    AuditEvent.objects.filter(id=events[2].id).update(reason="Nothing to see here, move along")

    report = verify_chain(ORG)

    assert not report.ok
    assert (report.bad_event_id, report.bad_seq, report.checked) == (events[2].id, 3, 2)
    assert "edited" in report.problem


def test_verify_detects_an_edited_diff(db):
    events = _five()
    AuditEvent.objects.filter(id=events[0].id).update(
        diff={"before": None, "after": {"displayName": "Forged"}}
    )

    report = verify_chain(ORG)

    assert not report.ok
    assert (report.bad_event_id, report.bad_seq) == (events[0].id, 1)
    assert "edited" in report.problem


def test_verify_detects_an_edited_actor(db):
    events = _five()
    AuditEvent.objects.filter(id=events[4].id).update(actor_id="user_SOMEONEELSE")

    report = verify_chain(ORG)

    assert (report.ok, report.bad_event_id, report.bad_seq) == (False, events[4].id, 5)


def test_verify_detects_an_edited_event_whose_hash_was_recomputed(db):
    events = _five()
    forged = AuditEvent.objects.get(id=events[1].id)
    forged.reason = "A forged reason, re-hashed"
    AuditEvent.objects.filter(id=forged.id).update(
        reason=forged.reason, hash=event_hash(forged.prev_hash, forged)
    )

    report = verify_chain(ORG)

    # The forged event itself now hashes correctly, but the next one no longer follows it.
    assert (report.ok, report.bad_event_id, report.bad_seq) == (False, events[2].id, 3)
    assert "does not follow" in report.problem


def test_verify_detects_an_edited_last_event_whose_hash_was_recomputed(db):
    events = _five()
    forged = AuditEvent.objects.get(id=events[4].id)
    forged.reason = "A forged reason, re-hashed"
    AuditEvent.objects.filter(id=forged.id).update(
        reason=forged.reason, hash=event_hash(forged.prev_hash, forged)
    )

    report = verify_chain(ORG)

    # Only the chain head still remembers the real hash of the last event.
    assert not report.ok
    assert (report.bad_event_id, report.bad_seq, report.checked) == (events[4].id, 5, 5)
    assert "edited" in report.problem


def test_verify_detects_a_deleted_event_in_the_middle(db):
    events = _five()
    AuditEvent.objects.filter(id=events[2].id).delete()

    report = verify_chain(ORG)

    assert not report.ok
    assert (report.bad_event_id, report.bad_seq, report.checked) == (events[3].id, 4, 2)
    assert "deleted" in report.problem


def test_verify_detects_a_deleted_first_event(db):
    events = _five()
    AuditEvent.objects.filter(id=events[0].id).delete()

    report = verify_chain(ORG)

    assert (report.ok, report.bad_event_id, report.bad_seq) == (False, events[1].id, 2)


def test_verify_detects_a_deleted_middle_event_with_later_events_renumbered(db):
    events = _five()
    AuditEvent.objects.filter(id=events[2].id).delete()
    for e in events[3:]:
        AuditEvent.objects.filter(id=e.id).update(seq=e.seq - 1)
    AuditChainHead.objects.filter(organization_id=ORG).update(seq=4)

    report = verify_chain(ORG)

    assert (report.ok, report.bad_event_id, report.bad_seq) == (False, events[3].id, 3)
    assert "does not follow" in report.problem


def test_verify_detects_a_deleted_last_event(db):
    events = _five()
    AuditEvent.objects.filter(id=events[4].id).delete()

    report = verify_chain(ORG)

    assert not report.ok
    assert (report.checked, report.bad_seq) == (4, 5)
    assert "deleted" in report.problem


def test_verify_detects_the_last_two_events_deleted(db):
    _five()
    AuditEvent.objects.filter(organization_id=ORG, seq__gte=4).delete()

    report = verify_chain(ORG)

    assert (report.ok, report.checked, report.bad_seq) == (False, 3, 4)
    assert "head records 5" in report.problem


def test_verify_detects_every_event_deleted(db):
    _five()
    AuditEvent.objects.filter(organization_id=ORG).delete()

    report = verify_chain(ORG)

    assert (report.ok, report.checked, report.bad_seq) == (False, 0, 1)


def test_verify_detects_two_events_with_swapped_sequence_numbers(db):
    events = _five()
    second, third = events[1], events[2]
    # (organization_id, seq) is unique, so the swap goes through a free number.
    AuditEvent.objects.filter(id=second.id).update(seq=-1)
    AuditEvent.objects.filter(id=third.id).update(seq=2)
    AuditEvent.objects.filter(id=second.id).update(seq=3)

    report = verify_chain(ORG)

    assert not report.ok
    assert (report.bad_event_id, report.bad_seq, report.checked) == (third.id, 2, 1)
    assert "reordered" in report.problem


def test_verify_detects_swapped_content_of_two_events(db):
    events = _five()
    a, b = (AuditEvent.objects.get(id=e.id) for e in events[1:3])
    fields = ("subject_id", "diff", "hash", "prev_hash")
    AuditEvent.objects.filter(id=a.id).update(**{f: getattr(b, f) for f in fields})
    AuditEvent.objects.filter(id=b.id).update(**{f: getattr(a, f) for f in fields})

    report = verify_chain(ORG)

    assert (report.ok, report.bad_seq) == (False, 2)


def test_tampering_with_one_organization_leaves_the_other_verifiable(db):
    ours = _five(ORG)
    _five(OTHER_ORG)
    AuditEvent.objects.filter(id=ours[1].id).update(reason="Edited by an intruder")

    assert not verify_chain(ORG).ok
    assert verify_chain(OTHER_ORG) == audit.ChainReport(True, 5)


def test_appending_after_verification_keeps_the_chain_valid(db):
    _five()
    assert verify_chain(ORG).ok
    later = _append(ORG, 2)

    assert [e.seq for e in later] == [6, 7]
    assert verify_chain(ORG) == audit.ChainReport(True, 7)


# --- verify_chain: an intruder without the audit key ------------------------------------------

OTHER_KEY = "an-audit-key-the-intruder-made-up-" + "z" * 10


def _plain_sha256(prev_hash: str, event: AuditEvent) -> str:
    # The chain's rule before it was keyed: anyone with the database could recompute it.
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_content(event)).hexdigest()


def _wrong_key_hmac(prev_hash: str, event: AuditEvent) -> str:
    with override_settings(REGISTRA_AUDIT_KEY=OTHER_KEY):
        return event_hash(prev_hash, event)


def _rewrite_from(seq: int, hasher: Callable[[str, AuditEvent], str], reason: str) -> None:
    """Edit the event at ``seq`` and recompute every later hash and the head with ``hasher``."""
    rows = _rows(ORG)
    prev = rows[seq - 2].hash if seq > 1 else GENESIS_HASH
    for row in rows[seq - 1 :]:
        if row.seq == seq:
            row.reason = reason
        row.prev_hash, row.hash = prev, hasher(prev, row)
        prev = row.hash
        AuditEvent.objects.filter(id=row.id).update(
            reason=row.reason, prev_hash=row.prev_hash, hash=row.hash
        )
    AuditChainHead.objects.filter(organization_id=ORG).update(hash=prev)


@pytest.mark.parametrize("hasher", [_plain_sha256, _wrong_key_hmac], ids=["sha256", "wrong-key"])
@pytest.mark.parametrize("seq", [1, 3, 5])
def test_verify_detects_an_edit_rehashed_without_the_key(hasher, seq, db):  # type: ignore[no-untyped-def]
    events = _five()

    _rewrite_from(seq, hasher, "A forged reason, the whole tail re-hashed")

    # The forgery is self-consistent: every prev_hash links and the head matches the tail.
    rows = _rows(ORG)
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert _head(ORG).hash == rows[-1].hash
    report = verify_chain(ORG)
    assert not report.ok
    assert (report.bad_event_id, report.bad_seq, report.checked) == (
        events[seq - 1].id,
        seq,
        seq - 1,
    )
    assert "was edited" in report.problem and "keyed hash" in report.problem


def test_verify_refuses_a_chain_rewritten_unkeyed_with_its_head_unmarked(db):
    # Rewriting the whole chain with plain SHA-256 and clearing the head's key id (as a chain
    # from before keyed hashing looks) does not make it verify either.
    _five()
    _rewrite_from(1, _plain_sha256, "A forged reason, the whole chain re-hashed")
    AuditChainHead.objects.filter(organization_id=ORG).update(key_id="")

    report = verify_chain(ORG)

    assert (report.ok, report.checked) == (False, 0)
    assert "not sealed with an audit key" in report.problem


def test_verify_with_another_audit_key_names_both_key_ids(db):
    _five()
    real = audit_keys().key_id

    with override_settings(REGISTRA_AUDIT_KEY=OTHER_KEY):
        report = verify_chain(ORG)
        other = audit_keys().key_id

    assert real != other
    assert (report.ok, report.checked) == (False, 0)
    assert f"sealed with audit key {real} but the configured key is {other}" in report.problem
    assert verify_chain(ORG).ok


def test_events_written_under_a_changed_key_do_not_verify_under_either_key(db, caplog):  # type: ignore[no-untyped-def]
    _append(ORG, 2)
    real = audit_keys().key_id
    assert not [r for r in caplog.records if r.name == "registra.audit"]
    with override_settings(REGISTRA_AUDIT_KEY=OTHER_KEY):
        _append(ORG, 1)
        [logged] = [r for r in caplog.records if r.name == "registra.audit"]
        assert logged.levelname == "ERROR"
        assert logged.getMessage() == (
            f"audit chain of {ORG} was sealed with audit key {real} but this process has key "
            f"{audit_keys().key_id}: REGISTRA_AUDIT_KEY differs between processes or was changed"
        )
        # The head now names the new key, so the walk runs and finds the old events.
        report = verify_chain(ORG)
    assert (report.ok, report.bad_seq) == (False, 1)
    assert "keyed hash" in report.problem
    assert "configured key is" in verify_chain(ORG).problem
