"""The tasks ``registra worker`` runs: the nightly run of an import profile, and the web's
runs (a file uploaded to plan, a plan to apply: ``services/queued.py``, decision 0020).

It fetches the file (the newest in the drop folder that matches the pattern, or the file at
the URL), runs the profile over it as the ``scheduled-import`` system job (applied when the row
errors are within the profile's threshold, otherwise left for review), deletes the plans of
the organization's runs older than ``REGISTRA_IMPORT_PLAN_DAYS`` when that is set, then moves
the profile on to its next night. A URL that answers with an error, or not at all, is a failed
run with the reason; an empty drop folder runs nothing (a warning in the log). Neither stops
the worker.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django_tasks import task

from registra.core.errors import Conflict
from registra.imports import schedule, services
from registra.imports.choices import RunStatus, RunTrigger
from registra.imports.models import ImportProfile, ImportRun
from registra.imports.services import ImportFailed, SourceFile
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Organization
from registra.organizations.policy import actor_for_system_job

log = logging.getLogger(__name__)

DEFAULT_URL_TIMEOUT = 60.0  # seconds; REGISTRA_IMPORT_URL_TIMEOUT overrides it


@task()
def run_scheduled_import(organization_id: str, profile_id: str, occurrence: str) -> str:
    """Run the profile's night ``occurrence`` (ISO 8601, UTC) if the profile still waits for
    it, then queue its next night; what happened, for the task's result."""
    at = datetime.fromisoformat(occurrence)
    profile = schedule.waiting_profile(organization_id, profile_id, at)
    if profile is None:
        log.info("nightly import %s of %s skipped: no longer due", occurrence, profile_id)
        return "skipped: the profile no longer waits for this run"
    organization = org_selectors.organization_get(organization_id)
    try:
        outcome = _run(organization, profile, at)
        _purge_old_plans(organization)
        return outcome
    finally:  # even after an unexpected error: one bad night must not end the schedule
        schedule.advance(organization, profile.pk, at)


@task()
def plan_uploaded_import(run_id: str) -> str:
    """Plan the file uploaded in the web for a queued run."""
    return services.plan_uploaded(run_id)


@task()
def apply_requested_import(run_id: str) -> str:
    """Apply a planned run as the member who asked for it in the web."""
    return services.apply_requested(run_id)


class _Unreachable(Exception):
    """The file at the URL could not be fetched; the message says why."""


def _run(organization: Organization, profile: ImportProfile, at: datetime) -> str:
    plan = schedule.schedule_of(profile) or {}
    actor = actor_for_system_job(
        "scheduled-import", organization=organization, label=f"nightly import {profile.name}"
    )
    common: dict[str, Any] = {
        "organization": organization,
        "actor": actor,
        "profile_id": profile.pk,
        "trigger": RunTrigger.SCHEDULE,
        "scheduled_for": at,
    }
    try:
        try:
            with _fetched(plan) as source:
                if source is None:
                    return f"nothing to import: no file matches {plan.get('pattern', '*')}"
                run = services.import_run_start(
                    **common, reason=_reason(profile, source.name), source=source, apply="auto"
                )
        except _Unreachable as exc:
            name = _shown_url(plan["url"])
            run = services.import_run_unreachable(
                **common, reason=_reason(profile, name), source_name=name, message=str(exc)
            )
    except ImportFailed as exc:
        run = exc.run
    except Conflict:
        log.info("nightly import of %s for %s already ran", profile.name, at.isoformat())
        return "skipped: this night's run is recorded already"
    return _outcome(profile, run)


def _purge_old_plans(organization: Organization) -> None:
    """The organization's plans past ``REGISTRA_IMPORT_PLAN_DAYS`` (when set), deleted after
    the night's run, whatever it found (decision 0019)."""
    days = settings.REGISTRA_IMPORT_PLAN_DAYS
    if not days:
        return
    purged = services.import_plans_purge(
        organization=organization,
        actor=actor_for_system_job(
            "scheduled-import", organization=organization, label="import plan retention"
        ),
        reason=f"Plans of import runs older than {days} days (REGISTRA_IMPORT_PLAN_DAYS)",
        older_than_days=days,
        apply=True,
    )
    if purged:
        items = sum(p.items for p in purged)
        log.info("purged the plans of %d import runs (%d items)", len(purged), items)


def _reason(profile: ImportProfile, file_name: str) -> str:
    return f"Nightly CMMS import of profile '{profile.name}' ({file_name[:300]})"


def _outcome(profile: ImportProfile, run: ImportRun) -> str:
    level = logging.INFO if run.status == RunStatus.APPLIED else logging.WARNING
    why = f": {run.message}" if run.message else ""
    log.log(level, "nightly import of %s: run %s %s%s", profile.name, run.id, run.status, why)
    return f"run {run.id} {run.status}"


@contextmanager
def _fetched(plan: dict[str, Any]) -> Iterator[SourceFile | None]:
    """The file this night reads: the newest match in the drop folder (None if there is
    none), or the file at the URL downloaded to a temporary folder (deleted afterwards)."""
    if plan.get("url"):
        with tempfile.TemporaryDirectory(prefix="registra-import-") as folder:
            yield _download(plan["url"], Path(folder))
        return
    yield _newest(plan.get("folder") or "", plan.get("pattern") or "*")


def _newest(folder_name: str, pattern: str) -> SourceFile | None:
    folder = Path(folder_name)
    if not folder_name or not folder.is_dir():
        log.warning("nightly import: the drop folder %s does not exist", folder)
        return None
    files = [p for p in folder.glob(pattern) if p.is_file()]
    if not files:
        log.warning("nightly import: no file in %s matches %s", folder, pattern)
        return None
    newest = max(files, key=lambda p: (p.stat().st_mtime_ns, p.name))
    return SourceFile(path=newest, name=newest.name)


def _download(url: str, folder: Path) -> SourceFile:
    """Stream the file at ``url`` into ``folder``; ``_Unreachable`` with a message fit for the
    run history when the URL answers with an error status, not at all, or breaks off."""
    timeout = float(getattr(settings, "REGISTRA_IMPORT_URL_TIMEOUT", DEFAULT_URL_TIMEOUT))
    name = PurePosixPath(urlsplit(url).path).name or "export"
    path = folder / name
    request = urllib.request.Request(url, headers={"User-Agent": "Registra nightly import"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, path.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as exc:
        raise _Unreachable(f"the export URL answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise _Unreachable(f"the export URL did not answer within {timeout:g} s") from None
        raise _Unreachable(f"the export URL could not be read: {reason}") from None
    return SourceFile(path=path, name=name)


def _shown_url(url: str) -> str:
    """The URL as the run history shows it: without credentials or a query (a token there is
    a secret), at most 500 characters."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:500]
