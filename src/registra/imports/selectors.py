"""Reads of the CMMS import: profiles, runs, a run's plan items. Organization first."""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Subquery
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registra.core import sql
from registra.core.queries import first_or_404
from registra.imports.choices import APPLY_TASK, PLAN_TASK, ItemKind, RunStatus
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
from registra.organizations.models import Organization

PLAN_PAGE = 50


def profile_list(organization: Organization) -> list[ImportProfile]:
    return list(ImportProfile.objects.filter(organization=organization).order_by("name"))


def profile_get(organization: Organization, profile_id: str) -> ImportProfile:
    profiles = ImportProfile.objects.filter(organization=organization, id=profile_id)
    return first_or_404(profiles, f"import profile {profile_id}")


def profile_get_by_name(organization: Organization, name: str) -> ImportProfile:
    profiles = ImportProfile.objects.filter(organization=organization, name=name)
    return first_or_404(profiles, f"import profile {name!r}")


def run_list(
    organization: Organization, *, profile_id: str | None = None, limit: int = 100
) -> list[ImportRun]:
    """The newest runs first (of one profile when ``profile_id``)."""
    runs = ImportRun.objects.filter(organization=organization)
    if profile_id:
        runs = runs.filter(profile_id=profile_id)
    return list(runs.order_by("-created_at", "-id")[:limit])


def latest_run_by_profile(organization: Organization) -> dict[str, ImportRun]:
    """Each profile's newest run (newest as ``run_list`` orders them), by profile id, in one
    read whatever the number of profiles; a profile with no run has no entry."""
    newest = (
        ImportRun.objects.filter(organization=organization, profile_id=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    profiles = ImportProfile.objects.filter(organization=organization)
    runs = ImportRun.objects.filter(
        organization=organization, id__in=profiles.values(newest_id=Subquery(newest))
    )
    return {run.profile_id: run for run in runs if run.profile_id}


def run_get(organization: Organization, run_id: str) -> ImportRun:
    runs = ImportRun.objects.filter(organization=organization, id=run_id)
    return first_or_404(runs, f"import run {run_id}")


def run_state(run: ImportRun) -> tuple[str, datetime | None]:
    """Where a run is (its page reloads when this changes), and since when a worker has worked
    on it: a web run waits for the worker to plan it (``queued``, then ``planning``) or to
    apply it (``apply-queued``, then ``applying``); any other run is its status (decision
    0020). One query, only while a web run waits."""
    if run.status == RunStatus.QUEUED:
        path, states = PLAN_TASK, ("queued", "planning")
    elif run.status == RunStatus.PLANNED and run.apply_requested_at is not None:
        path, states = APPLY_TASK, ("apply-queued", "applying")
    else:
        return run.status, None
    taken = DBTaskResult.objects.filter(
        task_path=path, status=TaskResultStatus.RUNNING, args_kwargs__args__0=run.id
    )
    started = taken.order_by("-started_at").values_list("started_at", flat=True).first()
    return states[started is not None], started


def runs_waiting_for_review(organization: Organization) -> list[ImportRun]:
    """Planned runs nobody has applied, asked to apply or discarded yet (the dashboard lists
    them)."""
    runs = ImportRun.objects.filter(
        organization=organization, status=RunStatus.PLANNED, apply_requested_at__isnull=True
    )
    return list(runs.order_by("-created_at", "-id")[:20])


def plan_page(
    organization: Organization,
    run: ImportRun,
    *,
    kind: str = "",
    search: str = "",
    after: int = 0,
    limit: int = PLAN_PAGE,
) -> tuple[list[ImportPlanItem], int | None]:
    """One page of a run's plan in file order (``kind`` and an asset key prefix filter),
    after item ``after`` (keyset on seq), and the ``after`` of the next page (None at the
    end)."""
    items = ImportPlanItem.objects.filter(run=run, organization_id=organization.id)
    if kind:
        items = items.filter(kind=kind)
    if search:
        items = items.filter(asset_key__startswith=search.strip())
    page = list(items.filter(seq__gt=after).order_by("seq")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].seq if more else None)


def error_report_rows(
    organization: Organization, run: ImportRun
) -> Generator[tuple[Any, ...], None, None]:
    """``(line, asset key, column, value, reason)`` of every row error, in file order,
    streamed (the run's downloadable error report)."""
    items = (
        ImportPlanItem.objects.filter(run=run, organization_id=organization.id, kind=ItemKind.ERROR)
        .order_by("seq")
        .values_list("line", "asset_key", "detail")
    )
    for line, key, detail in sql.stream(items):
        yield line, key, detail.get("column", ""), detail.get("value", ""), detail.get("reason", "")
