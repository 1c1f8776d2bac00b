"""Real ``registra import run`` processes on a database of their own: a process killed with
SIGKILL in the middle of apply leaves the register and the audit chain exactly as they were
(and the next run succeeds), and two runs of one profile started at once never overlap (one
writes the file, the other then finds nothing to change). A ``registra worker`` killed while
it plans a web upload leaves the run queued, and the next worker plans it. SQLite, or
PostgreSQL when the suite runs on it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from registra_client import dump_profile, profile_from_dict
from tests.imports.helpers import PROFILE, export, row
from tests.servers import own_database, registra, run_python, run_registra

SLUG = "skyline-mro"
ROWS = 6000  # three chunks of plan items to apply: the kill lands between two of them


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with own_database(tmp_path / "data", "reg_import_processes") as env:
        run_registra(env, "demo-data", "--org", SLUG, "--assets", "20", "--seed", "1")
        profile = tmp_path / "amos.toml"
        profile.write_text(dump_profile(profile_from_dict(PROFILE)))
        run_registra(env, "import", "profile", "import", "--org", SLUG, str(profile))
        yield env


def _export(tmp_path: Path) -> Path:
    rows = [row(f"NEW-{i:05d}") for i in range(ROWS)]
    return export(tmp_path / "amos.csv", rows).path


def _verified_events(env: dict[str, str]) -> int:
    printed = run_registra(env, "audit", "verify", "--org", SLUG)
    match = re.search(r"(\d+) events verified", printed)
    assert match, printed
    return int(match.group(1))


def _import(env: dict[str, str], path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        registra(
            "import",
            "run",
            "--org",
            SLUG,
            "--profile",
            PROFILE["name"],
            str(path),
            "--apply",
            *extra,
        ),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_a_process_killed_while_applying_changes_nothing(env, tmp_path: Path) -> None:
    path = _export(tmp_path)
    events = _verified_events(env)
    process = _import(env, path, "--progress", "lines")
    assert process.stderr is not None
    for line in process.stderr:  # blocks on the pipe: no timing involved
        if line.startswith("applying "):
            done, total = (int(n) for n in line.split()[1].split("/"))
            assert 0 < done < total  # really in the middle
            os.killpg(process.pid, signal.SIGKILL)
            break
    else:
        pytest.fail("the import finished without applying in steps")
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert _verified_events(env) == events  # the chain intact, no event of the dead run
    listed = run_registra(
        env, "import", "run", "--org", SLUG, "--profile", PROFILE["name"], str(path), "--json"
    )
    assert json.loads(listed)["counts"]["create"] == ROWS  # nothing of it was written

    again = _import(env, path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert f"{ROWS} to create" in out
    assert _verified_events(env) > events


def test_two_runs_of_one_profile_at_once_never_overlap(env, tmp_path: Path) -> None:
    path = _export(tmp_path)
    first, second = _import(env, path, "--json"), _import(env, path, "--json")
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    creates = sorted(r["counts"]["create"] for r in results)
    unchanged = sorted(r["counts"]["unchanged"] for r in results)
    assert creates == [0, ROWS] and unchanged == [0, ROWS]
    assert all(r["status"] == "applied" for r in results)
    _verified_events(env)


# A file uploaded in the web, as the web's view queues it (the service, as an editor).
QUEUE = """
import sys
import django
django.setup()
from django.core.files import File
from registra.imports import selectors, services
from registra.organizations.models import Member, Organization
from registra.organizations.policy import actor_for_member
org = Organization.objects.get(slug=sys.argv[1])
editor = Member.objects.filter(organization=org, role="editor", status="active").first()
profile = selectors.profile_get_by_name(org, sys.argv[2])
with open(sys.argv[3], "rb") as upload:
    run = services.import_run_queue(
        organization=org, actor=actor_for_member(editor), reason="Uploaded in the web",
        profile_id=profile.id, upload=File(upload), name="amos.csv",
    )
print(run.id)
"""
STATE = """
import sys
import django
django.setup()
from registra.imports.models import ImportPlanItem, ImportRun
run = ImportRun.objects.get(pk=sys.argv[1])
items = ImportPlanItem.objects.filter(run=run).count()
print(run.status, run.rows_read, items, run.upload_key or "-")
"""


def _python(env: dict[str, str], script: str, *args: str) -> str:
    return run_python(env, script, *args).strip()


def test_a_worker_killed_while_planning_an_upload_leaves_it_queued_for_the_next(
    env, tmp_path: Path
) -> None:
    run_id = _python(env, QUEUE, SLUG, PROFILE["name"], str(_export(tmp_path)))
    assert _python(env, STATE, run_id).split()[:3] == ["queued", "0", "0"]
    worker = subprocess.Popen(
        registra("worker", "--worker-id", "doomed"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert worker.stderr is not None
    for line in worker.stderr:  # blocks on the pipe: no timing involved
        if f"import run {run_id}: planning" in line:
            os.killpg(worker.pid, signal.SIGKILL)
            break
    else:
        pytest.fail("the worker stopped without planning the upload")
    worker.wait(timeout=60)
    status, rows, items, upload = _python(env, STATE, run_id).split()
    assert (status, rows, items) == ("queued", "0", "0")  # the plan's transaction rolled back
    assert upload != "-"  # and the file waits for the next worker

    printed = run_registra(env, "worker", "--batch", "--worker-id", "next")
    assert "queued 1 web imports again whose worker had stopped" in printed
    status, rows, items, upload = _python(env, STATE, run_id).split()
    assert (status, rows, upload) == ("planned", str(ROWS), "-") and int(items) > ROWS
