"""Readiness pages: schedule, start, complete (posture, evidence files stored with their SHA-256),
cancel, and the evidence download; the role check on GET and on a forged POST; the size and type
refusals; 404 for another organization; pinned query counts of the GET pages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import Asset, ReadinessAssessment
from registra.core.timefmt import now
from registra.organizations import services as org_services
from registra.organizations.models import Member, ResponsibilityAssignment
from tests.cast import REASON, Cast, audit_mark, audit_since, make_asset, operator
from tests.web.conftest import give_password, sign_in

pytestmark = pytest.mark.django_db
WHY = "Annual calibration due per the schedule"
PDF = b"%PDF-1.7\n" + b"certificate body " * 100 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


@pytest.fixture
def asset(cast: Cast) -> Asset:
    return make_asset(cast.org, "TW-001")


@pytest.fixture
def lab(cast: Cast) -> ResponsibilityAssignment:
    return org_services.responsibility_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        responsibility_key="calibration-lab",
        title="Calibration lab",
        holder_id=None,
    )


def _scheduled(cast: Cast, asset: Asset, kind: str = "calibration") -> ReadinessAssessment:
    return asset_services.readiness_schedule(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        assessment_kind=kind,
    )


def _url(asset: Asset, tail: str) -> str:
    return f"/o/skyline-mro/assets/{asset.id}/readiness/{tail}"


def _berlin(minutes_ago: int) -> str:
    at = (now() - timedelta(minutes=minutes_ago)).astimezone(ZoneInfo("Europe/Berlin"))
    return at.strftime("%Y-%m-%dT%H:%M")


# --- schedule ------------------------------------------------------------------------------


def test_schedule_offers_required_kinds_and_records_the_assessment(
    cast: Cast, editor: Client, asset: Asset, lab: ResponsibilityAssignment
) -> None:
    page = editor.get(_url(asset, "schedule")).content.decode()
    assert '<option value="calibration">calibration</option>' in page
    assert f'value="{lab.id}"' in page and "Calibration lab" in page
    mark = audit_mark(cast.org)
    response = editor.post(
        _url(asset, "schedule"), {"kind": "calibration", "performer": lab.id, "reason": WHY}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/o/skyline-mro/assets/{asset.id}/"
    (r,) = ReadinessAssessment.objects.filter(asset_id=asset.id)
    assert (r.assessment_kind, r.status, r.performed_by_responsibility_id) == (
        "calibration",
        "scheduled",
        lab.id,
    )
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == (
        "readiness.scheduled",
        WHY,
        cast.editor.id,
    )
    html = editor.get(response["Location"]).content.decode()
    assert f"Assessment {r.readiness_assessment_key} (calibration) scheduled." in html


def test_schedule_takes_a_free_text_kind_and_keeps_typed_values_on_error(
    cast: Cast, editor: Client, asset: Asset
) -> None:
    response = editor.post(
        _url(asset, "schedule"), {"kind": "", "other_kind": "torque check", "reason": "short"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="torque check"' in page and "at least 10 characters" in page
    assert not ReadinessAssessment.objects.filter(asset_id=asset.id).exists()
    response = editor.post(_url(asset, "schedule"), {"kind": "", "reason": WHY})
    assert "Choose a kind above or type one here." in response.content.decode()
    editor.post(_url(asset, "schedule"), {"kind": "", "other_kind": "torque check", "reason": WHY})
    (r,) = ReadinessAssessment.objects.filter(asset_id=asset.id)
    assert r.assessment_kind == "torque check"


# --- start and cancel ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "event"),
    [("start", "in-progress", "readiness.started"), ("cancel", "cancelled", "readiness.cancelled")],
)
def test_start_and_cancel_ask_for_a_reason(
    cast: Cast, editor: Client, asset: Asset, action: str, status: str, event: str
) -> None:
    r = _scheduled(cast, asset)
    page = editor.get(_url(asset, f"{r.id}/{action}")).content.decode()
    assert r.readiness_assessment_key in page and 'name="reason"' in page
    response = editor.post(_url(asset, f"{r.id}/{action}"), {"reason": "no"})
    assert response.status_code == 400
    r.refresh_from_db()
    assert r.status == "scheduled"
    mark = audit_mark(cast.org)
    assert editor.post(_url(asset, f"{r.id}/{action}"), {"reason": WHY}).status_code == 302
    r.refresh_from_db()
    assert r.status == status
    (e,) = audit_since(cast.org, mark)
    assert (e.action, e.reason, e.subject_id) == (event, WHY, r.id)


def test_a_closed_assessment_says_why_it_cannot_move(
    cast: Cast, editor: Client, asset: Asset
) -> None:
    r = _scheduled(cast, asset)
    editor.post(_url(asset, f"{r.id}/cancel"), {"reason": WHY})
    response = editor.post(_url(asset, f"{r.id}/start"), {"reason": WHY})
    assert response.status_code == 400
    assert "cancelled" in response.content.decode()


# --- complete ------------------------------------------------------------------------------


def _result(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "result": "ready",
        "performed_at": _berlin(60),
        "valid_until": "",
        "next_due": "",
        "tolerance": "±0.5%",
        "limitations": "",
        "certificate_number": "CAL-2026-000123",
        "lab": "Acme Metrology",
        "reason": WHY,
        "measured-TOTAL_FORMS": "4",
        "measured-INITIAL_FORMS": "0",
        "measured-0-key": "at 20 Nm",
        "measured-0-value": "20.04 Nm",
    }
    data.update(overrides)
    return data


def test_complete_records_posture_and_stores_the_evidence_file(
    cast: Cast, editor: Client, asset: Asset, evidence_dir: Path
) -> None:
    r = _scheduled(cast, asset)
    page = editor.get(_url(asset, f"{r.id}/complete")).content.decode()
    assert 'enctype="multipart/form-data"' in page and "PDF, PNG, JPEG, CSV, plain text" in page
    mark = audit_mark(cast.org)
    upload = SimpleUploadedFile("CAL-123.pdf", PDF, content_type="application/pdf")
    valid = (now() + timedelta(days=365)).astimezone(ZoneInfo("Europe/Berlin"))
    response = editor.post(
        _url(asset, f"{r.id}/complete"),
        _result(valid_until=valid.strftime("%Y-%m-%dT%H:%M"), evidence_files=upload),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    r.refresh_from_db()
    sha = hashlib.sha256(PDF).hexdigest()
    assert (r.status, r.readiness_state) == ("completed", "ready")
    assert r.posture_snapshot["measuredValues"] == {"at 20 Nm": "20.04 Nm"}
    assert r.posture_snapshot["tolerance"] == "±0.5%"
    files = r.evidence_snapshot["files"]
    assert files == [
        {
            "name": "CAL-123.pdf",
            "size": len(PDF),
            "contentType": "application/pdf",
            "sha256": sha,
            "storageKey": f"{cast.org.id}/{sha}",
        }
    ]
    assert r.evidence_snapshot["certificateNumber"] == "CAL-2026-000123"
    stored = evidence_dir / cast.org.id / sha
    assert stored.read_bytes() == PDF
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason) == ("readiness.completed", WHY)
    detail = editor.get(f"/o/skyline-mro/assets/{asset.id}/").content.decode()
    assert sha in detail and _url(asset, f"{r.id}/evidence/{sha}") in detail


def test_a_future_date_or_an_early_valid_until_keeps_what_was_typed(
    cast: Cast, editor: Client, asset: Asset, evidence_dir: Path
) -> None:
    r = _scheduled(cast, asset)
    future = (now() + timedelta(days=2)).astimezone(ZoneInfo("Europe/Berlin"))
    typed = future.strftime("%Y-%m-%dT%H:%M")
    upload = SimpleUploadedFile("CAL-123.pdf", PDF)
    response = editor.post(
        _url(asset, f"{r.id}/complete"), _result(performed_at=typed, evidence_files=upload)
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "must not be in the future" in page and f'value="{typed}"' in page
    assert 'value="CAL-2026-000123"' in page and 'value="20.04 Nm"' in page
    assert "Files are not kept after an error: choose them again." in page
    response = editor.post(
        _url(asset, f"{r.id}/complete"), _result(valid_until=_berlin(120), performed_at=_berlin(60))
    )
    assert response.status_code == 400
    assert "must be after performedAt" in response.content.decode()
    r.refresh_from_db()
    assert r.status == "scheduled" and r.evidence_snapshot == {}
    # Decision 0010: the file was stored before the service refused, and nothing names it.
    assert (evidence_dir / cast.org.id / hashlib.sha256(PDF).hexdigest()).read_bytes() == PDF


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("scan.exe", b"MZ\x90\x00", "only PDF, PNG, JPEG, CSV, plain text files are accepted"),
        ("fake.pdf", b"<html>not a pdf</html>", "fake.pdf does not contain PDF data"),
        ("photo.png", PDF, "photo.png does not contain PNG data"),
        ("notes.txt", PNG, "notes.txt does not contain plain text data"),
        ("big.pdf", PDF + b"x" * 4096, "the limit is 4.0\xa0KB per file"),
    ],
)
def test_a_file_of_the_wrong_type_or_size_is_refused(
    cast: Cast,
    editor: Client,
    asset: Asset,
    evidence_dir: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    r = _scheduled(cast, asset)
    upload = SimpleUploadedFile(name, content)
    with override_settings(REGISTRA_EVIDENCE_MAX_BYTES=4096):
        response = editor.post(_url(asset, f"{r.id}/complete"), _result(evidence_files=upload))
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page, page[:4000]
    assert "choose them again" in page and 'value="CAL-2026-000123"' in page
    r.refresh_from_db()
    assert r.status == "scheduled"
    assert not evidence_dir.exists() or not any(evidence_dir.rglob("*"))


# --- download ------------------------------------------------------------------------------


def _completed_with_file(
    cast: Cast, editor: Client, asset: Asset
) -> tuple[ReadinessAssessment, str]:
    r = _scheduled(cast, asset)
    upload = SimpleUploadedFile("scan.png", PNG)
    response = editor.post(_url(asset, f"{r.id}/complete"), _result(evidence_files=upload))
    assert response.status_code == 302, response.content.decode()[:3000]
    return r, hashlib.sha256(PNG).hexdigest()


def test_a_member_downloads_the_evidence_file(
    cast: Cast, editor: Client, asset: Asset, signed_in: Callable[[Member], Client]
) -> None:
    r, sha = _completed_with_file(cast, editor, asset)
    give_password(cast.viewer)
    viewer = Client()
    sign_in(viewer, cast.viewer.email)
    response = viewer.get(_url(asset, f"{r.id}/evidence/{sha}"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG  # type: ignore[attr-defined]
    assert response["Content-Disposition"] == 'attachment; filename="scan.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "image/png"
    assert viewer.get(_url(asset, f"{r.id}/evidence/{'0' * 64}")).status_code == 404


def test_another_organization_cannot_download_it(cast: Cast, editor: Client, asset: Asset) -> None:
    r, sha = _completed_with_file(cast, editor, asset)
    give_password(cast.outsider)
    outsider = Client()  # a session of its own: the editor's stays signed in elsewhere
    sign_in(outsider, cast.outsider.email)
    assert outsider.get(_url(asset, f"{r.id}/evidence/{sha}")).status_code == 404
    theirs = f"/o/harbor-aero/assets/{asset.id}/readiness/{r.id}/evidence/{sha}"
    assert outsider.get(theirs).status_code == 404


# --- roles and organizations ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "auditor"])
def test_readers_get_403_and_a_forged_post_writes_nothing(
    cast: Cast, asset: Asset, signed_in: Callable[[Member], Client], role: str, evidence_dir: Path
) -> None:
    r = _scheduled(cast, asset)
    client = signed_in(getattr(cast, role))
    mark = audit_mark(cast.org)
    for tail, data in (
        ("schedule", {"kind": "calibration", "reason": WHY}),
        (f"{r.id}/start", {"reason": WHY}),
        (f"{r.id}/cancel", {"reason": WHY}),
        (f"{r.id}/complete", _result(evidence_files=SimpleUploadedFile("a.pdf", PDF))),
    ):
        assert client.get(_url(asset, tail)).status_code == 403, tail
        assert client.post(_url(asset, tail), data).status_code == 403, tail
    assert audit_since(cast.org, mark) == []
    r.refresh_from_db()
    assert r.status == "scheduled"
    assert ReadinessAssessment.objects.filter(asset_id=asset.id).count() == 1
    assert not evidence_dir.exists()
    detail = client.get(f"/o/skyline-mro/assets/{asset.id}/").content.decode()
    assert "Schedule an assessment" not in detail and "/readiness/" not in detail


def test_a_foreign_asset_or_assessment_is_a_404(cast: Cast, editor: Client, asset: Asset) -> None:
    theirs = make_asset(cast.other_org, "TW-001")
    r = _scheduled(cast, asset)
    assert editor.get(_url(theirs, "schedule")).status_code == 404
    other = make_asset(cast.org, "TW-002")
    assert editor.get(_url(other, f"{r.id}/start")).status_code == 404  # not this asset's
    assert editor.get(_url(asset, "asrdy_01J0000000000000000000000/complete")).status_code == 404


def test_the_asset_page_links_to_the_readiness_pages_for_writers(
    cast: Cast, editor: Client, asset: Asset
) -> None:
    scheduled = _scheduled(cast, asset)
    started = _scheduled(cast, asset, "inspection")
    editor.post(_url(asset, f"{started.id}/start"), {"reason": WHY})
    html = editor.get(f"/o/skyline-mro/assets/{asset.id}/").content.decode()
    assert _url(asset, "schedule") in html and "Schedule an assessment" in html
    for tail in ("start", "complete", "cancel"):
        assert _url(asset, f"{scheduled.id}/{tail}") in html
    assert _url(asset, f"{started.id}/start") not in html
    assert _url(asset, f"{started.id}/complete") in html


# --- query counts --------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_get_pages_run_a_fixed_number_of_queries(
    cast: Cast, editor: Client, asset: Asset, lab: ResponsibilityAssignment
) -> None:
    r = _scheduled(cast, asset)
    # The same counts whatever the asset's history: no query per assessment or responsibility.
    tails = ("schedule", f"{r.id}/start", f"{r.id}/cancel", f"{r.id}/complete")
    assert [_queries(editor, _url(asset, tail)) for tail in tails] == [6, 6, 6, 7]
