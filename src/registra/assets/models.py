"""Assets, custody assignments and readiness assessments."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models import Value as V
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Concat, Upper

from registra.assets.choices import (
    AssessmentStatus,
    AssetStatus,
    AssignmentKind,
    CustodyStatus,
    ReadinessState,
)
from registra.core.ids import new_id
from registra.organizations.models import Organization, ResponsibilityAssignment


def new_asset_id() -> str:
    return new_id("asset")


def new_custody_id() -> str:
    return new_id("ascust")


def new_assessment_id() -> str:
    return new_id("asrdy")


class Asset(models.Model):
    """A thing the organization is accountable for. Decommissioning is a transition, never a
    delete. The three snapshots are shown in the UI and are not part of API v1."""

    id = models.CharField(primary_key=True, max_length=40, default=new_asset_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=128)
    asset_kind = models.CharField(max_length=64)
    display_name = models.CharField(max_length=200)
    description = models.TextField(max_length=4000, blank=True, default="")
    source_kind = models.CharField(max_length=64, default="manual")
    status = models.CharField(max_length=16, choices=AssetStatus.choices)
    custodian_responsibility = models.ForeignKey(
        ResponsibilityAssignment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    commissioned_at = models.DateTimeField(null=True, blank=True)
    decommissioned_at = models.DateTimeField(null=True, blank=True)
    disposal_authorization = models.CharField(max_length=500, blank=True, default="")
    decommissioned_by_id = models.CharField(max_length=64, blank=True, default="")
    asset_snapshot = models.JSONField(default=dict, blank=True)
    classification_snapshot = models.JSONField(default=dict, blank=True)
    source_ref_snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # What the register's search reads: the key, name, description and serial number, upper
    # case, one per line (a search never matches across two of them). Kept by the database;
    # on PostgreSQL a trigram index and a covering index make it fast (migration 0005).
    search_text = models.GeneratedField(
        expression=Upper(
            Concat(
                "asset_key",
                V("\n"),
                "display_name",
                V("\n"),
                "description",
                V("\n"),
                Coalesce(
                    KeyTextTransform("serialNumber", "asset_snapshot"),
                    V(""),
                    output_field=models.TextField(),
                ),
                output_field=models.TextField(),
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "asset_key"], name="asset_org_key_uniq"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssetStatus.values), name="asset_status_valid"
            ),
            # decommissionedAt is set when and only when the status is decommissioned.
            models.CheckConstraint(
                condition=(
                    Q(status=AssetStatus.DECOMMISSIONED, decommissioned_at__isnull=False)
                    | (~Q(status=AssetStatus.DECOMMISSIONED) & Q(decommissioned_at__isnull=True))
                ),
                name="asset_decommissioned_at_iff_status",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="asset_org_page"),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"],
                name="asset_org_status_page",
            ),
            models.Index(
                fields=["organization", "asset_kind", "-created_at", "-id"],
                name="asset_org_kind_page",
            ),
            models.Index(
                fields=["organization", "custodian_responsibility"], name="asset_org_custodian"
            ),
            # The register list's sorts (column, then id: its keyset order); the kind one also
            # serves the kind filter's options. Sorting by key uses the unique key, by creation
            # time the API's page index.
            models.Index(fields=["organization", "display_name", "id"], name="asset_org_by_name"),
            models.Index(fields=["organization", "asset_kind", "id"], name="asset_org_by_kind"),
            models.Index(fields=["organization", "status", "id"], name="asset_org_by_status"),
            models.Index(fields=["organization", "source_kind", "id"], name="asset_org_by_source"),
            # The register's sort by update time and the API's updatedAfter filter.
            models.Index(fields=["organization", "updated_at", "id"], name="asset_org_updated"),
        ]

    def __str__(self) -> str:
        return self.asset_key


class CustodyAssignment(models.Model):
    """Who holds an asset. At most one active primary assignment per asset (partial unique)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_custody_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", db_index=False)
    assignment_key = models.CharField(max_length=160)
    assignment_kind = models.CharField(max_length=16, choices=AssignmentKind.choices)
    subject_module_key = models.CharField(max_length=64)
    subject_resource_type = models.CharField(max_length=64)
    subject_resource_id = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=CustodyStatus.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # Holder name and email at the time, location, condition notes, override reason.
    assignment_snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assignment_key"], name="custody_org_key_uniq"
            ),
            models.UniqueConstraint(
                fields=["organization", "asset"],
                condition=Q(status=CustodyStatus.ACTIVE, assignment_kind=AssignmentKind.PRIMARY),
                name="custody_one_active_primary",
            ),
            models.CheckConstraint(
                condition=Q(assignment_kind__in=AssignmentKind.values), name="custody_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=CustodyStatus.ACTIVE, ended_at__isnull=True)
                    | Q(status=CustodyStatus.ENDED, ended_at__isnull=False)
                ),
                name="custody_ended_at_iff_ended",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="custody_org_page"),
            models.Index(
                fields=["organization", "asset", "-created_at", "-id"],
                name="custody_org_asset_page",
            ),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"],
                name="custody_org_status_page",
            ),
        ]

    def __str__(self) -> str:
        return self.assignment_key


class ReadinessAssessment(models.Model):
    """A calibration, inspection, certification... of one asset, with posture and evidence."""

    id = models.CharField(
        primary_key=True, max_length=40, default=new_assessment_id, editable=False
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", db_index=False)
    readiness_assessment_key = models.CharField(max_length=160)
    assessment_kind = models.CharField(max_length=64)
    readiness_state = models.CharField(max_length=24, choices=ReadinessState.choices)
    status = models.CharField(max_length=16, choices=AssessmentStatus.choices)
    performed_at = models.DateTimeField(null=True, blank=True)
    performed_by_responsibility = models.ForeignKey(
        ResponsibilityAssignment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Valid until is kept as a column too: it drives overdue queries and computed readiness.
    valid_until = models.DateTimeField(null=True, blank=True)
    posture_snapshot = models.JSONField(default=dict, blank=True)
    evidence_snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "readiness_assessment_key"], name="readiness_org_key_uniq"
            ),
            models.CheckConstraint(
                condition=Q(readiness_state__in=ReadinessState.values), name="readiness_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=AssessmentStatus.values), name="readiness_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=AssessmentStatus.COMPLETED) | Q(performed_at__isnull=False),
                name="readiness_completed_has_performed_at",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="readiness_org_page"),
            models.Index(
                fields=["organization", "asset", "-created_at", "-id"],
                name="readiness_org_asset_page",
            ),
            models.Index(
                fields=["organization", "readiness_state", "-created_at", "-id"],
                name="readiness_org_state_page",
            ),
            models.Index(
                fields=["organization", "asset", "assessment_kind", "status"],
                name="readiness_org_asset_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.readiness_assessment_key


class AssetReadiness(models.Model):
    """The computed readiness of each asset (SPEC section 3), kept by the services in the same
    transaction as every write it depends on, so the register list, its filters and the
    dashboard read it at a million assets without recomputing it.

    ``state`` and ``reasons`` are as computed at ``computed_at``. A ready asset stays ready until
    ``next_due`` (the earliest due date of its required assessments; None: none is due), so
    readiness at any later moment is ``state == ready and (next_due is None or next_due > now)``
    without a write when a due date passes (``assets.selectors.readiness_now``).

    ``asset_kind``, ``status`` and ``holder_id`` (the member holding its active primary
    custody, None when nobody does) are the asset's, copied so that the dashboard counts a
    million assets from this table alone (one index-only scan); the asset and custody services
    keep them with the rest."""

    asset = models.OneToOneField(
        Asset, on_delete=models.CASCADE, primary_key=True, related_name="readiness"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    state = models.CharField(max_length=24, choices=ReadinessState.choices)
    reasons = models.JSONField(default=list, blank=True)
    next_due = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()
    asset_kind = models.CharField(max_length=64)
    status = models.CharField(max_length=24, choices=AssetStatus.choices)
    holder_id = models.CharField(max_length=40, null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "state", "next_due"], name="readiness_now"),
            models.Index(
                fields=["organization", "status", "asset_kind", "holder_id", "state", "next_due"],
                name="readiness_dashboard",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id}: {self.state}"
