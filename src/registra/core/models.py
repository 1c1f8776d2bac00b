"""The audit log: one chain-hashed sequence of events per organization."""

from __future__ import annotations

from django.db import models

from registra.core.ids import new_id


def _evt_id() -> str:
    return new_id("evt")


class AuditEvent(models.Model):
    """A state change: who did what to which record, why, and the before/after diff.

    ``hash`` is an HMAC-SHA256, keyed with the audit key (a setting, never stored in the database),
    over ``prev_hash`` and the event's canonical content, so an edited, deleted or reordered event
    breaks the chain and nobody without the key can re-hash it (see
    ``registra.core.audit.verify_chain``). The organization
    is a plain column, not a foreign key, because core sits below the organizations app.
    """

    id = models.CharField(primary_key=True, max_length=40, default=_evt_id, editable=False)
    organization_id = models.CharField(max_length=40)
    seq = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    actor_type = models.CharField(max_length=32)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=300, blank=True, default="")
    action = models.CharField(max_length=80)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64)
    reason = models.TextField()
    diff = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "seq"], name="audit_org_seq_uniq"),
        ]
        indexes = [
            models.Index(fields=["organization_id", "subject_id", "seq"], name="audit_org_subject"),
            models.Index(fields=["organization_id", "action", "seq"], name="audit_org_action"),
            # The audit log page's actor filter, newest first, and its date range (issue 8).
            models.Index(fields=["organization_id", "actor_id", "seq"], name="audit_org_actor"),
            models.Index(fields=["organization_id", "occurred_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.action} {self.subject_id}"


class AuditChainHead(models.Model):
    """The last sequence number and hash per organization; locked while appending.

    ``key_id`` names (without revealing it) the audit key that last sealed the chain, so that
    verification can tell a wrong or changed key from tampering; empty for a chain written before
    keyed hashing and not re-sealed (migration 0002)."""

    organization_id = models.CharField(primary_key=True, max_length=40)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.organization_id}@{self.seq}"
