"""The web's runs in the worker (decision 0020), beyond the pages (tests/web/test_import_pages.py):
a task lost with a killed worker is queued again by the next ``registra worker`` and the run is
done once, however many tasks it has; a file the profile cannot read fails and is deleted; a
run whose profile was deleted meanwhile fails saying so."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registra.assets.models import Asset
from registra.core.models import AuditEvent
from registra.imports import services, tasks
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations.policy import actor_for_member
from tests.cast import Cast
from tests.imports.helpers import REASON, export, make_profile, row, work_off

pytestmark = pytest.mark.django_db(transaction=True)  # the worker checks its connection (work_off)


def _queue(cast: Cast, content: bytes, name: str = "amos.csv") -> ImportRun:
    return services.import_run_queue(
        organization=cast.org,
        actor=actor_for_member(cast.editor),
        reason=REASON,
        profile_id=make_profile(cast).id,
        upload=ContentFile(content),
        name=name,
    )


def _csv(tmp_path: Path, n: int) -> bytes:
    return export(tmp_path / "amos.csv", [row(f"TW-{i}") for i in range(n)]).path.read_bytes()


def _lose_tasks() -> None:
    """What a worker killed mid-task leaves: its task marked running for good."""
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)


def _events(action: str, run: ImportRun) -> int:
    return AuditEvent.objects.filter(action=action, subject_id=run.id).count()


def test_a_queued_run_whose_task_was_lost_is_queued_again_and_planned_once(
    cast: Cast, tmp_path: Path
) -> None:
    run = _queue(cast, _csv(tmp_path, 3))
    _lose_tasks()
    work_off()  # nothing is due: the only task is "running"
    run.refresh_from_db()
    assert run.status == "queued"
    assert services.requeue_waiting() == 1
    assert services.requeue_waiting() == 0  # it has a task waiting now
    tasks.plan_uploaded_import.enqueue(run.id)  # a second task of the same run
    work_off()
    run.refresh_from_db()
    assert run.status == "planned" and run.rows_read == 3
    assert ImportPlanItem.objects.filter(run=run, kind="create").count() == 3
    assert _events("import.planned", run) == 1
    assert not default_storage.exists(f"import-uploads/{run.id}-amos.csv")
    results = DBTaskResult.objects.filter(status="SUCCESSFUL").values_list(
        "return_value", flat=True
    )
    assert f"run {run.id} is not queued: nothing to do" in results


def test_an_apply_whose_task_was_lost_is_queued_again_and_applied_once(
    cast: Cast, tmp_path: Path
) -> None:
    run = _queue(cast, _csv(tmp_path, 2))
    work_off()
    services.import_run_request_apply(
        organization=cast.org, actor=actor_for_member(cast.admin), reason=REASON, run_id=run.id
    )
    _lose_tasks()
    assert services.requeue_waiting() == 1
    work_off()
    run.refresh_from_db()
    assert run.status == "applied" and run.applied_by_label == cast.admin.full_name
    assert run.apply_requested_at is None
    assert Asset.objects.filter(organization=cast.org).count() == 2
    assert _events("import.applied", run) == 1
    assert services.requeue_waiting() == 0


def test_an_upload_the_profile_cannot_read_fails_and_is_deleted(cast: Cast) -> None:
    run = _queue(cast, b"Description;Status\r\nTorque wrench;In Service\r\n")
    assert default_storage.exists(run.upload_key)
    work_off()
    failed = ImportRun.objects.get(pk=run.pk)
    assert failed.status == "failed" and "Equipment No" in failed.message
    assert failed.upload_key == "" and not default_storage.exists(run.upload_key)
    assert _events("import.failed", run) == 1


def test_a_run_whose_profile_was_deleted_meanwhile_fails_saying_so(
    cast: Cast, tmp_path: Path
) -> None:
    run = _queue(cast, _csv(tmp_path, 1))
    assert run.profile_id is not None
    services.import_profile_delete(
        organization=cast.org,
        actor=actor_for_member(cast.admin),
        reason=REASON,
        profile_id=run.profile_id,
    )
    work_off()
    run.refresh_from_db()
    assert run.status == "failed" and run.message == "its import profile was deleted"
    assert not default_storage.exists(f"import-uploads/{run.id}-amos.csv")
