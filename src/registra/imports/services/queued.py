"""Web runs go through the worker (decision 0020): a file uploaded in the web is kept in the
storage and planned by ``registra worker``, and a plan applied from the web is applied by it,
so no request waits for a large file. The worker's steps run the same services as the command
line and the nightly run (``import_run_start``'s planning, ``import_run_apply``), as the
member who asked, with that member's role as it is when the worker runs.

A queued run is recorded at once (its page says it waits for the worker). Its plan is made in
one transaction that holds the profile, as every run's is; a worker killed meanwhile rolls it
back and leaves the run queued, and the next ``registra worker`` queues it again
(``requeue_waiting``). Whichever task takes a run first plans it; a second finds it planned
and does nothing. The same holds for an apply that was asked for.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import get_valid_filename
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registra.core import validation
from registra.core.audit import Actor
from registra.core.errors import RegistraError, Unprocessable
from registra.core.timefmt import now
from registra.imports import selectors
from registra.imports.choices import APPLY_TASK, PLAN_TASK, RunStatus, RunTrigger
from registra.imports.models import ImportProfile, ImportRun
from registra.imports.schedule import unless_busy
from registra.imports.services.runs import (
    ImportFailed,
    Progress,
    SourceFile,
    _event,
    _failed,
    _holding,
    _new_run,
    _plan,
    _Unreadable,
    digest_of,
    import_run_apply,
)
from registra.organizations.models import Member, Organization, ServiceAccount
from registra.organizations.policy import (
    Permission,
    actor_for_member,
    actor_for_service_account,
    actor_for_system_job,
    require,
)

log = logging.getLogger(__name__)

UPLOAD_FOLDER = "import-uploads"


def import_run_queue(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    profile_id: str,
    upload: File,
    name: str,
) -> ImportRun:
    """Keep ``upload`` for the worker to plan with the profile (a preview: nothing of the
    register changes) and record its run as queued, audited as ``import.queued``. The worker
    plans it as ``actor``, with the actor's permissions as they are then."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    profile = selectors.profile_get(organization, profile_id)
    source = SourceFile(path=Path(), name=PurePath(name or "upload").name or "upload")
    run = _new_run(organization, actor, reason, profile, source, RunTrigger.WEB, None)
    run.status = RunStatus.QUEUED
    file_name = get_valid_filename(source.name) or "upload"
    key = default_storage.save(f"{UPLOAD_FOLDER}/{run.id}-{file_name}", upload)
    try:
        with transaction.atomic():
            run.upload_key = key
            with default_storage.open(key, "rb") as kept:
                run.file_sha256, run.file_size = digest_of(kept)
            run.save(force_insert=True)
            _event(run, actor, reason, "import.queued")
            _enqueue(PLAN_TASK, run.id)
    except BaseException:
        default_storage.delete(key)
        raise
    return run


def import_run_request_apply(
    *, organization: Organization, actor: Actor, reason: str, run_id: str
) -> ImportRun:
    """Ask the worker to apply a plan that waits for review, as ``actor`` with ``reason``
    (the worker applies it with ``import_run_apply``: all or nothing, refused if the register
    changed since the plan). Unprocessable when the run is not planned or already asked."""
    require(actor, Permission.RUN_IMPORT, organization=organization)
    reason = validation.reason(reason)
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().get(
            pk=selectors.run_get(organization, run_id).pk
        )
        if run.status != RunStatus.PLANNED:
            raise Unprocessable(f"run {run.id} is {run.status}: only a planned run applies")
        if run.apply_requested_at is not None:
            raise Unprocessable(f"run {run.id} is being applied already")
        run.apply_requested_at = now()
        run.apply_requested_by_type = actor.kind
        run.apply_requested_by_id = actor.id
        run.apply_requested_by_label = actor.label[:300]
        run.apply_reason = reason
        run.save(update_fields=_REQUEST_FIELDS)
        _enqueue(APPLY_TASK, run.id)
    return run


# --- the worker's steps ----------------------------------------------------------------------


def plan_uploaded(run_id: str) -> str:
    """Plan a queued run's uploaded file (the worker's step); what happened, for the task's
    result. The uploaded file is deleted once the run is planned or failed."""
    run = ImportRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).first()
    if run is None:
        return f"run {run_id} is not queued: nothing to do"
    key = run.upload_key
    try:
        organization, profile, _ = _context(run, run.started_by_type, run.started_by_id)
        with _holding(profile):
            locked = ImportRun.objects.select_for_update().filter(pk=run.pk).first()
            if locked is None or locked.status != RunStatus.QUEUED:
                return f"run {run_id} was planned by another task"
            run = locked
            run.status, run.upload_key = RunStatus.PLANNING, ""
            with _local(key) as path:
                source = SourceFile(path=path, name=run.file_name)
                _plan(organization, run, source, _logged(run.id))
    except _Unreadable as exc:
        run = _failed(run, str(exc))
    except RegistraError as exc:
        run = _failed(run, exc.message)
    except Exception:
        _failed(run, "planning stopped with an unexpected error (the worker's log says more)")
        _delete_upload(run.pk, key)
        raise
    _delete_upload(run.pk, key)
    return f"run {run.id} {run.status}"


def apply_requested(run_id: str) -> str:
    """Apply a run whose apply was asked for (the worker's step), as the member who asked."""
    run = ImportRun.objects.filter(
        pk=run_id, status=RunStatus.PLANNED, apply_requested_at__isnull=False
    ).first()
    if run is None:
        return f"run {run_id} waits for no apply: nothing to do"
    try:
        try:
            organization, _, actor = _context(
                run, run.apply_requested_by_type, run.apply_requested_by_id
            )
        except RegistraError as exc:  # the plan still waits for review, by someone who may
            log.warning("import run %s was not applied: %s", run_id, exc.message)
            return f"run {run_id} not applied: {exc.message}"
        run = import_run_apply(
            organization=organization, actor=actor, reason=run.apply_reason, run_id=run.id
        )
    except ImportFailed as exc:
        run = exc.run
    except Unprocessable as exc:  # applied or discarded meanwhile
        return f"run {run_id} not applied: {exc.message}"
    finally:
        ImportRun.objects.filter(pk=run_id).update(**_CLEARED)
    return f"run {run.id} {run.status}"


def requeue_waiting() -> int:
    """Queue a task again for every queued run, and every apply asked for, that has no task
    waiting (its worker was killed); how many. ``registra worker`` calls this as it starts.
    A run another worker is working on meanwhile is not done twice: the second task waits
    for the profile, then finds it done."""

    def queue_missing() -> int:
        queued = 0
        for path, runs in (
            (PLAN_TASK, ImportRun.objects.filter(status=RunStatus.QUEUED)),
            (
                APPLY_TASK,
                ImportRun.objects.filter(
                    status=RunStatus.PLANNED, apply_requested_at__isnull=False
                ),
            ),
        ):
            waiting = _waiting(path)
            for run_id in runs.values_list("id", flat=True):
                if run_id not in waiting:
                    _enqueue(path, run_id)
                    queued += 1
        return queued

    return unless_busy(queue_missing, "the queued web imports")


# --- helpers -------------------------------------------------------------------------------

# What asking for an apply sets on the run, as it is when nobody has asked.
_CLEARED: dict[str, object] = {
    "apply_requested_at": None,
    "apply_requested_by_type": "",
    "apply_requested_by_id": "",
    "apply_requested_by_label": "",
    "apply_reason": "",
}
_REQUEST_FIELDS = list(_CLEARED)


def _context(run: ImportRun, kind: str, actor_id: str) -> tuple[Organization, ImportProfile, Actor]:
    """The run's organization and profile, and who asked, as they are now: a member revoked
    or demoted since, or a service account revoked, may no longer run imports (``Forbidden``)."""
    organization = Organization.objects.get(pk=run.organization_id)
    if run.profile_id is None:
        raise Unprocessable("its import profile was deleted")
    profile = selectors.profile_get(organization, run.profile_id)
    actor = _actor_now(organization, kind, actor_id)
    require(actor, Permission.RUN_IMPORT, organization=organization)
    return organization, profile, actor


def _actor_now(organization: Organization, kind: str, actor_id: str) -> Actor:
    if kind == "system":
        job = actor_id.removeprefix("system:")
        return actor_for_system_job(job, organization=organization)
    found: Member | ServiceAccount | None
    if kind == "member":
        found = Member.objects.filter(pk=actor_id, organization=organization).first()
        if found is not None:
            return actor_for_member(found)
    elif kind == "service-account":
        found = ServiceAccount.objects.filter(pk=actor_id, organization=organization).first()
        if found is not None:
            return actor_for_service_account(found)
    raise Unprocessable(f"{actor_id} is no longer in the organization")


@contextmanager
def _local(key: str) -> Iterator[Path]:
    """The stored upload as a file on this host: the storage's own path when it has one, else
    a temporary copy (a storage on another service), deleted afterwards."""
    try:
        own = default_storage.path(key)
    except NotImplementedError:
        own = ""
    if own:
        yield Path(own)
        return
    with tempfile.NamedTemporaryFile(suffix=PurePath(key).suffix) as copy:
        with default_storage.open(key, "rb") as stored:
            for chunk in iter(lambda: stored.read(1 << 20), b""):
                copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _logged(run_id: str) -> Progress:
    """The worker's log says how far a plan is, one line per batch of rows."""

    def progress(phase: str, done: int, total: int | None) -> None:
        log.info("import run %s: %s, %d of %s bytes read", run_id, phase, done, total or "?")

    return progress


def _delete_upload(run_id: str, key: str) -> None:
    """The uploaded file is gone once its run is planned or failed."""
    if key:
        default_storage.delete(key)
    ImportRun.objects.filter(pk=run_id).exclude(upload_key="").update(upload_key="")


def _enqueue(path: str, run_id: str) -> None:
    from registra.imports import tasks  # tasks imports the services

    task = tasks.plan_uploaded_import if path == PLAN_TASK else tasks.apply_requested_import
    task.enqueue(run_id)


def _waiting(path: str) -> set[str]:
    args = DBTaskResult.objects.filter(task_path=path, status=TaskResultStatus.READY).values_list(
        "args_kwargs", flat=True
    )
    return {a["args"][0] for a in args}
