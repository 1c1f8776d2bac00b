"""Readiness assessments of one asset: schedule, start, record the result with its posture and
evidence files, cancel; and the download of an evidence file, for members of its organization
only (decision 0010)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils import timezone

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.models import Asset, ReadinessAssessment
from registra.core.errors import RegistraError
from registra.organizations import selectors as org_selectors
from registra.organizations.policy import Permission
from registra.web import evidence
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.pages import form_page, organization_page, to_asset
from registra.web.readiness_forms import SERVICE_FIELDS, CompleteForm, ScheduleForm


def _org_asset(request: HttpRequest, asset_id: str) -> tuple[Any, Asset]:
    org = request.organization  # type: ignore[attr-defined]
    return org, or_404(selectors.asset_get, org, asset_id)


@organization_page(Permission.WRITE_REGISTER)
def schedule(request: HttpRequest, asset_id: str) -> HttpResponse:
    org, asset = _org_asset(request, asset_id)
    required = (org.readiness_requirements or {}).get(asset.asset_kind, [])
    form = ScheduleForm(
        request.POST or None,
        required_kinds=required,
        responsibilities=org_selectors.responsibility_list(org),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            r = asset_services.readiness_schedule(
                organization=org,
                actor=request.actor,  # type: ignore[attr-defined]
                reason=d["reason"],
                asset_id=asset.id,
                assessment_kind=d["assessment_kind"],
                performed_by_responsibility_id=d["performer"] or None,
            )
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            messages.success(
                request,
                f"Assessment {r.readiness_assessment_key} ({r.assessment_kind}) scheduled.",
            )
            return to_asset(request, asset)
    return form_page(request, "web/readiness_schedule.html", {"asset": asset, "form": form})


# The confirmation pages: the service, the page's title and button, and what was done.
_CONFIRM = {
    "start": (asset_services.readiness_start, "Start assessment", "started"),
    "cancel": (asset_services.readiness_cancel, "Cancel assessment", "cancelled"),
}


def _confirm(request: HttpRequest, asset_id: str, assessment_id: str, action: str) -> HttpResponse:
    org, asset = _org_asset(request, asset_id)
    r = or_404(selectors.assessment_get, org, asset.id, assessment_id)
    service, title, done = _CONFIRM[action]
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(
                organization=org,
                actor=request.actor,  # type: ignore[attr-defined]
                reason=form.cleaned_data["reason"],
                assessment_id=r.id,
            )
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            messages.success(request, f"Assessment {r.readiness_assessment_key} {done}.")
            return to_asset(request, asset)
    context = {"asset": asset, "assessment": r, "form": form, "title": title, "action": action}
    return form_page(request, "web/readiness_confirm.html", context)


@organization_page(Permission.WRITE_REGISTER)
def start(request: HttpRequest, asset_id: str, assessment_id: str) -> HttpResponse:
    return _confirm(request, asset_id, assessment_id, "start")


@organization_page(Permission.WRITE_REGISTER)
def cancel(request: HttpRequest, asset_id: str, assessment_id: str) -> HttpResponse:
    return _confirm(request, asset_id, assessment_id, "cancel")


@organization_page(Permission.WRITE_REGISTER)
def complete(request: HttpRequest, asset_id: str, assessment_id: str) -> HttpResponse:
    org, asset = _org_asset(request, asset_id)
    r = or_404(selectors.assessment_get, org, asset.id, assessment_id)
    form = CompleteForm(
        request.POST or None,
        request.FILES or None,
        assessment=r,
        responsibilities=org_selectors.responsibility_list(org),
        zone=timezone.get_current_timezone_name(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            _record_result(request, r, form)
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            messages.success(request, f"Assessment {r.readiness_assessment_key} completed.")
            return to_asset(request, asset)
    context = {"asset": asset, "assessment": r, "form": form, "measured": form.measured}
    return form_page(request, "web/readiness_complete.html", context)


def _record_result(request: HttpRequest, r: ReadinessAssessment, form: CompleteForm) -> None:
    """Store the files first (content-addressed), then record the result through the service:
    a refusal leaves at most an unreferenced blob, never a reference to a missing file."""
    org = request.organization  # type: ignore[attr-defined]
    d = form.cleaned_data
    stored = [evidence.store(org.id, upload, kind) for upload, kind in d["evidence_files"]]
    asset_services.readiness_complete(
        organization=org,
        actor=request.actor,  # type: ignore[attr-defined]
        reason=d["reason"],
        assessment_id=r.id,
        readiness_state=d["result"],
        performed_at=d["performed_at"],
        valid_until=d["valid_until"],
        performed_by_responsibility_id=d["performer"] or None,
        posture_snapshot=form.posture(),
        evidence_snapshot=form.evidence(stored),
    )


@organization_page(Permission.READ_REGISTER)
def evidence_file(
    request: HttpRequest, asset_id: str, assessment_id: str, sha256: str
) -> FileResponse:
    org, asset = _org_asset(request, asset_id)
    r = or_404(selectors.assessment_get, org, asset.id, assessment_id)
    entry = evidence.find(r.evidence_snapshot, sha256)
    if entry is None or entry["storageKey"] != evidence.storage_key(org.id, sha256):
        raise Http404("no such evidence file")
    try:
        handle = default_storage.open(entry["storageKey"], "rb")
    except FileNotFoundError:
        raise Http404("the evidence file is missing from storage") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=str(entry.get("name") or sha256),
        content_type=str(entry.get("contentType") or "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
