"""The CMMS import's run pages: a file uploaded to plan it with a profile, the run page with its
plan (filtered and paged, each item as the page shows it), apply and discard, and a run's
error report.

Members who may read the register see a run read-only; ``RUN_IMPORT`` (admins, editors)
uploads a file to plan it and applies or discards a plan. Each write is a form with a reason
calling one service; a refusal comes back as the form with the message next to its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registra.core.csvcells import csv_chunks
from registra.core.errors import RegistraError
from registra.imports import selectors
from registra.imports import services as import_services
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Organization
from registra.organizations.policy import Permission
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.import_run_forms import PlanQuery, RunUploadForm
from registra.web.pages import form_page, org_url, organization_page, service_args
from registra.web.views.import_profiles import (
    COUNT_LABELS,
    FORM_FIELDS,
    organization_of,
    profile_of,
    profile_page,
    trigger_text,
)

read_page = organization_page(Permission.READ_REGISTER)
import_page = organization_page(Permission.RUN_IMPORT)
form_methods = require_http_methods(["GET", "POST"])
ERROR_REPORT_HEADER = ("line", "assetKey", "column", "value", "reason")
# What an apply changed, for the message after it.
APPLIED_LABELS = (
    ("create", "created"),
    ("update", "updated"),
    ("status", "status changes"),
    ("handoff", "custody handoffs"),
    ("assessment", "new calibrations"),
    ("absent", "absent from the file"),
)
KIND_LABELS = {
    "create": "Create",
    "update": "Update",
    "status": "Status change",
    "unchanged": "Unchanged",
    "handoff": "Custody handoff",
    "assessment": "New calibration",
    "absent": "Absent from the file",
    "conflict": "Conflict",
    "error": "Row error",
}
NOTHING = "—"


def _run(request: HttpRequest, run_id: str) -> ImportRun:
    return or_404(selectors.run_get, organization_of(request), run_id)


def _to_run(request: HttpRequest, run: ImportRun) -> HttpResponse:
    return redirect(org_url(request, "import-run", run_id=run.id))


def applied_message(run: ImportRun) -> str:
    """The message after an apply: what it changed."""
    parts = [f"{run.counts[k]} {label}" for k, label in APPLIED_LABELS if run.counts.get(k)]
    return "Applied: " + (", ".join(parts) if parts else "nothing needed a change") + "."


# --- running a file ----------------------------------------------------------------------------


@require_POST
@import_page
def run_start(request: HttpRequest, profile_id: str) -> HttpResponseBase:
    """Keep an uploaded file for the worker to plan with the profile (a preview: nothing
    changes) and show its run, which says when the plan is ready (decision 0020)."""
    profile = profile_of(request, profile_id)
    form = RunUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return profile_page(request, profile, form)
    upload: UploadedFile = form.cleaned_data["file"]
    try:
        run = import_services.import_run_queue(
            **service_args(request, form.cleaned_data["reason"]),
            profile_id=profile.id,
            upload=upload,
            name=upload.name or "upload",
        )
    except RegistraError as exc:
        show_on_form(form, exc, FORM_FIELDS)
        return profile_page(request, profile, form, status=exc.status)
    messages.success(request, "Uploaded: the worker plans the file now. Nothing has changed yet.")
    return _to_run(request, run)


# --- a run's page ------------------------------------------------------------------------------


def _value(value: Any) -> str:
    """A value of a plan as the page prints it."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) or NOTHING
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value) or NOTHING
    return str(value)


def _holder_ids(item: ImportPlanItem) -> list[str]:
    d = item.detail
    if item.kind == "handoff":
        return [h for h in (d["before"].get("holder"), d["after"].get("holder")) if h]
    if item.kind == "conflict" and d.get("field") == "custody":
        return [v for v in (d.get("register"), d.get("cmms")) if isinstance(v, str)]
    return []


def _holder_names(organization: Organization, items: list[ImportPlanItem]) -> dict[str, str]:
    """The names of the members a page's handoffs and custody conflicts name: one read, only
    when the page has any."""
    ids = {i for item in items for i in _holder_ids(item)}
    if not ids:
        return {}
    members = org_selectors.member_list(organization)
    return {m.id: f"{m.full_name or m.email} ({m.email})" for m in members if m.id in ids}


Facts = list[tuple[str, str]]
Changes = list[tuple[str, str, str]]
CREATE_FACTS = (("display_name", "Name"), ("asset_kind", "Kind"), ("status", "Status"))
SNAPSHOT_FACTS = (
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("serialNumber", "Serial number"),
    ("location", "Location"),
)


def _created(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    spec = d.get("after") or {}
    snapshot = spec.get("asset_snapshot") or {}
    facts = [(label, _value(spec[k])) for k, label in CREATE_FACTS if spec.get(k)]
    facts += [(label, _value(snapshot[k])) for k, label in SNAPSHOT_FACTS if snapshot.get(k)]
    return [], facts, ""


def _changed(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    before, after = d.get("before") or {}, d.get("after") or {}
    return [(f, _value(before.get(f)), _value(v)) for f, v in after.items()], [], ""


def _handed_off(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    held, takes = d["before"].get("holder"), d["after"].get("holder")
    return (
        [("holder", names.get(held, held) if held else "nobody", names.get(takes, takes))],
        [],
        "",
    )


def _calibrated(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    after = d.get("after") or {}
    facts = [
        ("Calibrated on", _value(after.get("performedOn"))),
        ("Due", _value(after.get("dueOn"))),
        ("Readiness", _value(after.get("readinessState"))),
    ]
    return [], facts, ""


def _absent(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    return (
        [],
        [("Register status", _value(d.get("status"))), ("Action", _value(d.get("action")))],
        "",
    )


def _conflict(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    """The field, and the register's and the CMMS's values where the item has them (that of
    a decommissioned asset names only the fields)."""
    field, column = d.get("field", ""), d.get("column", "")
    facts = [("Field", f"{field} (column {column})" if column and column != field else field)]
    for label, key in (("Register", "register"), ("CMMS", "cmms")):
        if key in d:
            value = d[key]
            shown = (
                names.get(value, value) if field == "custody" and isinstance(value, str) else value
            )
            facts.append((label, _value(shown)))
    return [], facts, str(d.get("reason", ""))


def _row_error(d: dict[str, Any], names: dict[str, str]) -> tuple[Changes, Facts, str]:
    facts = [("Column", _value(d.get("column"))), ("Value", _value(d.get("value")))]
    return [], facts, str(d.get("reason", ""))


SHOWN: dict[str, Callable[[dict[str, Any], dict[str, str]], tuple[Changes, Facts, str]]] = {
    "create": _created,
    "update": _changed,
    "status": _changed,
    "handoff": _handed_off,
    "assessment": _calibrated,
    "absent": _absent,
    "conflict": _conflict,
    "error": _row_error,
}


def item_view(item: ImportPlanItem, names: dict[str, str]) -> dict[str, Any]:
    """What the run page shows of one plan item: its ``changes`` (field, before, after), its
    ``facts`` (label, value) and a ``note`` (why)."""
    shown = SHOWN.get(item.kind)
    # A new asset is shown from its payload (the spec apply will create); the rest from detail.
    shown_from = {"after": item.payload} if item.kind == "create" else item.detail
    changes, facts, note = shown(shown_from, names) if shown else ([], [], "")
    label = KIND_LABELS.get(item.kind, item.kind)
    return {"item": item, "label": label, "changes": changes, "facts": facts, "note": note}


def _plan_query(request: HttpRequest) -> PlanQuery:
    query = PlanQuery(request.GET)
    if not query.is_valid():  # a bad filter shows the whole plan, the form saying why
        query.cleaned_data = {"kind": "", "q": "", "after": None}
    return query


def _filter_url(query: PlanQuery, **changes: Any) -> str:
    """The query string of the plan's filter with ``changes`` (empty values dropped)."""
    data = {"kind": query.cleaned_data["kind"], "q": query.cleaned_data["q"].strip()}
    data.update(changes)
    params = urlencode({k: v for k, v in data.items() if v})
    return f"?{params}" if params else ""


def _run_page(
    request: HttpRequest, run: ImportRun, form: ReasonForm, *, status: int | None = None
) -> HttpResponse:
    """The run page: what was read, the counts as filters of the plan, one page of the plan
    (with the apply form when the member may apply)."""
    org = organization_of(request)
    state, started = selectors.run_state(run)
    query = _plan_query(request)
    kind = query.cleaned_data["kind"]
    items, next_after = selectors.plan_page(
        org, run, kind=kind, search=query.cleaned_data["q"], after=query.cleaned_data["after"] or 0
    )
    names = _holder_names(org, items)
    counts = [
        {"kind": k, "label": label, "n": run.counts.get(k, 0), "url": _filter_url(query, kind=k)}
        for k, label in COUNT_LABELS
    ]
    context = {
        "nav": "imports",
        "run": run,
        "trigger": trigger_text(run),
        "counts": counts,
        "kind": kind,
        "all_url": _filter_url(query, kind=""),
        "query": query,
        "items": [item_view(i, names) for i in items],
        "next_url": _filter_url(query, after=next_after) if next_after else "",
        "first_url": _filter_url(query) if query.cleaned_data["after"] else "",
        "form": form,
        "threshold": int(run.definition.get("error_threshold", 0)),
        "state": state,
        "worker_started": started,
        "applied_summary": applied_message(run) if run.status == "applied" else "",
    }
    return form_page(request, "web/imports/run.html", context, status=status)


@require_GET
@read_page
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    return _run_page(request, _run(request, run_id), ReasonForm())


@require_POST
@import_page
def run_apply(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """Ask the worker to apply a planned run, all or nothing; a plan made on an older register
    is refused then (the run page says so)."""
    run = _run(request, run_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _run_page(request, run, form)
    try:
        run = import_services.import_run_request_apply(
            **service_args(request, form.cleaned_data["reason"]), run_id=run.id
        )
    except RegistraError as exc:
        show_on_form(form, exc, FORM_FIELDS)
        return _run_page(request, run, form, status=exc.status)
    messages.success(request, "Applying: the worker writes the plan now, all or nothing.")
    return _to_run(request, run)


@require_GET
@read_page
def run_state_json(request: HttpRequest, run_id: str) -> JsonResponse:
    return JsonResponse({"state": selectors.run_state(_run(request, run_id))[0]})


@form_methods
@import_page
def run_discard(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """Drop a planned run (a confirmation page with a reason)."""
    run = _run(request, run_id)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        try:
            import_services.import_run_discard(
                **service_args(request, form.cleaned_data["reason"]), run_id=run.id
            )
        except RegistraError as exc:
            show_on_form(form, exc, FORM_FIELDS)
            status = exc.status
        else:
            messages.success(request, "Discarded: nothing of this plan was applied.")
            return _to_run(request, run)
    context = {"nav": "imports", "run": run, "form": form}
    return form_page(request, "web/imports/discard.html", context, status=status)


@require_GET
@read_page
def run_errors(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """The run's row errors as CSV (line, asset key, column, value, reason), streamed, every
    cell formula-safe; back to the run page when they were deleted with its plan."""
    org = organization_of(request)
    run = _run(request, run_id)
    if run.items_purged_at:
        messages.error(request, "This run's error report was deleted with its plan.")
        return _to_run(request, run)
    rows = selectors.error_report_rows(org, run)
    lines = csv_chunks(ERROR_REPORT_HEADER, rows, timezone.get_current_timezone())
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.id}-errors.csv"'
    return response
