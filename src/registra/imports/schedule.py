"""The nightly schedule of import profiles (decision 0015).

A profile with a ``schedule`` table runs once a night at its local time (the organization's
time zone). Its next occurrence is kept on the profile (``next_run_at``) and queued as one
django-tasks task (``registra.imports.tasks.run_scheduled_import``) to run after it; the
database backend keeps the task and ``registra worker`` runs it. A task runs only the
occurrence its profile still waits for, so a task left behind by a changed schedule does
nothing, and ``ImportRun``'s unique occurrence makes a second task of one occurrence a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from django.db import OperationalError, transaction
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from registra.core.timefmt import now
from registra.imports.models import ImportProfile
from registra.organizations.models import Organization

log = logging.getLogger(__name__)

TASK_PATH = "registra.imports.tasks.run_scheduled_import"


def next_occurrence(time_of_day: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first moment strictly after ``after`` at ``time_of_day`` (HH:MM) in ``zone``, as an
    aware UTC datetime. A time the spring change skips runs at the first valid moment after it
    (02:30 in Berlin on that night: 03:00 summer time); a time the autumn change repeats runs
    once, at its first instance."""
    hour, minute = _hour_minute(time_of_day)
    moments = croniter(f"{minute} {hour} * * *", after.astimezone(zone))
    while True:
        candidate: datetime = moments.get_next(datetime)
        if not _repeat_of_earlier(candidate):
            return candidate.astimezone(UTC)


def _hour_minute(time_of_day: str) -> tuple[int, int]:
    hour, sep, minute = time_of_day.partition(":")
    if not (sep and len(hour) == 2 and len(minute) == 2 and (hour + minute).isdigit()):
        raise ValueError(f"{time_of_day!r} is not a time of day HH:MM")
    if int(hour) > 23 or int(minute) > 59:
        raise ValueError(f"{time_of_day!r} is not a time of day HH:MM (00:00 to 23:59)")
    return int(hour), int(minute)


def _repeat_of_earlier(local: datetime) -> bool:
    """Whether this wall-clock time already happened earlier the same night (the second 02:30
    of an autumn change); ``fold=0`` is its first instance."""
    return local.replace(fold=0).astimezone(UTC) != local.astimezone(UTC)


def schedule_of(profile: ImportProfile) -> dict[str, Any] | None:
    """The profile's ``schedule`` table (time, folder or url, pattern), None without one."""
    schedule = (profile.definition or {}).get("schedule")
    return schedule if schedule and schedule.get("time") else None


def reschedule(profile: ImportProfile, organization: Organization) -> None:
    """Set ``profile.next_run_at`` from its schedule (None without one), not saved: the
    profile services call this in their transaction before they save. A new occurrence is
    queued in that same transaction (the task lives in the same database), so the profile and
    its queued run commit, or roll back, together; an unchanged one keeps the task it has."""
    previous = profile.next_run_at
    schedule = schedule_of(profile)
    profile.next_run_at = (
        next_occurrence(schedule["time"], organization.zone, now()) if schedule else None
    )
    if profile.next_run_at is not None and profile.next_run_at != previous:
        enqueue(organization.id, profile.id, profile.next_run_at)


def enqueue(organization_id: str, profile_id: str, occurrence: datetime) -> None:
    """Queue the run of one occurrence, to be taken by a worker once it is due."""
    from registra.imports.tasks import run_scheduled_import  # the task imports the services

    run_scheduled_import.using(run_after=occurrence).enqueue(
        organization_id, profile_id, occurrence_key(occurrence)
    )


def occurrence_key(occurrence: datetime) -> str:
    """How a task names its occurrence: ISO 8601 in UTC."""
    return occurrence.astimezone(UTC).isoformat()


def waiting_profile(
    organization_id: str, profile_id: str, occurrence: datetime
) -> ImportProfile | None:
    """The profile if it still waits for ``occurrence`` (None: deleted, its schedule changed or
    removed, or the occurrence already ran)."""
    return ImportProfile.objects.filter(
        organization_id=organization_id, id=profile_id, next_run_at=occurrence
    ).first()


def advance(organization: Organization, profile_id: str, occurrence: datetime) -> datetime | None:
    """Move a profile that waited for ``occurrence`` on to its next occurrence in the future
    (nights missed while no worker ran are not made up one by one: the run that just happened
    read the newest file) and queue it; its new ``next_run_at``, or None if the profile no
    longer waited for ``occurrence``.

    A system bookkeeping write of ``next_run_at`` only, made by the task after its run, and not
    audited: it changes neither the register nor the profile's definition (the run is audited
    in full). Compare-and-set in one transaction, so a second task of the same occurrence, or a
    schedule changed meanwhile, moves nothing and queues nothing."""
    with transaction.atomic():
        profile = waiting_profile(organization.id, profile_id, occurrence)
        schedule = schedule_of(profile) if profile else None
        if profile is None or schedule is None:
            return None
        later = next_occurrence(schedule["time"], organization.zone, max(occurrence, now()))
        moved = ImportProfile.objects.filter(pk=profile.pk, next_run_at=occurrence).update(
            next_run_at=later
        )
        if moved:
            enqueue(organization.id, profile.pk, later)
    return later if moved else None


def ensure_enqueued() -> int:
    """Queue the next occurrence of every scheduled profile that has no task waiting for it
    (a task lost with a worker killed mid-run, or a profile saved before tasks were queued);
    how many were queued. ``registra worker`` calls this as it starts. Serialised on SQLite by
    an exclusive transaction; should two workers starting at once on PostgreSQL both queue one
    occurrence, the second task finds it ran and does nothing."""

    def queue_missing() -> int:
        waiting = _waiting_tasks()
        queued = 0
        for profile in ImportProfile.objects.filter(next_run_at__isnull=False):
            assert profile.next_run_at is not None
            key = (profile.organization_id, profile.pk, occurrence_key(profile.next_run_at))
            if key not in waiting:
                enqueue(profile.organization_id, profile.pk, profile.next_run_at)
                queued += 1
        return queued

    return unless_busy(queue_missing, "the nightly schedule")


def unless_busy(work: Callable[[], int], what: str) -> int:
    """``work()`` in an exclusive transaction (what ``registra worker`` checks as it starts);
    0 and a warning, naming ``what``, when the database is locked by another writer."""
    try:
        with exclusive_transaction():
            return work()
    except OperationalError as exc:
        if not is_locked_database_exception(exc):
            raise
        log.warning("%s was not checked: the database is busy (%s)", what, exc)
        return 0


def _waiting_tasks() -> set[tuple[str, ...]]:
    """The (organization id, profile id, occurrence) of every task not yet taken. A task left
    ``running`` by a worker that died does not count: its occurrence is queued again."""
    args = DBTaskResult.objects.filter(
        task_path=TASK_PATH, status=TaskResultStatus.READY
    ).values_list("args_kwargs", flat=True)
    return {tuple(a["args"]) for a in args}
