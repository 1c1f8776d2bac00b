"""How long a run's plan is kept (decision 0019).

A run's plan items are what its pages list: every row of the file, unchanged ones included, so
a nightly run of a 100,000-row export adds about 100,000 items a night. What a run changed is
in the audit log for good (one event per record, with its before and after and the run's id),
and the run itself keeps its file name and SHA-256, counts, timings, who started and applied
it and how it ended. So the items of a run that has ended are removed once it is older than
a retention period: by ``registra import purge-plans`` (a dry run unless ``--apply``), and by
the worker after each nightly run when ``REGISTRA_IMPORT_PLAN_DAYS`` is set. A plan that waits
for review is kept whatever its age. Each run's purge is one transaction with its own
``import.plan-purged`` event, so a long backlog never holds one long transaction, and an
interrupted purge leaves every run either whole or marked as purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import field_error
from registra.core.timefmt import now
from registra.imports.choices import OPEN_STATUSES
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require

MAX_DAYS = 36_500


@dataclass(frozen=True)
class PurgedPlan:
    """One run whose plan items were (or, in a dry run, would be) deleted, and how many."""

    run_id: str
    items: int


def import_plans_purge(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    older_than_days: int,
    apply: bool = False,
    at: datetime | None = None,
) -> list[PurgedPlan]:
    """The organization's ended runs created more than ``older_than_days`` days before ``at``
    (default now) that still hold plan items, oldest first, with their item counts; with
    ``apply``, those items are deleted. The runs themselves stay."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    if type(older_than_days) is not int or not 1 <= older_than_days <= MAX_DAYS:
        raise field_error("olderThanDays", f"must be a whole number of days from 1 to {MAX_DAYS}")
    cutoff = (at or now()) - timedelta(days=older_than_days)
    due = (
        ImportRun.objects.filter(
            organization=organization, created_at__lt=cutoff, items_purged_at__isnull=True
        )
        .exclude(status__in=OPEN_STATUSES)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    if not apply:  # one grouped count, not one query per run
        ids = list(due)
        counts = dict(
            ImportPlanItem.objects.filter(run_id__in=ids)
            .values_list("run_id")
            .annotate(n=Count("id"))
            .values_list("run_id", "n")
        )
        return [PurgedPlan(run_id, counts.get(run_id, 0)) for run_id in ids]
    purged = (_purge(organization, actor, reason, run_id, older_than_days) for run_id in due)
    return [p for p in purged if p is not None]


@transaction.atomic
def _purge(
    organization: Organization, actor: Actor, reason: str, run_id: str, days: int
) -> PurgedPlan | None:
    run = ImportRun.objects.select_for_update().get(organization=organization, pk=run_id)
    if run.items_purged_at is not None:  # another purge took it while this one listed the runs
        return None
    items, _ = ImportPlanItem.objects.filter(run=run).delete()
    run.items_purged_at = now()
    run.save(update_fields=["items_purged_at"])
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="import.plan-purged",
        subject_type="import-run",
        subject_id=run.id,
        after={"itemsPurged": items, "olderThanDays": days, "status": run.status},
    )
    return PurgedPlan(run.id, items)
