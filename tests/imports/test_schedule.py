"""The nightly schedule: the next occurrence at a local time across both DST changes, the
nightly run with a controlled clock (the library's worker, in this process), a drop folder and
a URL source that answers 404 or not at all, and two real ``registra worker`` processes that
never run one night twice. Both databases.

The worker tests commit (``transaction=True``): the worker checks its connection between tasks
as Django does between requests, which a test transaction would not survive."""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registra import cli
from registra.assets.models import Asset
from registra.core.audit import verify_chain
from registra.core.errors import Conflict, Forbidden
from registra.core.models import AuditEvent
from registra.imports import schedule, selectors, services
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
from registra.imports.schedule import next_occurrence
from tests.cast import Cast
from tests.imports.helpers import PROFILE, REASON, export, make_profile, own_signals, row, work_off
from tests.servers import own_database, registra, run_python, run_registra, stop

BERLIN = ZoneInfo("Europe/Berlin")
# A night in winter time (UTC+1) after the helpers' calibration date: 02:00 there is 01:00 UTC.
NIGHT = datetime(2026, 11, 10, 2, 0, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- the next occurrence -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time_of_day", "zone", "after", "expected"),
    [
        # Local time, not UTC: 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
        ("02:00", "Europe/Berlin", utc(2026, 1, 10, 0, 0), utc(2026, 1, 10, 1, 0)),
        ("02:00", "Europe/Berlin", utc(2026, 7, 9, 23, 0), utc(2026, 7, 10, 0, 0)),
        # Auckland is a day ahead: 01:00 there on the 11th is still the 10th in UTC.
        ("02:00", "Pacific/Auckland", utc(2026, 1, 10, 12, 0), utc(2026, 1, 10, 13, 0)),
        ("23:30", "America/New_York", utc(2026, 1, 10, 12, 0), utc(2026, 1, 11, 4, 30)),
        ("00:00", "UTC", utc(2026, 1, 10, 0, 0, 1), utc(2026, 1, 11, 0, 0)),
        # Strictly after: at the very moment, the next night; a microsecond before, this one.
        ("02:00", "Europe/Berlin", utc(2026, 1, 10, 1, 0), utc(2026, 1, 11, 1, 0)),
        (
            "02:00",
            "Europe/Berlin",
            utc(2026, 1, 10, 1, 0) - timedelta(microseconds=1),
            utc(2026, 1, 10, 1, 0),
        ),
    ],
)
def test_the_next_occurrence_is_the_local_time_strictly_after(
    time_of_day: str, zone: str, after: datetime, expected: datetime
) -> None:
    got = next_occurrence(time_of_day, ZoneInfo(zone), after)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


def test_a_time_the_spring_change_skips_runs_at_the_first_valid_moment() -> None:
    # 29 March 2026: Berlin's clocks jump from 02:00 (UTC+1) to 03:00 (UTC+2) at 01:00 UTC.
    evening = utc(2026, 3, 28, 20, 0)
    change = utc(2026, 3, 29, 1, 0)  # 03:00 summer time
    for skipped in ("02:00", "02:30", "02:59"):
        assert next_occurrence(skipped, BERLIN, evening) == change
    assert next_occurrence("03:00", BERLIN, evening) == change
    assert next_occurrence("01:59", BERLIN, evening) == utc(2026, 3, 29, 0, 59)
    # The night after is an ordinary summer night.
    assert next_occurrence("02:30", BERLIN, change) == utc(2026, 3, 30, 0, 30)


def test_a_time_the_autumn_change_repeats_runs_once() -> None:
    # 25 October 2026: Berlin's clocks go back from 03:00 (UTC+2) to 02:00 (UTC+1) at 01:00
    # UTC, so 02:30 happens twice: 00:30 and 01:30 UTC. It runs at the first only.
    first = next_occurrence("02:30", BERLIN, utc(2026, 10, 24, 20, 0))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_occurrence("02:30", BERLIN, first) == utc(2026, 10, 26, 1, 30)
    between = utc(2026, 10, 25, 1, 10)  # 02:10 winter time, after the first 02:30
    assert next_occurrence("02:30", BERLIN, between) == utc(2026, 10, 26, 1, 30)
    assert next_occurrence("03:00", BERLIN, utc(2026, 10, 24, 20, 0)) == utc(2026, 10, 25, 2, 0)


@pytest.mark.parametrize("time_of_day", ["02:00", "02:30", "03:00", "23:59"])
def test_every_night_runs_exactly_once_across_both_changes(time_of_day: str) -> None:
    for start in (utc(2026, 3, 25, 12, 0), utc(2026, 10, 22, 12, 0)):
        nights, at = [], start
        for _ in range(7):
            at = next_occurrence(time_of_day, BERLIN, at)
            nights.append(at.astimezone(BERLIN).date())
        first = nights[0]
        # One run a night, no night left out.
        assert nights == [first + timedelta(days=n) for n in range(7)]


@pytest.mark.parametrize("bad", ["24:00", "2:00", "02:60", "0200", "ab:cd", ""])
def test_a_time_that_is_not_hh_mm_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        next_occurrence(bad, BERLIN, utc(2026, 1, 1, 0, 0))


# --- the nightly run, with a controlled clock ----------------------------------------------


def _drop(cast: Cast, folder: Path, **overrides: Any) -> ImportProfile:
    """A profile that runs nightly at 02:00 from ``folder`` (made at the current clock)."""
    plan = {"time": "02:00", "folder": str(folder), "pattern": "amos-*.csv"}
    return make_profile(cast, schedule=plan, **overrides)


def _tasks(status: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=schedule.TASK_PATH, status=status))


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.mark.django_db(transaction=True)
def test_the_nightly_run_applies_the_newest_export_at_its_local_time(cast: Cast, drop: Path):
    old = export(drop / "amos-2026-11-09.csv", [row("TW-OLD")]).path
    os.utime(old, (1_000_000, 1_000_000))  # an older export still in the folder
    export(drop / "amos-2026-11-10.csv", [row("TW-1"), row("TW-2")])
    export(drop / "notes.csv", [row("TW-NOTE")])  # does not match the pattern
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        assert profile.next_run_at == NIGHT
        assert [t.run_after for t in _tasks(TaskResultStatus.READY)] == [NIGHT]
        work_off()
        assert not ImportRun.objects.exists()  # 01:59: not yet

        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    run = ImportRun.objects.get()
    assert (run.trigger, run.status, run.scheduled_for) == ("schedule", "applied", NIGHT)
    assert run.file_name == "amos-2026-11-10.csv"
    assert run.started_by_id == "system:scheduled-import"
    assert run.started_by_label == "nightly import AMOS nightly"
    assert run.reason == "Nightly CMMS import of profile 'AMOS nightly' (amos-2026-11-10.csv)"
    keys = set(Asset.objects.filter(organization=cast.org).values_list("asset_key", flat=True))
    assert keys == {"TW-1", "TW-2"}
    events = list(AuditEvent.objects.filter(organization_id=cast.org.id, subject_type="asset"))
    assert len(events) == 2 and all(e.diff["importRunId"] == run.id for e in events)
    assert all(e.actor_id == "system:scheduled-import" for e in events)
    applied = AuditEvent.objects.get(subject_id=run.id, action="import.applied")
    assert applied.actor_label == "nightly import AMOS nightly"
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)
    assert [t.run_after for t in _tasks(TaskResultStatus.READY)] == [NIGHT + timedelta(days=1)]
    assert [t.return_value for t in _tasks(TaskResultStatus.SUCCESSFUL)] == [
        f"run {run.id} applied"
    ]
    assert verify_chain(cast.org.id).ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("days", [0, 30])
def test_the_nightly_run_purges_plans_past_the_retention_period(
    cast: Cast, drop: Path, tmp_path: Path, days: int
):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False):
        profile = _drop(cast, drop)
    with time_machine.travel(NIGHT - timedelta(days=31), tick=False):
        source = export(tmp_path / "old.csv", [row("TW-OLD"), row("TW-OLDER")])
        old = services.import_run_start(
            organization=cast.org,
            actor=cast.actor(cast.editor),
            reason=REASON,
            profile_id=profile.id,
            source=source,
            trigger="web",
            apply="yes",
        )
    old_items = ImportPlanItem.objects.filter(run=old).count()
    assert old_items >= 2
    night_time = time_machine.travel(NIGHT + timedelta(seconds=30), tick=False)
    with override_settings(REGISTRA_IMPORT_PLAN_DAYS=days), night_time:
        work_off()
    night = ImportRun.objects.get(scheduled_for=NIGHT)
    assert night.status == "applied" and ImportPlanItem.objects.filter(run=night).exists()
    old.refresh_from_db()
    purged = AuditEvent.objects.filter(action="import.plan-purged")
    if not days:  # the default keeps every plan
        assert ImportPlanItem.objects.filter(run=old).count() == old_items
        assert old.items_purged_at is None and not purged.exists()
        return
    assert not ImportPlanItem.objects.filter(run=old).exists()
    assert old.items_purged_at == NIGHT + timedelta(seconds=30)
    event = purged.get()
    assert (event.subject_id, event.actor_id) == (old.id, "system:scheduled-import")
    assert event.actor_label == "import plan retention"
    assert event.reason == "Plans of import runs older than 30 days (REGISTRA_IMPORT_PLAN_DAYS)"
    assert verify_chain(cast.org.id).ok


@pytest.mark.django_db(transaction=True)
def test_a_night_with_errors_above_the_threshold_waits_for_review(cast: Cast, drop: Path):
    rows = [row("TW-1"), row("TW-2", Last_Cal="31.02.2026"), row("TW-3", Status="Scrapped")]
    export(drop / "amos-2026-11-10.csv", rows)
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop, error_threshold=1)
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    run = ImportRun.objects.get()
    assert (run.status, run.rows_with_errors, run.scheduled_for) == ("planned", 2, NIGHT)
    assert not Asset.objects.filter(organization=cast.org).exists()  # nothing applied
    assert selectors.runs_waiting_for_review(cast.org) == [run]
    actions = AuditEvent.objects.filter(subject_id=run.id).values_list("action", flat=True)
    assert list(actions) == ["import.planned"]
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_an_empty_drop_folder_runs_nothing_and_keeps_the_schedule(
    cast: Cast, drop: Path, caplog: pytest.LogCaptureFixture
):
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        clock.move_to(NIGHT + timedelta(seconds=30))
        with caplog.at_level(logging.WARNING, logger="registra.imports.tasks"):
            work_off()
    assert not ImportRun.objects.exists()
    assert f"no file in {drop} matches amos-*.csv" in caplog.text
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)
    assert len(_tasks(TaskResultStatus.READY)) == 1


@pytest.mark.django_db(transaction=True)
def test_nights_missed_while_no_worker_ran_run_once(cast: Cast, drop: Path):
    export(drop / "amos-2026-11-12.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        clock.move_to(NIGHT + timedelta(days=3, hours=8))  # the worker is back on day four
        work_off()
    run = ImportRun.objects.get()
    assert (run.status, run.scheduled_for) == ("applied", NIGHT)  # the night it waited for
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=4)  # the next night still to come


@pytest.mark.django_db(transaction=True)
def test_a_changed_schedule_leaves_the_old_night_undone(cast: Cast, drop: Path):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False) as clock:
        profile = _drop(cast, drop)
        later = {
            **profile.definition,
            "schedule": {**profile.definition["schedule"], "time": "03:00"},
        }
        services.import_profile_update(
            organization=cast.org,
            actor=cast.actor(cast.admin),
            reason=REASON,
            profile_id=profile.id,
            definition=later,
        )
        assert len(_tasks(TaskResultStatus.READY)) == 2  # the 02:00 task stays queued
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
        assert not ImportRun.objects.exists()
        assert [t.return_value for t in _tasks(TaskResultStatus.SUCCESSFUL)] == [
            "skipped: the profile no longer waits for this run"
        ]
        clock.move_to(NIGHT + timedelta(hours=1, seconds=30))
        work_off()
    run = ImportRun.objects.get()
    assert run.scheduled_for == NIGHT + timedelta(hours=1)
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1, hours=1)


@pytest.mark.django_db(transaction=True)
def test_a_removed_schedule_runs_nothing_more(cast: Cast, drop: Path):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(hours=1), tick=False) as clock:
        profile = _drop(cast, drop)
        services.import_profile_update(
            organization=cast.org,
            actor=cast.actor(cast.admin),
            reason=REASON,
            profile_id=profile.id,
            definition=PROFILE,
        )
        profile.refresh_from_db()
        assert profile.next_run_at is None
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    assert not ImportRun.objects.exists()
    assert not _tasks(TaskResultStatus.READY)


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_is_queued_again_when_a_worker_starts(cast: Cast, drop: Path):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        assert schedule.ensure_enqueued() == 0  # its task is queued already
        # A worker killed in the middle of the run leaves its task "running" for good.
        DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)
        assert schedule.ensure_enqueued() == 1
        assert schedule.ensure_enqueued() == 0
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    assert ImportRun.objects.get().scheduled_for == NIGHT
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_registra_worker_queues_what_is_missing_then_runs_what_is_due(
    cast: Cast, drop: Path, capsys: pytest.CaptureFixture[str]
):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        DBTaskResult.objects.all().delete()  # a profile saved before its task was queued
        clock.move_to(NIGHT + timedelta(seconds=30))
        with own_signals():
            assert cli.main(["worker", "--batch", "--worker-id", "cli-tests"]) == 0
    assert "queued 1 nightly imports that had no task waiting" in capsys.readouterr().out
    run = ImportRun.objects.get()
    assert (run.status, run.scheduled_for) == ("applied", NIGHT)
    (done,) = _tasks(TaskResultStatus.SUCCESSFUL)
    assert done.worker_ids == ["cli-tests"]
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)


@pytest.mark.parametrize("worker_id", ["", "w" * 65])
def test_registra_worker_refuses_a_bad_worker_id(
    worker_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["worker", "--worker-id", worker_id])
    assert exited.value.code == 2
    assert "must be 1-64 characters" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_second_task_of_one_night_does_nothing(cast: Cast, drop: Path):
    export(drop / "amos-2026-11-10.csv", [row("TW-1")])
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _drop(cast, drop)
        schedule.enqueue(cast.org.id, profile.id, NIGHT)  # the same night, queued twice
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    assert ImportRun.objects.count() == 1
    outcomes = sorted(str(t.return_value) for t in _tasks(TaskResultStatus.SUCCESSFUL))
    assert outcomes[0].startswith("run ") and outcomes[1].startswith("skipped")
    assert len(_tasks(TaskResultStatus.READY)) == 1  # the next night, once


# --- a URL source --------------------------------------------------------------------------


class _Exports(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path.partition("?")[0])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet


@pytest.fixture
def exports() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A real HTTP server on loopback serving ``files`` (path -> body), 404 for the rest."""
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Exports,), {"files": files})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}", files
        server.shutdown()


@pytest.fixture
def silent() -> Iterator[str]:
    """An address that takes connections and never answers (the listen backlog accepts them;
    nothing ever reads the request)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def _from_url(cast: Cast, url: str) -> ImportProfile:
    return make_profile(cast, schedule={"time": "02:00", "url": url})


def _night(cast: Cast, url: str) -> ImportRun:
    """The profile reading ``url``, made at 01:59 and run by the worker at 02:00:30."""
    with time_machine.travel(NIGHT - timedelta(minutes=1), tick=False) as clock:
        profile = _from_url(cast, url)
        clock.move_to(NIGHT + timedelta(seconds=30))
        work_off()
    profile.refresh_from_db()
    assert profile.next_run_at == NIGHT + timedelta(days=1)  # the worker carried on
    assert len(_tasks(TaskResultStatus.READY)) == 1
    assert not _tasks(TaskResultStatus.FAILED)
    return ImportRun.objects.get()


@pytest.mark.django_db(transaction=True)
def test_the_nightly_run_reads_the_export_at_a_url(cast: Cast, exports, tmp_path: Path):
    base, files = exports
    files["/exports/amos.csv"] = export(tmp_path / "amos.csv", [row("TW-1")]).path.read_bytes()
    run = _night(cast, f"{base}/exports/amos.csv")
    assert (run.status, run.file_name, run.rows_read) == ("applied", "amos.csv", 1)
    assert Asset.objects.filter(organization=cast.org, asset_key="TW-1").exists()


@pytest.mark.django_db(transaction=True)
def test_a_url_that_answers_404_is_a_failed_run(cast: Cast, exports):
    base, _ = exports
    run = _night(cast, f"{base}/exports/missing.csv?token=s3cret")
    assert (run.status, run.trigger, run.scheduled_for) == ("failed", "schedule", NIGHT)
    assert run.message == "the export URL answered 404 Not Found"
    assert run.file_name == f"{base}/exports/missing.csv"  # the token is not kept
    event = AuditEvent.objects.get(subject_id=run.id)
    assert (event.action, event.actor_id) == ("import.failed", "system:scheduled-import")
    assert event.diff["after"]["message"] == run.message
    assert "s3cret" not in json.dumps(event.diff) + run.reason
    assert verify_chain(cast.org.id).ok


@pytest.mark.django_db(transaction=True)
def test_a_url_that_does_not_answer_in_time_is_a_failed_run(cast: Cast, silent: str):
    with override_settings(REGISTRA_IMPORT_URL_TIMEOUT=1):
        run = _night(cast, f"{silent}/exports/amos.csv")
    assert run.status == "failed"
    assert run.message == "the export URL did not answer within 1 s"
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_an_unreachable_run_is_recorded_once_and_only_for_who_may_run_imports(cast: Cast):
    profile = make_profile(cast)
    record = {
        "organization": cast.org,
        "reason": REASON,
        "profile_id": profile.id,
        "source_name": "https://cmms.example/amos.csv",
        "message": "the export URL answered 503 Service Unavailable",
        "trigger": "schedule",
        "scheduled_for": NIGHT,
    }
    with pytest.raises(Forbidden):
        services.import_run_unreachable(actor=cast.actor(cast.viewer), **record)
    assert not ImportRun.objects.exists()
    run = services.import_run_unreachable(actor=cast.actor(cast.editor), **record)
    assert (run.status, run.message) == ("failed", record["message"])
    with pytest.raises(Conflict):
        services.import_run_unreachable(actor=cast.actor(cast.editor), **record)
    assert ImportRun.objects.count() == 1
    assert AuditEvent.objects.filter(subject_id=run.id, action="import.failed").count() == 1


# --- two real workers ----------------------------------------------------------------------

SLUG = "skyline-mro"
PROFILES = 3
ROWS = 1500
# Makes the profiles two days ago (a controlled clock in that process), through the services:
# each one's first night is then long past, as if no worker had run since.
_SETUP = """
import json, sys
from datetime import timedelta
import django
django.setup()
import time_machine
from registra.core.timefmt import now
from registra.imports import schedule, services
from registra.organizations import selectors
from registra.organizations.policy import actor_for_system_job
org = selectors.organization_get_by_slug(sys.argv[1])
actor = actor_for_system_job("operator", organization=org, label="tests")
with time_machine.travel(now() - timedelta(days=2), tick=False):
    for definition in json.loads(sys.argv[2]):
        profile = services.import_profile_create(
            organization=org, actor=actor, reason="Nightly schedule tests", definition=definition
        )
        # Each night queued twice, so that both workers may take one night at once.
        schedule.enqueue(org.id, profile.id, profile.next_run_at)
"""
_RESULTS = """
import json, sys
import django
django.setup()
from django_tasks_db.models import DBTaskResult
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
runs = ImportRun.objects.order_by("profile_name").values_list(
    "profile_name", "status", "scheduled_for")
tasks = DBTaskResult.objects.values_list("status", "worker_ids", "return_value")
print(json.dumps({
    "runs": [[n, s, at.isoformat()] for n, s, at in runs],
    "run_ids": list(ImportRun.objects.values_list("id", flat=True)),
    "next": sorted(p.next_run_at.isoformat() for p in ImportProfile.objects.all()),
    "tasks": [list(t) for t in tasks],
}))
"""


def _worker(env: dict[str, str], worker_id: str, log: Path) -> subprocess.Popen[bytes]:
    """``registra worker --batch``, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            registra("worker", "--batch", "--worker-id", worker_id),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends all of it
        )


@pytest.fixture
def workers_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with own_database(tmp_path / "data", "reg_import_schedule") as env:
        run_registra(
            env,
            "org",
            "create",
            "--slug",
            SLUG,
            "--name",
            "Skyline MRO",
            "--timezone",
            "Europe/Berlin",
        )
        yield env


def test_two_real_workers_run_each_night_exactly_once(workers_env, tmp_path: Path) -> None:
    definitions = []
    for i in range(PROFILES):
        folder = tmp_path / f"drop-{i}"
        folder.mkdir()
        # Big enough that one worker is still running a night when the other takes its twin.
        export(folder / "amos.csv", [row(f"P{i}-{n:04d}") for n in range(ROWS)])
        plan = {"time": "02:00", "folder": str(folder), "pattern": "*.csv"}
        # A source of its own each: the profiles' assets are not absent from each other's files.
        defaults = {**PROFILE["defaults"], "sourceKind": f"cmms-amos-{i}"}
        definitions.append({**PROFILE, "name": f"AMOS {i}", "schedule": plan, "defaults": defaults})
    run_python(workers_env, _SETUP, SLUG, json.dumps(definitions))

    logs = [tmp_path / f"worker-{w}.log" for w in (1, 2)]
    workers = [_worker(workers_env, f"worker-{w}", log) for w, log in enumerate(logs, 1)]
    try:
        for process, log in zip(workers, logs, strict=True):  # waits for each to exit
            assert process.wait(timeout=300) == 0, log.read_text()
    finally:
        for process in workers:
            stop(process)
    results = json.loads(run_python(workers_env, _RESULTS))
    assert [(name, status) for name, status, _ in results["runs"]] == [
        (f"AMOS {i}", "applied") for i in range(PROFILES)
    ]
    assert len({at for _, _, at in results["runs"]}) == 1  # the same night, two days ago
    # Each night ran in one task; its other tasks (queued twice, or again by a worker that
    # started while another ran it) found it done.
    done = [str(value) for status, _, value in results["tasks"] if status == "SUCCESSFUL"]
    assert sorted(o for o in done if not o.startswith("skipped")) == sorted(
        f"run {run_id} applied" for run_id in results["run_ids"]
    )
    assert len(done) >= 2 * PROFILES
    waiting = [status for status, _, _ in results["tasks"] if status != "SUCCESSFUL"]
    assert waiting == ["READY"] * PROFILES  # each profile's next night, queued once
    assert all(len(ids) <= 1 for _, ids, _ in results["tasks"])  # no task taken twice
    first_night = datetime.fromisoformat(results["runs"][0][2])
    assert all(datetime.fromisoformat(at) > first_night for at in results["next"])
    assert "events verified" in run_registra(workers_env, "audit", "verify", "--org", SLUG)
