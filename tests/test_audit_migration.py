"""Migration core 0002 re-seals the plain SHA-256 chains written before keyed hashing, once, and
records it; a legacy chain that was already broken is left for verification to report."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction

from registra.core import audit
from registra.core.audit import GENESIS_HASH, canonical_content, verify_chain
from registra.core.models import AuditChainHead, AuditEvent
from tests.migrating import migrate, migrate_to_latest

INTACT = "org_01HZZZZZZZZZZZZZZZZZZZZZZA"
BROKEN = "org_01HZZZZZZZZZZZZZZZZZZZZZZB"
BEFORE = ("core", "0001_initial")
AFTER = ("core", "0002_audit_key")


@pytest.fixture
def legacy_apps(transactional_db: None) -> Iterator[Any]:
    """The schema as it was before 0002; the full schema is back afterwards, pass or fail."""
    try:
        yield migrate([BEFORE])
    finally:
        migrate_to_latest()


def _legacy_chain(apps: Any, org_id: str, count: int) -> list[Any]:
    """Events written the way 0001's code wrote them: ``sha256(prev_hash + canonical JSON)``."""
    Event = apps.get_model("core", "AuditEvent")
    start = datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC)
    prev, rows = GENESIS_HASH, []
    for seq in range(1, count + 1):
        row = Event(
            id=f"evt_legacy_{org_id[-1]}_{seq}",
            organization_id=org_id,
            seq=seq,
            occurred_at=start + timedelta(minutes=seq),
            actor_type="member",
            actor_id="user_01HZZZZZZZZZZZZZZZZZZZZZZA",
            actor_label="Ada Admin",
            action="asset.updated",
            subject_type="asset",
            subject_id=f"asset_{seq}",
            reason="Written before keyed audit hashes",
            diff={"before": {"displayName": f"Wrench {seq}"}, "after": {"displayName": "Fixed"}},
            prev_hash=prev,
            hash="",
        )
        row.hash = prev = hashlib.sha256(prev.encode() + b"\n" + canonical_content(row)).hexdigest()
        row.save(force_insert=True)
        rows.append(row)
    apps.get_model("core", "AuditChainHead").objects.create(
        organization_id=org_id, seq=count, hash=prev
    )
    return rows


def test_upgrade_reseals_an_intact_legacy_chain_and_records_it(legacy_apps, capfd) -> None:  # type: ignore[no-untyped-def]
    legacy = _legacy_chain(legacy_apps, INTACT, 3)

    migrate([AFTER])

    rows = list(AuditEvent.objects.filter(organization_id=INTACT).order_by("seq"))
    assert [r.id for r in rows[:3]] == [r.id for r in legacy]
    assert [(r.reason, r.diff) for r in rows[:3]] == [(r.reason, r.diff) for r in legacy]
    assert all(new.hash != old.hash for new, old in zip(rows, legacy, strict=False))
    assert verify_chain(INTACT) == audit.ChainReport(True, 4)
    resealed = rows[3]
    assert (resealed.action, resealed.actor_id) == ("audit.chain-resealed", "system:migrate")
    assert resealed.subject_id == INTACT
    assert resealed.diff == {
        "before": {"seq": 3, "headHash": legacy[-1].hash, "hashing": "sha256"},
        "after": {"seq": 3, "headHash": rows[2].hash, "hashing": "hmac-sha256"},
        "keyId": audit.audit_keys().key_id,
    }
    head = AuditChainHead.objects.get(organization_id=INTACT)
    assert (head.seq, head.hash, head.key_id) == (4, resealed.hash, audit.audit_keys().key_id)
    assert capfd.readouterr().err == ""

    # The re-sealed chain goes on like any other.
    with transaction.atomic():
        audit.record(
            organization_id=INTACT,
            actor=audit.Actor.system("tests"),
            reason="Recorded after the upgrade",
            action="asset.created",
            subject_type="asset",
            subject_id="asset_9",
        )
    assert verify_chain(INTACT) == audit.ChainReport(True, 5)


def test_upgrade_leaves_a_broken_legacy_chain_for_verify_to_report(legacy_apps, capfd) -> None:  # type: ignore[no-untyped-def]
    _legacy_chain(legacy_apps, INTACT, 2)
    broken = _legacy_chain(legacy_apps, BROKEN, 3)
    Event = legacy_apps.get_model("core", "AuditEvent")
    Event.objects.filter(id=broken[1].id).update(reason="Edited before the upgrade")

    migrate([AFTER])

    assert (
        f"audit chain of {BROKEN} was already broken before the upgrade" in capfd.readouterr().err
    )
    stored = list(AuditEvent.objects.filter(organization_id=BROKEN).order_by("seq"))
    assert [r.hash for r in stored] == [r.hash for r in broken]  # untouched, not laundered
    assert AuditChainHead.objects.get(organization_id=BROKEN).key_id == ""
    report = verify_chain(BROKEN)
    assert (report.ok, report.checked) == (False, 0)
    assert "not sealed with an audit key" in report.problem
    assert verify_chain(INTACT) == audit.ChainReport(True, 3)
