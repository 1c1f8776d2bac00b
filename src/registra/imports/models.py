"""Import profiles, runs and the items of a run's plan."""

from __future__ import annotations

from django.db import models

from registra.core.ids import new_id
from registra.imports.choices import ItemKind, RunStatus, RunTrigger
from registra.organizations.models import Organization


def new_profile_id() -> str:
    return new_id("improf")


def new_run_id() -> str:
    return new_id("imprun")


class ImportProfile(models.Model):
    """How one CMMS export maps to the register: the parsed profile file (``definition``,
    ``registra_client.profile_to_dict``), managed by admins; ``next_run_at`` is the next
    nightly run when the profile has a schedule."""

    id = models.CharField(primary_key=True, max_length=40, default=new_profile_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    name = models.CharField(max_length=100)
    definition = models.JSONField()
    next_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="import_profile_name")
        ]

    def __str__(self) -> str:
        return self.name


class ImportRun(models.Model):
    """One run of a profile over one file: what was read, the plan's counts, who or what
    started and applied it, and how it ended. ``register_seq`` is the organization's audit
    sequence when the plan was made (a plan is applied only to the register it was made on)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_run_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    profile = models.ForeignKey(
        ImportProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    profile_name = models.CharField(max_length=100)
    definition = models.JSONField()  # the profile as this run used it
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices)
    started_by_type = models.CharField(max_length=32)
    started_by_id = models.CharField(max_length=64)
    started_by_label = models.CharField(max_length=300, blank=True, default="")
    applied_by_label = models.CharField(max_length=300, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    file_name = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    file_size = models.BigIntegerField(default=0)
    rows_read = models.IntegerField(default=0)
    rows_blank = models.IntegerField(default=0)
    rows_with_errors = models.IntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    notes = models.JSONField(default=list, blank=True)  # unknown columns, encoding, delimiter
    message = models.TextField(blank=True, default="")  # why it failed or was refused
    register_seq = models.BigIntegerField(default=0)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    planned_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    plan_seconds = models.FloatField(null=True, blank=True)
    apply_seconds = models.FloatField(null=True, blank=True)
    # When the plan's items were deleted after the retention period (services/retention.py):
    # the run and its counts stay, its pages say the item list is gone.
    items_purged_at = models.DateTimeField(null=True, blank=True)
    # A file uploaded in the web waits in the storage for the worker to plan it (decision
    # 0020): its name there, cleared once the run is planned or failed.
    upload_key = models.CharField(max_length=500, blank=True, default="")
    # A web apply waits for the worker too: who asked for it, when, and the reason it records.
    apply_requested_at = models.DateTimeField(null=True, blank=True)
    apply_requested_by_type = models.CharField(max_length=32, blank=True, default="")
    apply_requested_by_id = models.CharField(max_length=64, blank=True, default="")
    apply_requested_by_label = models.CharField(max_length=300, blank=True, default="")
    apply_reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            # A nightly occurrence runs once, however many workers pick it up.
            models.UniqueConstraint(
                fields=["organization", "profile", "scheduled_for"],
                condition=models.Q(scheduled_for__isnull=False),
                name="import_run_once_per_occurrence",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="import_run_org_page"),
            models.Index(
                fields=["organization", "profile", "-created_at"], name="import_run_profile"
            ),
        ]

    def __str__(self) -> str:
        return self.id


class ImportPlanItem(models.Model):
    """One thing a run's plan would do or report, in file order: an asset to create or
    update (field-level before/after), a row that changes nothing, a custody handoff, a new
    calibration, an asset absent from the file, an ownership conflict or a row error.
    ``detail`` is what the pages show; ``payload`` is what apply writes."""

    id = models.BigAutoField(primary_key=True)
    organization_id = models.CharField(max_length=40)
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.IntegerField()
    kind = models.CharField(max_length=16, choices=ItemKind.choices)
    line = models.IntegerField(null=True, blank=True)
    asset_key = models.CharField(max_length=200, blank=True, default="")
    asset_id = models.CharField(max_length=40, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["run", "seq"], name="import_item_run_seq"),
            models.Index(fields=["run", "kind", "seq"], name="import_item_run_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} #{self.seq} {self.kind}"
