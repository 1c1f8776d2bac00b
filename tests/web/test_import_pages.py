"""The CMMS import's pages: the imports list, a profile's page and its structured form (create,
edit, delete, export as TOML and import back), a file uploaded to plan it (size and type
refused before anything is recorded), the run page (its plan filtered and paged, with a pinned
query count), apply and discard with a reason, a stale plan refused, and the formula-safe error
report. Readers see it all read-only; a forged POST of a role that may not is a 403 and changes
nothing; another organization's run is a 404. Both databases."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from registra.assets import services as asset_services
from registra.assets.models import Asset
from registra.core.models import AuditEvent
from registra.imports import services
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
from registra.imports.services import import_plans_purge
from registra.organizations.models import Member
from tests.cast import REASON, Cast, audit_mark, audit_since, make_asset, operator
from tests.imports.helpers import PROFILE, export, make_profile, row, run, work_off

pytestmark = pytest.mark.django_db(transaction=True)  # the worker checks its connection (work_off)
BASE = "/o/skyline-mro/imports/"
WHY = "The AMOS export feeds the register every night"


@pytest.fixture
def admin(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.admin)


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


@pytest.fixture
def viewer(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.viewer)


def _html(response: Any) -> str:
    return unescape(response.content.decode())


def _text(response: Any) -> str:
    """The page's text as a person reads it: no tags, one space between words."""
    return " ".join(re.sub(r"<[^>]+>", " ", _html(response)).split())


def _upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _csv_bytes(tmp_path: Path, rows: list[dict[str, str]]) -> bytes:
    return export(tmp_path / "export.csv", rows).path.read_bytes()


def _queue(client: Client, profile: ImportProfile, content: bytes, name: str = "amos.csv") -> Any:
    """Upload a file to plan it: its run is queued for the worker."""
    url = f"{BASE}profiles/{profile.id}/run"
    return client.post(url, {"file": _upload(name, content), "reason": WHY})


def _plan(client: Client, profile: ImportProfile, content: bytes, name: str = "amos.csv") -> Any:
    """Upload a file, then let the worker plan it (the upload's response)."""
    response = _queue(client, profile, content, name)
    work_off()
    return response


def _worker_takes_it() -> None:
    """What a worker does as it takes the waiting task: marks it running."""
    DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now()
    )


def _apply(client: Client, run: ImportRun) -> Any:
    """Ask for the plan to be applied, let the worker apply it, and read the run page."""
    asked = client.post(f"{BASE}runs/{run.id}/apply", {"reason": WHY})
    assert asked.status_code == 302, _html(asked)[:3000]
    work_off()
    return client.get(f"{BASE}runs/{run.id}/")


def _run_of(response: Any) -> ImportRun:
    assert response.status_code == 302, _html(response)[:3000]
    run_id = re.search(r"/imports/runs/([^/]+)/$", response["Location"])
    assert run_id, response["Location"]
    return ImportRun.objects.get(id=run_id.group(1))


# --- the profile form's POST ---------------------------------------------------------------------


def _rows(prefix: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "200",
    }
    for n, r in enumerate(rows):
        for key, value in r.items():
            if value is True:
                data[f"{prefix}-{n}-{key}"] = "on"
            elif value is not False:
                data[f"{prefix}-{n}-{key}"] = value
    return data


def profile_post(**changes: Any) -> dict[str, Any]:
    """The profile form as a person fills it in for tests.imports.helpers.PROFILE."""
    fields: dict[str, Any] = {
        "name": "AMOS nightly",
        "format": "csv",
        "csv_delimiter": "auto",
        "csv_encoding": "auto",
        "csv_encoding_other": "",
        "csv_fallback": "cp1252",
        "xlsx_sheet": "",
        "xlsx_header_row": "1",
        "source_system": "AMOS",
        "key_column": "Equipment No",
        "dates": "dd.mm.yyyy",
        "custody_column": "Issued To",
        "custody_match": "external-id",
        "custody_owned": "on",
        "calibration_last": "Last Cal",
        "calibration_due": "Cal Due",
        "calibration_result": "Cal Result",
        "calibration_owned": "on",
        "absent": "flag",
        "error_threshold": "0",
        "schedule": "off",
        "schedule_time": "",
        "schedule_folder": "",
        "schedule_pattern": "",
        "schedule_url": "",
        "reason": WHY,
    }
    columns = changes.pop(
        "columns",
        [
            {"field": "displayName", "column": "Description"},
            {"field": "status", "column": "Status", "owned": True},
            {"field": "location", "column": "Location", "owned": True},
            {"field": "serialNumber", "column": "Serial", "owned": True},
            {},
        ],
    )
    values = changes.pop(
        "values",
        [
            {"field": "status", "cmms": "In Service", "register": "active"},
            {"field": "status", "cmms": "Out for Calibration", "register": "inactive"},
            {},
        ],
    )
    defaults = changes.pop(
        "defaults",
        [
            {"field": "assetKind", "value": "calibrated-tool"},
            {"field": "sourceKind", "value": "cmms-import"},
        ],
    )
    results = changes.pop(
        "results", [{"cmms": "PASS", "state": "ready"}, {"cmms": "FAIL", "state": "not-ready"}]
    )
    fields.update(changes)
    data = {k: v for k, v in fields.items() if v is not None}
    for prefix, rows in (("col", columns), ("val", values), ("def", defaults), ("res", results)):
        data.update(_rows(prefix, rows))
    return data


def _clean(definition: dict[str, Any]) -> dict[str, Any]:
    from registra.imports.services.profiles import clean_definition

    return clean_definition(definition)


# --- who sees what -------------------------------------------------------------------------------


def test_the_imports_page_shows_profiles_and_runs_with_each_role_s_controls(
    cast: Cast, client: Client, signed_in: Callable[[Member], Client], tmp_path: Path
) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1"), row("TW-2")]))
    for member, admin_controls in ((cast.admin, True), (cast.editor, False), (cast.viewer, False)):
        client.logout()
        page = signed_in(member).get(BASE)
        assert page.status_code == 200
        html = _html(page)
        assert 'aria-current="page">Imports</a>' in html
        assert f'href="{BASE}profiles/{profile.id}/">AMOS nightly</a>' in html
        assert f'href="{BASE}runs/{planned.id}/"' in html
        assert "2 creates, 2 new calibrations" in html
        assert ("New profile" in html) is admin_controls
        assert ("Import a profile file (TOML)" in html) is admin_controls


def _home_page_queries(client: Client) -> tuple[int, str]:
    """The imports page's number of queries, and its HTML."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(BASE)
    assert page.status_code == 200
    return len(queries), _html(page)


def _last_run_cell(html: str, profile: ImportProfile) -> str:
    row = re.search(rf">{re.escape(profile.name)}</a></th>(.*?)</tr>", html, re.S)
    assert row, profile.name
    return row.group(1).rsplit("<td>", 1)[-1]


def test_the_imports_page_reads_the_last_runs_in_a_fixed_number_of_queries(
    cast: Cast, viewer: Client, tmp_path: Path
) -> None:
    first = make_profile(cast)
    run(cast, first, export(tmp_path / "first.csv", [row("TW-1")]))
    few, _ = _home_page_queries(viewer)
    profiles = [first]
    last: dict[str, ImportRun | None] = {first.id: ImportRun.objects.get(profile=first)}
    for n, runs in enumerate((2, 0, 2, 0)):  # four more profiles: two run twice, two never
        profile = make_profile(cast, name=f"Hangar {n} nightly")
        profiles.append(profile)
        last[profile.id] = None
        for m in range(runs):
            source = export(tmp_path / f"hangar-{n}-{m}.csv", [row(f"H{n}-{m}")])
            last[profile.id] = run(cast, profile, source)
    many, html = _home_page_queries(viewer)
    # session, member, organization, membership, the profiles, the recent runs, the profiles'
    # last runs: the same with one profile or five
    assert few == many == 7
    for profile in profiles:
        newest = last[profile.id]
        cell = _last_run_cell(html, profile)
        assert (f'href="{BASE}runs/{newest.id}/"' if newest else "never run") in cell
    assert ImportRun.objects.filter(organization=cast.org).count() == 5


def test_a_profile_page_offers_the_upload_to_who_may_run_imports(
    cast: Cast, client: Client, signed_in: Callable[[Member], Client]
) -> None:
    profile = make_profile(cast)
    url = f"{BASE}profiles/{profile.id}/"
    for member, upload, manage in (
        (cast.admin, True, True),
        (cast.editor, True, False),
        (cast.viewer, False, False),
    ):
        client.logout()
        html = _html(signed_in(member).get(url))
        assert "Equipment No" in html and "In Service → active" in html
        assert "no schedule" in html
        assert ('enctype="multipart/form-data"' in html) is upload
        assert (f"{url}edit" in html) is manage
        assert (f"{url}profile.toml" in html) is manage


def test_the_profile_pages_are_for_admins(cast: Cast, editor: Client) -> None:
    profile = make_profile(cast)
    for url in (
        f"{BASE}profiles/new",
        f"{BASE}profiles/import",
        f"{BASE}profiles/{profile.id}/edit",
        f"{BASE}profiles/{profile.id}/delete",
        f"{BASE}profiles/{profile.id}/profile.toml",
    ):
        assert editor.get(url).status_code == 403, url


def test_forged_posts_of_a_viewer_are_refused_and_change_nothing(
    cast: Cast, viewer: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    planned = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1")]))
    page = viewer.get(f"{BASE}runs/{planned.id}/")
    assert page.status_code == 200  # read-only: the plan, not its controls
    assert "1 creates" in _text(page) and f"{BASE}runs/{planned.id}/apply" not in _html(page)
    assert f"{BASE}runs/{planned.id}/discard" not in _html(page)
    assert viewer.get(f"{BASE}runs/{planned.id}/discard").status_code == 403
    mark, runs = audit_mark(cast.org), ImportRun.objects.count()
    content = _csv_bytes(tmp_path, [row("TW-2")])
    posts = [
        (f"{BASE}profiles/{profile.id}/run", {"file": _upload("a.csv", content), "reason": WHY}),
        (f"{BASE}runs/{planned.id}/apply", {"reason": WHY}),
        (f"{BASE}runs/{planned.id}/discard", {"reason": WHY}),
        (f"{BASE}profiles/new", profile_post(name="Forged")),
        (f"{BASE}profiles/{profile.id}/edit", profile_post(name="Forged")),
        (f"{BASE}profiles/{profile.id}/delete", {"reason": WHY}),
        (f"{BASE}profiles/import", {"text": "name = 'x'", "reason": WHY}),
    ]
    for url, data in posts:
        assert viewer.post(url, data).status_code == 403, url
    assert audit_since(cast.org, mark) == []
    assert ImportRun.objects.count() == runs
    planned.refresh_from_db()
    assert planned.status == "planned"
    assert list(ImportProfile.objects.values_list("name", flat=True)) == ["AMOS nightly"]
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_an_editor_may_not_change_profiles(cast: Cast, editor: Client) -> None:
    profile = make_profile(cast)
    mark = audit_mark(cast.org)
    assert editor.post(f"{BASE}profiles/new", profile_post(name="Other")).status_code == 403
    assert editor.post(f"{BASE}profiles/{profile.id}/delete", {"reason": WHY}).status_code == 403
    assert audit_since(cast.org, mark) == []


def test_another_organization_s_run_and_profile_are_not_found(
    cast: Cast, admin: Client, tmp_path: Path
) -> None:
    theirs = services.import_profile_create(
        organization=cast.other_org,
        actor=cast.actor(cast.outsider),
        reason=REASON,
        definition=PROFILE,
    )
    their_run = services.import_run_start(
        organization=cast.other_org,
        actor=cast.actor(cast.outsider),
        reason=REASON,
        profile_id=theirs.id,
        source=export(tmp_path / "a.csv", [row("TW-1")]),
        trigger="web",
    )
    for url in (
        f"{BASE}runs/{their_run.id}/",
        f"{BASE}runs/{their_run.id}/errors.csv",
        f"{BASE}runs/{their_run.id}/state",
        f"{BASE}profiles/{theirs.id}/",
        f"{BASE}profiles/{theirs.id}/edit",
    ):
        assert admin.get(url).status_code == 404, url
    assert admin.post(f"{BASE}runs/{their_run.id}/apply", {"reason": WHY}).status_code == 404
    their_run.refresh_from_db()
    assert their_run.status == "planned"


# --- the profile form ---------------------------------------------------------------------------


def test_a_profile_built_in_the_form_exports_and_imports_back_the_same(
    cast: Cast, admin: Client
) -> None:
    form = admin.get(f"{BASE}profiles/new")
    assert form.status_code == 200
    mark = audit_mark(cast.org)
    created = admin.post(f"{BASE}profiles/new", profile_post())
    assert created.status_code == 302, _html(created)[:4000]
    profile = ImportProfile.objects.get(organization=cast.org)
    assert created["Location"] == f"{BASE}profiles/{profile.id}/"
    assert profile.definition == _clean(PROFILE)
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == (
        "import-profile.created",
        WHY,
        cast.admin.id,
    )

    exported = admin.get(f"{BASE}profiles/{profile.id}/profile.toml")
    assert exported.status_code == 200
    assert exported["Content-Disposition"] == 'attachment; filename="AMOS nightly.toml"'
    toml = exported.content.decode()
    assert 'holder_column = "Issued To"' in toml
    deleted = admin.post(f"{BASE}profiles/{profile.id}/delete", {"reason": WHY})
    assert deleted.status_code == 302
    assert not ImportProfile.objects.exists()

    imported = admin.post(
        f"{BASE}profiles/import",
        {"file": SimpleUploadedFile("amos.toml", toml.encode()), "reason": WHY},
    )
    assert imported.status_code == 302, _html(imported)[:3000]
    again = ImportProfile.objects.get(organization=cast.org)
    assert again.definition == _clean(PROFILE)


def test_the_edit_form_shows_the_stored_profile_and_saves_a_change(
    cast: Cast, admin: Client
) -> None:
    profile = make_profile(cast)
    page = admin.get(f"{BASE}profiles/{profile.id}/edit")
    html = _html(page)
    assert 'name="key_column" value="Equipment No"' in html
    assert 'value="Out for Calibration"' in html
    assert re.search(r'name="custody_match" value="external-id"[^>]*checked', html)
    changed = profile_post(error_threshold="3", schedule="folder", schedule_time="02:30")
    changed["schedule_folder"] = "/srv/drop/amos"
    changed["schedule_pattern"] = "amos-*.csv"
    saved = admin.post(f"{BASE}profiles/{profile.id}/edit", changed)
    assert saved.status_code == 302, re.findall(
        r"class=\"error\"[^>]*>([^<]*)|role=\"alert\"[^>]*>(.*?)</div>", _html(saved), re.S
    )
    profile.refresh_from_db()
    assert profile.definition["error_threshold"] == 3
    assert profile.definition["schedule"] == {
        "time": "02:30",
        "folder": "/srv/drop/amos",
        "pattern": "amos-*.csv",
    }
    assert profile.next_run_at is not None
    html = _html(admin.get(BASE))
    assert "nightly at 02:30 (Europe/Berlin)" in html


def test_profile_errors_show_next_to_their_fields_keeping_what_was_typed(
    cast: Cast, admin: Client
) -> None:
    data = profile_post(
        key_column="",
        dates="dd.mm.yyyy, qq/ww",
        values=[{"field": "status", "cmms": "Scrapped", "register": "decommissioned"}],
        columns=[
            {"field": "displayName", "column": "Description"},
            {"field": "specifications.*", "spec_name": "Torque range", "column": "Range"},
            {"field": "location", "column": ""},
            {"field": "status", "column": "Status"},
        ],
    )
    refused = admin.post(f"{BASE}profiles/new", data)
    assert refused.status_code == 400
    html = _html(refused)
    assert "Nothing was saved" in html
    assert re.search(r'<p class="error" id="id_col-2-column-error">Give the CMMS column', html)
    assert not ImportProfile.objects.exists()
    # The row's own rule first; with the row filled in, the profile's rules.
    data["col-2-column"] = "Location"
    refused = admin.post(f"{BASE}profiles/new", data)
    assert refused.status_code == 400
    html = _html(refused)

    def error_of(field_id: str) -> str:
        found = re.search(rf'<p class="error" id="{field_id}-error">([^<]+)</p>', html)
        assert found, f"no error at {field_id}"
        return found.group(1)

    assert "required" in error_of("id_key_column")
    assert "qq/ww" in error_of("id_dates")
    assert "never decommissions" in error_of("id_val-0-register")
    # everything typed is still there
    assert 'value="dd.mm.yyyy, qq/ww"' in html
    assert 'name="col-1-spec_name" value="Torque range"' in html
    assert 'name="val-0-cmms" value="Scrapped"' in html
    assert WHY in html
    assert not ImportProfile.objects.exists()


def test_a_duplicate_profile_name_is_refused_at_the_name(cast: Cast, admin: Client) -> None:
    make_profile(cast)
    refused = admin.post(f"{BASE}profiles/new", profile_post())
    assert refused.status_code == 400
    assert re.search(r'id="id_name-error">[^<]*exists already', _html(refused))


def test_more_rows_keeps_everything_typed_and_saves_nothing(cast: Cast, admin: Client) -> None:
    data = profile_post(name="Half done")
    data["more_rows"] = "1"
    more = admin.post(f"{BASE}profiles/new", data)
    assert more.status_code == 200
    html = _html(more)
    assert 'name="name" value="Half done"' in html and "Nothing was saved" not in html
    assert 'name="col-TOTAL_FORMS" value="11"' in html  # five typed rows and six blank
    assert 'name="col-3-column" value="Serial"' in html
    assert not ImportProfile.objects.exists()


def test_importing_a_profile_file_of_an_existing_name_asks_to_replace_it(
    cast: Cast, admin: Client
) -> None:
    profile = make_profile(cast)
    text = admin.get(f"{BASE}profiles/{profile.id}/profile.toml").content.decode()
    text = text.replace("error_threshold = 0", "error_threshold = 7")
    upload = SimpleUploadedFile("amos.toml", text.encode())
    asked = admin.post(f"{BASE}profiles/import", {"file": upload, "reason": WHY})
    assert asked.status_code == 200
    assert "Replace the profile" in _html(asked)
    assert 'id="id_text"' in _html(asked) and WHY in _html(asked)  # nothing typed again
    profile.refresh_from_db()
    assert profile.definition["error_threshold"] == 0
    mark = audit_mark(cast.org)
    replaced = admin.post(f"{BASE}profiles/import", {"text": text, "reason": WHY})
    assert replaced.status_code == 302
    profile.refresh_from_db()
    assert profile.definition["error_threshold"] == 7
    assert [e.action for e in audit_since(cast.org, mark)] == ["import-profile.updated"]


def test_a_profile_file_that_is_not_valid_names_its_problems(cast: Cast, admin: Client) -> None:
    upload = SimpleUploadedFile("bad.toml", b'name = "X"\nformat = "pdf"\n')
    refused = admin.post(f"{BASE}profiles/import", {"file": upload, "reason": WHY})
    assert refused.status_code == 400
    html = _html(refused)
    assert "format: 'pdf' is not one of" in html
    assert "columns.assetKey: required" in html
    big = SimpleUploadedFile("big.toml", b"#" * (256 * 1024 + 1))
    refused = admin.post(f"{BASE}profiles/import", {"file": big, "reason": WHY})
    assert refused.status_code == 400 and "at most 256 KiB" in _html(refused)
    assert not ImportProfile.objects.exists()


# --- running a file -----------------------------------------------------------------------------


def test_a_preview_then_apply_changes_the_register(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    holder = cast.technician.external_employee_id
    content = _csv_bytes(tmp_path, [row("TW-1", Issued_To=holder), row("TW-2")])
    mark = audit_mark(cast.org)
    planned = _run_of(_plan(editor, profile, content))
    assert planned.status == "planned" and planned.trigger == "web"
    assert planned.started_by_id == cast.editor.id
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert [e.action for e in audit_since(cast.org, mark)] == ["import.queued", "import.planned"]

    page = editor.get(f"{BASE}runs/{planned.id}/")
    html = _html(page)
    assert "Planned: waiting for review. Nothing has been changed yet." in _text(page)
    assert planned.file_sha256 in html
    assert "Apply this plan" in html
    assert f'href="{BASE}runs/{planned.id}/?kind=create"' in html
    assert "Tess Technician (sky.tess@example.test)" in html  # the handoff's holder by name

    mark = audit_mark(cast.org)
    applied = _apply(editor, planned)
    html = _html(applied)
    assert "Applied: 2 created, 1 custody handoffs, 2 new calibrations." in html
    assert "Applied on" in _text(applied)
    keys = set(Asset.objects.filter(organization=cast.org).values_list("asset_key", flat=True))
    assert keys == {"TW-1", "TW-2"}
    writes = [e for e in audit_since(cast.org, mark) if e.subject_type != "import-run"]
    assert {e.action for e in writes} >= {"asset.created"}
    assert all(e.diff["importRunId"] == planned.id for e in writes)
    assert all(e.reason == WHY and e.actor_id == cast.editor.id for e in writes)


@pytest.mark.parametrize("in_memory", [True, False])
def test_the_uploaded_file_waits_in_the_storage_and_is_gone_after_planning(
    cast: Cast, editor: Client, tmp_path: Path, in_memory: bool
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    limit = 10 * 1024 * 1024 if in_memory else 0  # 0: Django streams every upload to a file
    content = _csv_bytes(tmp_path, [row("TW-1")])
    with override_settings(FILE_UPLOAD_TEMP_DIR=str(uploads), FILE_UPLOAD_MAX_MEMORY_SIZE=limit):
        queued = _run_of(_queue(editor, make_profile(cast), content))
    assert list(uploads.iterdir()) == []  # Django's temporary file is gone with the request
    assert queued.status == "queued" and queued.upload_key.startswith("import-uploads/")
    assert queued.file_sha256 == hashlib.sha256(content).hexdigest()  # audited as it is queued
    with default_storage.open(queued.upload_key, "rb") as kept:
        assert kept.read() == content
    work_off()
    queued.refresh_from_db()
    assert queued.status == "planned" and queued.file_name == "amos.csv"
    assert queued.file_size == len(content) and queued.rows_read == 1
    assert queued.upload_key == "" and default_storage.listdir("import-uploads") == ([], [])


def test_a_queued_run_s_page_waits_for_the_worker_then_shows_the_plan(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    mark = audit_mark(cast.org)
    queued = _run_of(_queue(editor, profile, _csv_bytes(tmp_path, [row("TW-1")])))
    assert [e.action for e in audit_since(cast.org, mark)] == ["import.queued"]
    page = editor.get(f"{BASE}runs/{queued.id}/")
    text = _text(page)
    assert "Uploaded: the worker plans the file now. Nothing has changed yet." in text
    assert "Queued since" in text and "waiting for the import worker to read the file" in text
    assert "check that registra worker is running" in text
    assert 'data-state="queued"' in _html(page) and "web/run_state.js" in _html(page)
    assert "Apply this plan" not in _html(page)
    state = f"{BASE}runs/{queued.id}/state"
    assert editor.get(state).json() == {"state": "queued"}
    _worker_takes_it()
    assert editor.get(state).json() == {"state": "planning"}
    text = _text(editor.get(f"{BASE}runs/{queued.id}/"))
    assert "Planning since" in text and "the import worker is reading the file" in text
    DBTaskResult.objects.update(status=TaskResultStatus.READY, started_at=None)
    work_off()
    assert editor.get(state).json() == {"state": "planned"}
    page = editor.get(f"{BASE}runs/{queued.id}/")
    assert "Planned: waiting for review" in _text(page) and "Apply this plan" in _html(page)
    assert "web/run_state.js" not in _html(page)
    assert [e.action for e in audit_since(cast.org, mark)] == ["import.queued", "import.planned"]
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_an_apply_waits_for_the_worker_and_cannot_be_discarded_or_asked_twice(
    cast: Cast, editor: Client, admin: Client, tmp_path: Path
) -> None:
    planned = _run_of(_plan(editor, make_profile(cast), _csv_bytes(tmp_path, [row("TW-1")])))
    asked = editor.post(f"{BASE}runs/{planned.id}/apply", {"reason": WHY}, follow=True)
    text = _text(asked)
    assert "Applying: the worker writes the plan now, all or nothing." in text
    assert "Apply asked by Eddie Editor" in text and "Apply this plan" not in _html(asked)
    assert "waiting for the import worker" in text
    state = f"{BASE}runs/{planned.id}/state"
    assert editor.get(state).json() == {"state": "apply-queued"}
    _worker_takes_it()
    assert editor.get(state).json() == {"state": "applying"}
    text = _text(editor.get(f"{BASE}runs/{planned.id}/"))
    assert "Applying since" in text and "(asked by Eddie Editor)" in text
    twice = admin.post(f"{BASE}runs/{planned.id}/apply", {"reason": WHY})
    assert twice.status_code == 422 and "is being applied already" in _html(twice)
    discard = admin.post(f"{BASE}runs/{planned.id}/discard", {"reason": WHY})
    assert discard.status_code == 422 and "can no longer be discarded" in _html(discard)
    assert not Asset.objects.filter(organization=cast.org).exists()
    DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY, started_at=None
    )
    work_off()
    planned.refresh_from_db()
    assert planned.status == "applied" and planned.apply_requested_at is None
    assert planned.applied_by_label == "Eddie Editor"
    assert Asset.objects.filter(organization=cast.org, asset_key="TW-1").exists()
    applied = AuditEvent.objects.get(action="import.applied", subject_id=planned.id)
    assert (applied.actor_id, applied.reason) == (cast.editor.id, WHY)


def test_the_worker_plans_and_applies_with_the_member_s_role_as_it_is_then(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    queued = _run_of(_queue(editor, profile, _csv_bytes(tmp_path, [row("TW-1")])))
    Member.objects.filter(pk=cast.editor.pk).update(role="viewer")
    work_off()
    queued.refresh_from_db()
    assert queued.status == "failed" and "may not" in queued.message, queued.message
    assert queued.upload_key == ""
    Member.objects.filter(pk=cast.editor.pk).update(role="editor")
    planned = _run_of(_plan(editor, profile, _csv_bytes(tmp_path, [row("TW-1")])))
    assert editor.post(f"{BASE}runs/{planned.id}/apply", {"reason": WHY}).status_code == 302
    Member.objects.filter(pk=cast.editor.pk).update(role="viewer")
    work_off()
    planned.refresh_from_db()
    assert planned.status == "planned" and planned.apply_requested_at is None
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_apply_after_the_register_changed_is_refused(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    asset = make_asset(cast.org, "TW-8")
    owned = ["status", "location", "serialNumber"]
    profile = make_profile(cast, calibration=None, custody=None, owned_fields=owned)
    planned = _run_of(_plan(editor, profile, _csv_bytes(tmp_path, [row("TW-8", Location="B9")])))
    asset_services.asset_update(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason="Moved to the calibration lab",
        asset_id=asset.id,
        description="Sent to the lab",
    )
    refused = _apply(editor, planned)
    html = _html(refused)
    assert "the register changed since this plan was made (1 changes)" in html
    assert "Refused: the register changed since this plan was made" in _text(refused)
    planned.refresh_from_db()
    assert planned.status == "refused"
    asset.refresh_from_db()
    assert asset.asset_snapshot.get("location") != "B9"
    assert "Apply this plan" not in html


def test_apply_without_a_reason_stays_on_the_run_page(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    planned = _run_of(_plan(editor, make_profile(cast), _csv_bytes(tmp_path, [row("TW-1")])))
    refused = editor.post(f"{BASE}runs/{planned.id}/apply", {"reason": "short"})
    assert refused.status_code == 400
    assert 'id="id_reason-error"' in _html(refused)
    planned.refresh_from_db()
    assert planned.status == "planned"


def test_discard_asks_for_a_reason_and_applies_nothing(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    planned = _run_of(_plan(editor, make_profile(cast), _csv_bytes(tmp_path, [row("TW-1")])))
    page = editor.get(f"{BASE}runs/{planned.id}/discard")
    assert page.status_code == 200 and "Discard this plan" in _html(page)
    done = editor.post(f"{BASE}runs/{planned.id}/discard", {"reason": WHY}, follow=True)
    assert "Discarded: nothing of this plan was applied." in _html(done)
    planned.refresh_from_db()
    assert planned.status == "discarded"
    assert not Asset.objects.filter(organization=cast.org).exists()


@override_settings(REGISTRA_IMPORT_MAX_UPLOAD_MB=1)
def test_a_file_too_big_or_of_another_type_is_refused_and_nothing_recorded(
    cast: Cast, editor: Client
) -> None:
    profile = make_profile(cast)
    mark = audit_mark(cast.org)
    big = _plan(editor, profile, b"x" * (1024 * 1024 + 1))
    assert big.status_code == 400
    assert re.search(r'id="id_file-error">The file is 1 MB: at most 1 MB', _html(big))
    other = _plan(editor, profile, b"MZ\x90\x00", name="export.exe")
    assert other.status_code == 400
    assert "A file ending in .exe is not accepted" in _html(other)
    assert WHY in _html(other)  # the reason typed is kept
    none = editor.post(f"{BASE}profiles/{profile.id}/run", {"reason": WHY})
    assert none.status_code == 400 and "Choose the CMMS export file" in _html(none)
    assert not ImportRun.objects.exists()
    assert audit_since(cast.org, mark) == []


def test_a_file_the_profile_cannot_read_is_a_failed_run_saying_why(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    content = b"Description;Status\r\nTorque wrench;In Service\r\n"
    failed = _run_of(_plan(editor, profile, content))
    assert failed.status == "failed"
    page = editor.get(f"{BASE}runs/{failed.id}/")
    html = _html(page)
    assert "Failed:" in _text(page) and "Equipment No" in html
    assert "Apply this plan" not in html


def test_the_error_report_is_formula_safe(cast: Cast, editor: Client, tmp_path: Path) -> None:
    profile = make_profile(cast)
    content = _csv_bytes(
        tmp_path,
        [row("TW-1"), row("TW-2", Status="=HYPERLINK(1)"), row("TW-3", Cal_Due="31.02.2027")],
    )
    planned = _run_of(_plan(editor, profile, content))
    assert planned.rows_with_errors == 2
    html = _html(editor.get(f"{BASE}runs/{planned.id}/?kind=error"))
    assert "Download the error report (CSV)" in html
    assert "=HYPERLINK(1)" in html and "Cal Due" in html
    report = editor.get(f"{BASE}runs/{planned.id}/errors.csv")
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(report.streaming_content).decode()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0] == ["line", "assetKey", "column", "value", "reason"]
    by_key = {line[1]: line for line in lines[1:]}
    assert by_key["TW-2"][2:4] == ["Status", "'=HYPERLINK(1)"]
    assert by_key["TW-3"][0] == "4" and by_key["TW-3"][2] == "Cal Due"


def test_the_plan_is_filtered_and_paged_with_a_pinned_query_count(
    cast: Cast,
    editor: Client,
    tmp_path: Path,
    django_assert_max_num_queries: Any,
) -> None:
    profile = make_profile(cast)
    rows = [row(f"TW-{i:03d}", Issued_To=cast.technician.external_employee_id) for i in range(60)]
    planned = run(cast, profile, export(tmp_path / "a.csv", rows))
    url = f"{BASE}runs/{planned.id}/"
    # session, member, organization, membership, the run, the page of items, the holders' names
    with django_assert_max_num_queries(7):
        first = editor.get(f"{url}?kind=create")
    html = _html(first)
    assert html.count('<tr class="item-create">') == 50
    assert f'href="{url}?kind=create&after=' in html
    after = re.search(r'href="[^"]*\?kind=create&after=(\d+)" rel="next"', html)
    assert after
    with django_assert_max_num_queries(7):
        second = editor.get(f"{url}?kind=create&after={after.group(1)}")
    html = _html(second)
    assert html.count('<tr class="item-create">') == 10 and 'rel="next"' not in html
    searched = _html(editor.get(f"{url}?q=TW-05"))
    keys = set(re.findall(r'<td class="key">(TW-\d+)</td>', searched))
    assert keys == {f"TW-{i:03d}" for i in range(50, 60)}
    bad = editor.get(f"{url}?kind=nonsense")
    assert bad.status_code == 200 and "Select a valid choice" in _html(bad)
    assert ImportPlanItem.objects.filter(run=planned).count() == 180


def test_a_re_run_of_an_applied_file_plans_nothing_but_unchanged(
    cast: Cast, editor: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    content = _csv_bytes(tmp_path, [row("TW-1"), row("TW-2")])
    first = _run_of(_plan(editor, profile, content))
    _apply(editor, first)
    again = _run_of(_plan(editor, profile, content))
    assert {k: v for k, v in again.counts.items() if v} == {"unchanged": 2}
    assert "2 unchanged" in _text(editor.get(f"{BASE}runs/{again.id}/"))


def test_the_dashboard_lists_the_plans_waiting_for_review(
    cast: Cast, viewer: Client, tmp_path: Path
) -> None:
    profile = make_profile(cast)
    waiting = run(cast, profile, export(tmp_path / "a.csv", [row("TW-1")]))
    html = _html(viewer.get("/o/skyline-mro/dashboard"))
    assert "Imports waiting for review" in html
    assert f'href="{BASE}runs/{waiting.id}/"' in html
    assert re.search(r"AMOS nightly</a></th>\s*<td><a[^>]*>.*?</a></td>\s*<td><span", html, re.S)
    assert AuditEvent.objects.filter(action="import.planned").count() == 1
    services.import_run_request_apply(
        organization=cast.org, actor=cast.actor(cast.editor), reason=WHY, run_id=waiting.id
    )
    page = viewer.get("/o/skyline-mro/dashboard")  # being applied: no longer waiting
    assert "No import plan is waiting for review." in _html(page)


def test_a_run_whose_plan_was_purged_says_so(cast: Cast, viewer: Client, tmp_path: Path) -> None:
    profile = make_profile(cast)
    source = export(tmp_path / "amos.csv", [row("TW-1"), row("TW-2", Last_Cal="31.02.2026")])
    old, kept = run(cast, profile, source, apply="yes"), run(cast, profile, source)
    ImportRun.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=40))
    purged = import_plans_purge(
        organization=cast.org, actor=operator(cast.org), reason=WHY, older_than_days=30, apply=True
    )
    assert [p.run_id for p in purged] == [old.id]
    page = viewer.get(f"{BASE}runs/{old.id}/")
    assert page.status_code == 200
    text = _text(page)
    assert "The plan's items were deleted on" in text
    assert "1 creates" in text and "1 row errors" in text  # the counts remain
    assert 'class="grid plan"' not in _html(page) and "errors.csv" not in _html(page)
    report = viewer.get(f"{BASE}runs/{old.id}/errors.csv")
    assert report.status_code == 302 and report["Location"] == f"{BASE}runs/{old.id}/"
    assert "This run's error report was deleted with its plan." in _text(
        viewer.get(report["Location"])
    )
    other = _html(viewer.get(f"{BASE}runs/{kept.id}/"))
    assert 'class="grid plan"' in other and "The plan's items were deleted" not in other
