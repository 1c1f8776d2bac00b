"""Runs: read a file, plan it against the register, apply the plan (or let it wait for review).

One run holds its profile for its whole transaction (``_holding``): on PostgreSQL the profile
row is locked ``FOR UPDATE``, on SQLite the transaction is exclusive, so two runs of one
profile never overlap, whichever process starts them, and a killed process releases the hold
as its transaction rolls back. Planning and applying in one go (the command line with
``--apply``, the nightly run) is one transaction: the whole run lands or none of it does.
A plan that waits for review is applied later only if nothing it read has changed since
(``register_seq``); otherwise it is refused and must be made again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.db import IntegrityError, transaction
from django_tasks_db.utils import exclusive_transaction

from registra.assets import selectors as asset_selectors
from registra.core import audit, sql, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, RegistraError, Unprocessable
from registra.core.timefmt import now
from registra.imports import planning, selectors
from registra.imports.choices import RunStatus, RunTrigger
from registra.imports.models import ImportProfile, ImportRun
from registra.imports.services.apply import apply_plan
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require
from registra_client import Mapper, ProfileError, ReadError, profile_from_dict, read_table

# Events that change what a plan read: the register's records, and the members a holder
# column names. Sign-ins, tokens, settings and the import's own events do not.
_PLAN_READS_SUBJECTS = ("asset", "custody-assignment", "readiness-assessment")
_PLAN_READS_ACTIONS = ("member.created", "member.joined", "member.updated", "member.revoked")

# Called as (phase, done, total): "planning" in bytes of the file, "applying" in plan items.
Progress = Callable[[str, int, int | None], None]


class ImportFailed(RegistraError):
    """The run could not plan or apply; its run (status failed or refused) says why."""

    code = "unprocessable"
    status = 422

    def __init__(self, message: str, *, run: ImportRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class SourceFile:
    """The file a run reads: where it is on this host and the name it had where it came from."""

    path: Path
    name: str


def import_run_start(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    profile_id: str,
    source: SourceFile,
    trigger: str,
    apply: str = "no",
    scheduled_for: datetime | None = None,
    progress: Progress | None = None,
) -> ImportRun:
    """Read ``source`` with the profile, plan it and keep the plan (``apply="no"``: a
    preview, the register unchanged), apply it at once (``"yes"``), or apply it when its row
    errors are at or below the profile's threshold and otherwise leave it for review
    (``"auto"``, the nightly run). Returns the run; a file that cannot be read, or a plan
    that cannot be applied, raises ``ImportFailed`` with the run recorded as failed."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    validation.choice("apply", apply, ("no", "yes", "auto"))
    validation.choice("trigger", trigger, RunTrigger.values)
    profile = selectors.profile_get(organization, profile_id)
    run = _new_run(organization, actor, reason, profile, source, trigger, scheduled_for)
    try:
        with _holding(profile):
            _plan(organization, run, source, progress)
            if apply == "yes" or (apply == "auto" and _within_threshold(run)):
                _apply(organization, actor, reason, run, progress)
    except _Unreadable as exc:
        raise ImportFailed(str(exc), run=_failed(run, str(exc))) from None
    except IntegrityError as exc:
        if scheduled_for is not None and _occurrence_taken(run):
            raise Conflict(f"the run of {profile.name} for {scheduled_for} already ran") from exc
        raise
    except RegistraError as exc:
        raise ImportFailed(exc.message, run=_failed(run, _applying_failed(exc))) from None
    return run


def import_run_apply(
    *, organization: Organization, actor: Actor, reason: str, run_id: str
) -> ImportRun:
    """Apply a plan that waits for review, all or nothing, if the register is still what it
    was planned on; else the run is refused (plan again) and ``ImportFailed`` raised."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    run = selectors.run_get(organization, run_id)
    profile = selectors.profile_get(organization, run.profile_id or "")
    stale = ""
    try:
        with _holding(profile):
            run = ImportRun.objects.select_for_update().get(pk=run.pk)
            if run.status != RunStatus.PLANNED:
                raise Unprocessable(f"run {run.id} is {run.status}: only a planned run applies")
            stale = _staleness(run)
            if not stale:
                _apply(organization, actor, reason, run, None)
    except Unprocessable:
        raise
    except RegistraError as exc:
        raise ImportFailed(exc.message, run=_failed(run, _applying_failed(exc))) from None
    if stale:
        raise ImportFailed(stale, run=_refused(run, stale))
    return run


@transaction.atomic
def import_run_discard(
    *, organization: Organization, actor: Actor, reason: str, run_id: str
) -> ImportRun:
    """Drop a plan that waits for review (nothing of it is applied)."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    run = ImportRun.objects.select_for_update().get(pk=selectors.run_get(organization, run_id).pk)
    if run.status != RunStatus.PLANNED:
        raise Unprocessable(f"run {run.id} is {run.status}: only a planned run can be discarded")
    if run.apply_requested_at is not None:
        raise Unprocessable(f"run {run.id} is being applied: it can no longer be discarded")
    run.status = RunStatus.DISCARDED
    run.save(update_fields=["status"])
    _event(run, actor, reason, "import.discarded")
    return run


# --- the steps -----------------------------------------------------------------------------


class _Unreadable(Exception):
    """The file or the profile does not let the run plan (the message says why)."""


def _new_run(
    organization: Organization,
    actor: Actor,
    reason: str,
    profile: ImportProfile,
    source: SourceFile,
    trigger: str,
    scheduled_for: datetime | None,
) -> ImportRun:
    """The run, not saved yet: it is written with its plan, so a killed process leaves no
    half-made run behind."""
    return ImportRun(
        organization=organization,
        profile=profile,
        profile_name=profile.name,
        definition=profile.definition,
        trigger=trigger,
        status=RunStatus.PLANNING,
        started_by_type=actor.kind,
        started_by_id=actor.id,
        started_by_label=actor.label[:300],
        reason=reason,
        file_name=source.name[:500],
        scheduled_for=scheduled_for,
        created_at=now(),
    )


@contextmanager
def _holding(profile: ImportProfile) -> Iterator[None]:
    with exclusive_transaction():
        ImportProfile.objects.select_for_update().filter(pk=profile.pk).first()
        sql.plan_for_cached_reads()
        yield


def _plan(
    organization: Organization, run: ImportRun, source: SourceFile, progress: Progress | None
) -> None:
    started = time.monotonic()
    try:
        profile = profile_from_dict(run.definition)
    except ProfileError as exc:
        raise _Unreadable(f"the profile is not valid: {exc}") from None
    run.file_sha256, run.file_size = _digest(source.path)
    run.register_seq = audit.head_seq(organization.id)
    run.save(force_insert=run._state.adding)  # a queued web run is recorded already
    try:
        with read_table(source.path, profile) as table:
            mapper = Mapper(profile, table.columns)
            planner = planning.Planner(organization, profile, run, mapper)
            for batch in _batches(table, progress):
                planner.add(batch)
            run.rows_blank = table.blank_rows
            run.notes = _notes(table, mapper)
    except (ReadError, ProfileError, OSError) as exc:
        raise _Unreadable(str(exc)) from None
    planner.finish(asset_selectors.assets_of_source(organization, profile.source_kind))
    run.status = RunStatus.PLANNED
    run.rows_read, run.rows_with_errors = planner.rows, planner.rows_with_errors
    run.counts = dict(planner.counts)
    run.planned_at = now()
    run.plan_seconds = round(time.monotonic() - started, 3)
    run.save()
    _event(run, _actor_of(run), run.reason, "import.planned")


def _batches(table: Any, progress: Progress | None) -> Iterator[list[Any]]:
    batch = []
    for row in table:
        batch.append(row)
        if len(batch) >= planning.BATCH_ROWS:
            yield batch
            batch = []
            if progress:
                progress("planning", table.bytes_read, table.size)
    if batch:
        yield batch
    if progress:
        progress("planning", table.bytes_read, table.size)


def _notes(table: Any, mapper: Mapper) -> list[str]:
    notes = [
        f"read as {table.encoding}"
        + (f", cells split by {table.delimiter!r}" if table.delimiter else "")
    ]
    if mapper.unknown_columns:
        notes.append("columns the profile does not map: " + ", ".join(mapper.unknown_columns))
    return notes


def _digest(path: Path) -> tuple[str, int]:
    with open(path, "rb") as f:
        return digest_of(f)


def digest_of(stream: IO[bytes]) -> tuple[str, int]:
    """The SHA-256 (hex) and size of what ``stream`` reads."""
    sha, size = hashlib.sha256(), 0
    while chunk := stream.read(1 << 20):
        sha.update(chunk)
        size += len(chunk)
    return sha.hexdigest(), size


def _within_threshold(run: ImportRun) -> bool:
    threshold = int(run.definition.get("error_threshold", 0))
    return run.rows_with_errors <= threshold


def _staleness(run: ImportRun) -> str:
    changes = audit.count_since(
        run.organization_id,
        run.register_seq,
        subject_types=_PLAN_READS_SUBJECTS,
        actions=_PLAN_READS_ACTIONS,
    )
    if not changes:
        return ""
    return (
        f"the register changed since this plan was made ({changes} changes): plan the file "
        "again and review the new plan"
    )


def _apply(
    organization: Organization,
    actor: Actor,
    reason: str,
    run: ImportRun,
    progress: Progress | None,
) -> None:
    started = time.monotonic()
    with audit.annotated(importRunId=run.id):
        apply_plan(organization, actor, reason, run, progress)
    run.status = RunStatus.APPLIED
    run.applied_at = now()
    run.applied_by_label = actor.label[:300]
    run.apply_seconds = round(time.monotonic() - started, 3)
    run.save(update_fields=["status", "applied_at", "applied_by_label", "apply_seconds"])
    _event(run, actor, reason, "import.applied")


def _applying_failed(exc: RegistraError) -> str:
    return f"nothing was applied: {exc.message}"


@transaction.atomic
def _failed(run: ImportRun, message: str) -> ImportRun:
    """Record a run that could not plan or apply (its plan, if any, was rolled back)."""
    return _record_end(run, RunStatus.FAILED, message, "import.failed")


@transaction.atomic
def _refused(run: ImportRun, message: str) -> ImportRun:
    return _record_end(run, RunStatus.REFUSED, message, "import.refused")


def _record_end(run: ImportRun, status: str, message: str, action: str) -> ImportRun:
    run.status, run.message = status, message[:4000]
    if ImportRun.objects.filter(pk=run.pk).exists():
        run.save(update_fields=["status", "message"])
    else:  # its plan was rolled back with it: the run keeps the plan's counts
        run.save(force_insert=True)
    _event(run, _actor_of(run), run.reason, action)
    return run


def _occurrence_taken(run: ImportRun) -> bool:
    return ImportRun.objects.filter(
        organization_id=run.organization_id,
        profile_id=run.profile_id,
        scheduled_for=run.scheduled_for,
    ).exists()


def _actor_of(run: ImportRun) -> Actor:
    return Actor(
        kind=run.started_by_type,
        id=run.started_by_id,
        label=run.started_by_label,
        organization_id=run.organization_id,
    )


def _event(run: ImportRun, actor: Actor, reason: str, action: str) -> None:
    audit.record(
        organization_id=run.organization_id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="import-run",
        subject_id=run.id,
        after=run_summary(run),
    )


def run_summary(run: ImportRun) -> dict[str, Any]:
    """What the audit log keeps of a run."""
    return {
        "profile": run.profile_name,
        "status": run.status,
        "trigger": run.trigger,
        "fileName": run.file_name,
        "fileSha256": run.file_sha256,
        "rowsRead": run.rows_read,
        "rowsWithErrors": run.rows_with_errors,
        "counts": run.counts,
        **({"message": run.message} if run.message else {}),
    }
