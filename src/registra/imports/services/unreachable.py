"""A run whose file could not be fetched: the nightly run of a URL source that answered with
an error or did not answer. There is nothing to plan, so the run is recorded as failed with
the reason, for the run history and the audit log."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.db import IntegrityError, transaction

from registra.core import validation
from registra.core.audit import Actor
from registra.core.errors import Conflict
from registra.imports import selectors
from registra.imports.choices import RunStatus, RunTrigger
from registra.imports.models import ImportRun
from registra.imports.services.runs import (
    SourceFile,
    _new_run,
    _occurrence_taken,
    _record_end,
)
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require


def import_run_unreachable(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    profile_id: str,
    source_name: str,
    message: str,
    trigger: str,
    scheduled_for: datetime | None = None,
) -> ImportRun:
    """Record a failed run of the profile that read nothing: ``source_name`` is where the file
    should have come from, ``message`` why it did not. Audited as ``import.failed``, in one
    transaction. ``Conflict`` when the run of ``scheduled_for`` is recorded already."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    validation.choice("trigger", trigger, RunTrigger.values)
    profile = selectors.profile_get(organization, profile_id)
    source = SourceFile(path=Path(), name=source_name)  # read nothing; only its name is kept
    run = _new_run(organization, actor, reason, profile, source, trigger, scheduled_for)
    try:
        with transaction.atomic():
            return _record_end(run, RunStatus.FAILED, message, "import.failed")
    except IntegrityError as exc:
        if scheduled_for is not None and _occurrence_taken(run):
            raise Conflict(f"the run of {profile.name} for {scheduled_for} already ran") from exc
        raise
