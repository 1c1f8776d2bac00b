"""The CMMS import's pages: the profiles and recent runs, a profile's page (upload a file to
plan it), the profile form, a profile file's export and import, the run page with its plan,
apply and discard, a run's error report, and the dashboard's panel.

Members who may read the register see every page read-only; ``RUN_IMPORT`` (admins, editors)
uploads a file to plan it and applies or discards a plan; ``CONFIGURE_REGISTER`` (admins)
manages the profiles. Each write is a form with a reason calling one service; a refusal comes
back as the form with everything typed and the message next to its field."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registra.core.csvcells import csv_chunks
from registra.core.errors import NotFound, RegistraError
from registra.imports import selectors
from registra.imports import services as import_services
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Organization
from registra.organizations.policy import Permission
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.import_forms import (
    PlanQuery,
    ProfileFileForm,
    ProfileForm,
    ReplaceProfileForm,
    RunUploadForm,
    profile_summary,
)
from registra.web.pages import form_page, org_url, organization_page, service_args
from registra_client import dump_profile, profile_from_dict

read_page = organization_page(Permission.READ_REGISTER)
import_page = organization_page(Permission.RUN_IMPORT)
configure_page = organization_page(Permission.CONFIGURE_REGISTER)
form_methods = require_http_methods(["GET", "POST"])
RECENT_RUNS = 50
PROFILE_RUNS = 20
ERROR_REPORT_HEADER = ("line", "assetKey", "column", "value", "reason")
# The services' field names -> the forms' fields (the profile form places its own).
FORM_FIELDS = {"reason": "reason", "file": "file", "name": "file"}
# What a plan's counts are called, in the order the run page shows them.
COUNT_LABELS = (
    ("create", "creates"),
    ("update", "updates"),
    ("status", "status changes"),
    ("unchanged", "unchanged"),
    ("handoff", "custody handoffs"),
    ("assessment", "new calibrations"),
    ("absent", "absent"),
    ("conflict", "conflicts"),
    ("error", "row errors"),
)
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
TRIGGER_LABELS = {"web": "web upload", "cli": "command line", "schedule": "nightly schedule"}
NOTHING = "—"


def _org(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined, no-any-return]


def _run(request: HttpRequest, run_id: str) -> ImportRun:
    return or_404(selectors.run_get, _org(request), run_id)


def _profile(request: HttpRequest, profile_id: str) -> ImportProfile:
    return or_404(selectors.profile_get, _org(request), profile_id)


def _to_run(request: HttpRequest, run: ImportRun) -> HttpResponse:
    return redirect(org_url(request, "import-run", run_id=run.id))


def _to_profile(request: HttpRequest, profile: ImportProfile) -> HttpResponse:
    return redirect(org_url(request, "import-profile", profile_id=profile.id))


def counts_summary(counts: dict[str, int]) -> str:
    """A run's counts in a few words ("3 creates, 10 updates, 120 unchanged")."""
    parts = [f"{counts[k]} {label}" for k, label in COUNT_LABELS if counts.get(k)]
    return ", ".join(parts) or "nothing"


def applied_message(run: ImportRun) -> str:
    """The message after an apply: what it changed."""
    parts = [f"{run.counts[k]} {label}" for k, label in APPLIED_LABELS if run.counts.get(k)]
    return "Applied: " + (", ".join(parts) if parts else "nothing needed a change") + "."


def run_rows(runs: list[ImportRun]) -> list[dict[str, Any]]:
    """The runs as their tables show them: with their counts in words and their trigger."""
    return [{"run": r, "summary": counts_summary(r.counts), "trigger": _trigger(r)} for r in runs]


def _trigger(run: ImportRun) -> str:
    return TRIGGER_LABELS.get(run.trigger, run.trigger)


def latest_runs(
    organization: Organization,
    profiles: list[ImportProfile],
    recent: list[ImportRun] | None = None,
) -> dict[str, ImportRun]:
    """Each profile's newest run, by profile id: from the organization's recent runs, and one
    read more for each profile with none among them (an organization has a few profiles)."""
    if recent is None:
        recent = selectors.run_list(organization, limit=RECENT_RUNS)
    latest: dict[str, ImportRun] = {}
    for run in recent:
        if run.profile_id:
            latest.setdefault(run.profile_id, run)
    for profile in profiles:
        if profile.id not in latest:
            older = selectors.run_list(organization, profile_id=profile.id, limit=1)
            latest.update({profile.id: older[0]} if older else {})
    return latest


def dashboard_panels(organization: Organization) -> dict[str, Any]:
    """The dashboard's imports: the plans waiting for review, and each profile's last run."""
    profiles = selectors.profile_list(organization)
    latest = latest_runs(organization, profiles) if profiles else {}
    return {
        "imports_waiting": run_rows(selectors.runs_waiting_for_review(organization)),
        "import_profiles": [(p, latest.get(p.id)) for p in profiles],
    }


# --- the imports page and a profile's page -----------------------------------------------------


@require_GET
@read_page
def imports_home(request: HttpRequest) -> HttpResponse:
    org = _org(request)
    profiles = selectors.profile_list(org)
    recent = selectors.run_list(org, limit=RECENT_RUNS)
    latest = latest_runs(org, profiles, recent)
    rows = [
        {
            "profile": p,
            "summary": profile_summary(p.definition, org.timezone),
            "last": latest.get(p.id),
        }
        for p in profiles
    ]
    context = {"nav": "imports", "profiles": rows, "runs": run_rows(recent)}
    return render(request, "web/imports/home.html", context)


def _profile_page(
    request: HttpRequest, profile: ImportProfile, form: RunUploadForm, *, status: int | None = None
) -> HttpResponse:
    org = _org(request)
    runs = selectors.run_list(org, profile_id=profile.id, limit=PROFILE_RUNS)
    context = {
        "nav": "imports",
        "profile": profile,
        "summary": profile_summary(profile.definition, org.timezone),
        "form": form,
        "runs": run_rows(runs),
    }
    return form_page(request, "web/imports/profile.html", context, status=status)


@require_GET
@read_page
def profile_detail(request: HttpRequest, profile_id: str) -> HttpResponse:
    return _profile_page(request, _profile(request, profile_id), RunUploadForm())


# --- running a file ----------------------------------------------------------------------------


@contextmanager
def _on_disk(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file on this host, gone afterwards: Django's own temporary file for a
    large upload, else the upload's chunks written to one."""
    if hasattr(upload, "temporary_file_path"):
        try:
            yield Path(upload.temporary_file_path())
        finally:
            upload.close()  # a TemporaryUploadedFile deletes its file as it closes
        return
    suffix = Path(upload.name or "").suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, dir=settings.FILE_UPLOAD_TEMP_DIR) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


@require_POST
@import_page
def run_start(request: HttpRequest, profile_id: str) -> HttpResponseBase:
    """Plan an uploaded file with the profile (a preview: nothing changes) and show its run;
    a file the profile cannot read is a failed run, whose page says why."""
    profile = _profile(request, profile_id)
    form = RunUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _profile_page(request, profile, form)
    upload: UploadedFile = form.cleaned_data["file"]
    try:
        with _on_disk(upload) as path:
            run = import_services.import_run_start(
                **service_args(request, form.cleaned_data["reason"]),
                profile_id=profile.id,
                source=import_services.SourceFile(path=path, name=upload.name or path.name),
                trigger="web",
                apply="no",
            )
    except import_services.ImportFailed as exc:
        messages.error(request, f"The file could not be planned: {exc.message}")
        return _to_run(request, exc.run)
    except RegistraError as exc:
        show_on_form(form, exc, FORM_FIELDS)
        return _profile_page(request, profile, form, status=exc.status)
    messages.success(request, f"Planned: {counts_summary(run.counts)}. Nothing has changed yet.")
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
    org = _org(request)
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
        "trigger": _trigger(run),
        "counts": counts,
        "kind": kind,
        "all_url": _filter_url(query, kind=""),
        "query": query,
        "items": [item_view(i, names) for i in items],
        "next_url": _filter_url(query, after=next_after) if next_after else "",
        "first_url": _filter_url(query) if query.cleaned_data["after"] else "",
        "form": form,
        "threshold": int(run.definition.get("error_threshold", 0)),
    }
    return form_page(request, "web/imports/run.html", context, status=status)


@require_GET
@read_page
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    return _run_page(request, _run(request, run_id), ReasonForm())


@require_POST
@import_page
def run_apply(request: HttpRequest, run_id: str) -> HttpResponseBase:
    """Apply a planned run, all or nothing; a plan made on an older register is refused (the
    run page then says so)."""
    run = _run(request, run_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        return _run_page(request, run, form)
    try:
        run = import_services.import_run_apply(
            **service_args(request, form.cleaned_data["reason"]), run_id=run.id
        )
    except import_services.ImportFailed as exc:
        messages.error(request, f"Nothing was applied: {exc.message}.")
        return _to_run(request, exc.run)
    except RegistraError as exc:
        show_on_form(form, exc, FORM_FIELDS)
        return _run_page(request, run, form, status=exc.status)
    messages.success(request, applied_message(run))
    return _to_run(request, run)


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
def run_errors(request: HttpRequest, run_id: str) -> StreamingHttpResponse:
    """The run's row errors as CSV (line, asset key, column, value, reason), streamed, every
    cell formula-safe."""
    org = _org(request)
    run = _run(request, run_id)
    rows = selectors.error_report_rows(org, run)
    lines = csv_chunks(ERROR_REPORT_HEADER, rows, timezone.get_current_timezone())
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.id}-errors.csv"'
    return response


# --- profiles ----------------------------------------------------------------------------------


def _profile_form(request: HttpRequest, profile: ImportProfile | None) -> HttpResponseBase:
    """New (``profile=None``) or edit: the form, its refusal (400, or the service's status)
    with everything typed, or "Add more rows" (the same form, nothing checked)."""
    definition = profile.definition if profile else None
    post = request.POST if request.method == "POST" else None
    more_rows = post is not None and "more_rows" in post
    form = ProfileForm(post, definition=definition, more_rows=more_rows)
    status = 200 if more_rows else None
    if post is not None and not more_rows and form.is_valid():
        args = service_args(request, form.cleaned_data["reason"])
        try:
            if profile is None:
                saved = import_services.import_profile_create(**args, definition=form.definition())
            else:
                saved = import_services.import_profile_update(
                    **args, profile_id=profile.id, definition=form.definition()
                )
        except RegistraError as exc:
            form.show_issues(exc)
            status = exc.status
        else:
            messages.success(request, f"Profile {saved.name} {'saved' if profile else 'created'}.")
            return _to_profile(request, saved)
    context = {"nav": "imports", "form": form, "profile": profile}
    return form_page(request, "web/imports/profile_form.html", context, status=status)


@form_methods
@configure_page
def profile_create(request: HttpRequest) -> HttpResponseBase:
    return _profile_form(request, None)


@form_methods
@configure_page
def profile_edit(request: HttpRequest, profile_id: str) -> HttpResponseBase:
    return _profile_form(request, _profile(request, profile_id))


@form_methods
@configure_page
def profile_delete(request: HttpRequest, profile_id: str) -> HttpResponseBase:
    """Delete a profile (a confirmation page with a reason); its runs stay in the history."""
    profile = _profile(request, profile_id)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        try:
            import_services.import_profile_delete(
                **service_args(request, form.cleaned_data["reason"]), profile_id=profile.id
            )
        except RegistraError as exc:
            show_on_form(form, exc, FORM_FIELDS)
            status = exc.status
        else:
            messages.success(request, f"Profile {profile.name} deleted; its runs stay listed.")
            return redirect(org_url(request, "imports"))
    context = {"nav": "imports", "profile": profile, "form": form}
    return form_page(request, "web/imports/profile_delete.html", context, status=status)


def toml_file_name(name: str) -> str:
    """``<name>.toml``, with only characters every browser keeps in a download's name."""
    safe = re.sub(r"[^A-Za-z0-9._ -]+", "-", name).strip(" .-")
    return f"{safe or 'profile'}.toml"


@require_GET
@configure_page
def profile_export(request: HttpRequest, profile_id: str) -> HttpResponse:
    """The profile as a TOML file (what "Import a profile file" and the CLI read back)."""
    profile = _profile(request, profile_id)
    text = dump_profile(profile_from_dict(profile.definition))
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{toml_file_name(profile.name)}"'
    return response


def _profile_named(request: HttpRequest, name: str) -> ImportProfile | None:
    try:
        return selectors.profile_get_by_name(_org(request), name)
    except NotFound:
        return None


@form_methods
@configure_page
def profile_import(request: HttpRequest) -> HttpResponseBase:
    """Create a profile from a TOML file; a file naming an existing profile asks first whether
    to replace it (that second POST carries the file's text)."""
    if request.method == "POST" and "text" in request.POST:
        return _profile_replace(request)
    form = ProfileFileForm(request.POST or None, request.FILES or None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        existing = _profile_named(request, d["definition"]["name"])
        if existing is not None:
            replace = ReplaceProfileForm(initial={"text": d["text"], "reason": d["reason"]})
            context = {"nav": "imports", "form": replace, "profile": existing}
            return render(request, "web/imports/profile_replace.html", context)
        try:
            profile = import_services.import_profile_create(
                **service_args(request, d["reason"]), definition=d["definition"]
            )
        except RegistraError as exc:
            show_on_form(form, exc, FORM_FIELDS)
            status = exc.status
        else:
            messages.success(request, f"Profile {profile.name} imported.")
            return _to_profile(request, profile)
    context = {"nav": "imports", "form": form}
    return form_page(request, "web/imports/profile_import.html", context, status=status)


def _profile_replace(request: HttpRequest) -> HttpResponseBase:
    """The second step of an import over an existing profile: replace it (an update)."""
    form = ReplaceProfileForm(request.POST)
    profile: ImportProfile | None = None
    status: int | None = None
    if form.is_valid():
        d = form.cleaned_data
        profile = _profile_named(request, d["definition"]["name"])
        if profile is None:
            form.add_error(None, "That profile was deleted meanwhile: import the file again.")
        else:
            try:
                profile = import_services.import_profile_update(
                    **service_args(request, d["reason"]),
                    profile_id=profile.id,
                    definition=d["definition"],
                )
            except RegistraError as exc:
                show_on_form(form, exc, FORM_FIELDS)
                status = exc.status
            else:
                messages.success(request, f"Profile {profile.name} replaced by the file.")
                return _to_profile(request, profile)
    context = {"nav": "imports", "form": form, "profile": profile}
    return form_page(request, "web/imports/profile_replace.html", context, status=status)
