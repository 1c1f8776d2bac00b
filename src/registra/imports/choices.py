"""Run statuses, what started a run, and the kinds of a plan's items."""

from __future__ import annotations

from django.db import models


class RunStatus(models.TextChoices):
    """queued (a file uploaded in the web, waiting for the worker to plan it) -> planning ->
    planned (waits for review) -> applied; failed (could not read or apply: nothing was
    written), refused (stale plan or another run in progress), discarded (a reviewer dropped
    the plan), interrupted (its process died before it finished)."""

    QUEUED = "queued"
    PLANNING = "planning"
    PLANNED = "planned"
    APPLIED = "applied"
    FAILED = "failed"
    REFUSED = "refused"
    DISCARDED = "discarded"
    INTERRUPTED = "interrupted"


# A run in one of these may still change; every other status is final.
OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.PLANNING, RunStatus.PLANNED)


# The worker's tasks of a web run (decision 0020), by their django-tasks path.
PLAN_TASK = "registra.imports.tasks.plan_uploaded_import"
APPLY_TASK = "registra.imports.tasks.apply_requested_import"


class RunTrigger(models.TextChoices):
    WEB = "web"
    CLI = "cli"
    SCHEDULE = "schedule"


class ItemKind(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    STATUS = "status"
    UNCHANGED = "unchanged"
    HANDOFF = "handoff"
    ASSESSMENT = "assessment"
    ABSENT = "absent"
    CONFLICT = "conflict"
    ERROR = "error"


# What apply writes, in this order: an asset exists before its custody and calibration, and
# its calibration is recorded before the custody check asks whether it is ready.
WRITE_ORDER = (
    ItemKind.CREATE,
    ItemKind.UPDATE,
    ItemKind.STATUS,
    ItemKind.ASSESSMENT,
    ItemKind.HANDOFF,
    ItemKind.ABSENT,
)
