"""Keyed audit chains: every chain written with plain SHA-256 is re-sealed under the audit key.

Run once at the upgrade (decision record 0005). Each organization's legacy chain is verified
first, with the SHA-256 rule it was written under; an intact chain is re-sealed (each hash
recomputed as an HMAC with the audit key) and an ``audit.chain-resealed`` event records the
legacy head it vouches for. A chain that is already broken is left as it is, without a key id,
so that ``registra audit verify`` keeps reporting it rather than the upgrade laundering it.
"""

import hashlib
import sys

from django.db import migrations, models

BATCH = 2000
REASON = "Upgrade to keyed audit hashes: the intact legacy chain was re-sealed (migration core 0002)"


def _legacy_problem(Event, head):
    """The plain SHA-256 verification of the chain as written before this migration."""
    from registra.core.audit import GENESIS_HASH, canonical_content

    prev, expected = GENESIS_HASH, 1
    events = Event.objects.filter(organization_id=head.organization_id).order_by("seq")
    for event in events.iterator(chunk_size=BATCH):
        digest = hashlib.sha256(prev.encode() + b"\n" + canonical_content(event)).hexdigest()
        if event.seq != expected or event.prev_hash != prev or event.hash != digest:
            return f"event {event.id} (sequence {event.seq}) is out of the chain or edited"
        prev, expected = event.hash, expected + 1
    if (head.seq, head.hash) != (expected - 1, prev):
        return f"the head records sequence {head.seq} but the chain ends at {expected - 1}"
    return ""


def _reseal(Event, head, keys, connection):
    from registra.core.audit import GENESIS_HASH, event_hash

    qn = connection.ops.quote_name
    update = (
        f"UPDATE {qn(Event._meta.db_table)} SET {qn('prev_hash')} = %s, {qn('hash')} = %s "
        f"WHERE {qn('id')} = %s"
    )
    prev, last_seq = GENESIS_HASH, 0
    events = Event.objects.filter(organization_id=head.organization_id).order_by("seq")
    with connection.cursor() as cursor:
        while batch := list(events.filter(seq__gt=last_seq)[:BATCH]):
            sealed = []
            for event in batch:
                hashed = event_hash(prev, event, key=keys.chain)
                sealed.append((prev, hashed, event.id))
                prev = hashed
            cursor.executemany(update, sealed)
            last_seq = batch[-1].seq
    return prev


def _record_reseal(Event, head, keys, resealed_head):
    from registra.core.audit import Actor, event_hash
    from registra.core.ids import new_id
    from registra.core.timefmt import now

    actor = Actor.system("migrate")
    event = Event(
        id=new_id("evt"),
        organization_id=head.organization_id,
        seq=head.seq + 1,
        occurred_at=now(),
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action="audit.chain-resealed",
        subject_type="audit-chain",
        subject_id=head.organization_id,
        reason=REASON,
        diff={
            "before": {"seq": head.seq, "headHash": head.hash, "hashing": "sha256"},
            "after": {"seq": head.seq, "headHash": resealed_head, "hashing": "hmac-sha256"},
            "keyId": keys.key_id,
        },
        prev_hash=resealed_head,
        hash="",
    )
    event.hash = event_hash(resealed_head, event, key=keys.chain)
    event.save(force_insert=True)
    head.seq, head.hash, head.key_id = event.seq, event.hash, keys.key_id
    head.save(update_fields=["seq", "hash", "key_id"])


def reseal_legacy_chains(apps, schema_editor):
    from registra.core.audit import audit_keys

    Event = apps.get_model("core", "AuditEvent")
    Head = apps.get_model("core", "AuditChainHead")
    keys = audit_keys()
    for head in Head.objects.select_for_update().order_by("organization_id"):
        problem = _legacy_problem(Event, head)
        if problem:
            print(
                f"audit chain of {head.organization_id} was already broken before the upgrade "
                f"({problem}); it is left unsealed and `registra audit verify` reports it",
                file=sys.stderr,
            )
            continue
        _record_reseal(Event, head, keys, _reseal(Event, head, keys, schema_editor.connection))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditchainhead",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        # Not reversible in substance: 0001's code cannot verify keyed hashes. Going back only
        # drops the key id column.
        migrations.RunPython(reseal_legacy_chains, migrations.RunPython.noop),
    ]
