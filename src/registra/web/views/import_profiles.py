"""The CMMS import's profile pages: the imports page (the profiles, each with its last run, and
the recent runs), a profile's page (upload a file to plan it), the profile form (new, edit),
delete, a profile file's export and import, and the dashboard's imports panel. The runs as
these lists show them (their counts in words, their trigger) are here too; a run's own pages
are in ``import_runs``.

Members who may read the register see every page read-only; ``RUN_IMPORT`` (admins, editors)
uploads a file to plan it; ``CONFIGURE_REGISTER`` (admins) manages the profiles. Each write is
a form with a reason calling one service; a refusal comes back as the form with everything
typed and the message next to its field."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from registra.core.errors import NotFound, RegistraError
from registra.imports import selectors
from registra.imports import services as import_services
from registra.imports.models import ImportProfile, ImportRun
from registra.organizations.models import Organization
from registra.organizations.policy import Permission
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.import_profile_file_forms import ProfileFileForm, ReplaceProfileForm
from registra.web.import_profile_forms import ProfileForm
from registra.web.import_profile_text import profile_summary
from registra.web.import_run_forms import RunUploadForm
from registra.web.pages import form_page, org_url, organization_page, service_args
from registra_client import dump_profile, profile_from_dict

read_page = organization_page(Permission.READ_REGISTER)
configure_page = organization_page(Permission.CONFIGURE_REGISTER)
form_methods = require_http_methods(["GET", "POST"])
RECENT_RUNS = 50
PROFILE_RUNS = 20
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
TRIGGER_LABELS = {"web": "web upload", "cli": "command line", "schedule": "nightly schedule"}


def organization_of(request: HttpRequest) -> Organization:
    return request.organization  # type: ignore[attr-defined, no-any-return]


def profile_of(request: HttpRequest, profile_id: str) -> ImportProfile:
    """The organization's profile ``profile_id`` (a 404 when it has none of that id)."""
    return or_404(selectors.profile_get, organization_of(request), profile_id)


def _to_profile(request: HttpRequest, profile: ImportProfile) -> HttpResponse:
    return redirect(org_url(request, "import-profile", profile_id=profile.id))


# --- the runs as the lists show them ------------------------------------------------------------


def counts_summary(counts: dict[str, int]) -> str:
    """A run's counts in a few words ("3 creates, 10 updates, 120 unchanged")."""
    parts = [f"{counts[k]} {label}" for k, label in COUNT_LABELS if counts.get(k)]
    return ", ".join(parts) or "nothing"


def run_rows(runs: list[ImportRun]) -> list[dict[str, Any]]:
    """The runs as their tables show them: with their counts in words and their trigger."""
    return [
        {"run": r, "summary": counts_summary(r.counts), "trigger": trigger_text(r)} for r in runs
    ]


def trigger_text(run: ImportRun) -> str:
    """What started the run, in words ("nightly schedule")."""
    return TRIGGER_LABELS.get(run.trigger, run.trigger)


def _latest_runs(organization: Organization, profiles: list[ImportProfile]) -> dict[str, ImportRun]:
    """Each profile's newest run, by profile id (no read when there is no profile)."""
    return selectors.latest_run_by_profile(organization) if profiles else {}


def dashboard_panels(organization: Organization) -> dict[str, Any]:
    """The dashboard's imports: the plans waiting for review, and each profile's last run."""
    profiles = selectors.profile_list(organization)
    latest = _latest_runs(organization, profiles)
    return {
        "imports_waiting": run_rows(selectors.runs_waiting_for_review(organization)),
        "import_profiles": [(p, latest.get(p.id)) for p in profiles],
    }


# --- the imports page and a profile's page -----------------------------------------------------


@require_GET
@read_page
def imports_home(request: HttpRequest) -> HttpResponse:
    org = organization_of(request)
    profiles = selectors.profile_list(org)
    recent = selectors.run_list(org, limit=RECENT_RUNS)
    latest = _latest_runs(org, profiles)
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


def profile_page(
    request: HttpRequest, profile: ImportProfile, form: RunUploadForm, *, status: int | None = None
) -> HttpResponse:
    """A profile's page: the profile in words, its recent runs, and ``form`` (the upload)."""
    org = organization_of(request)
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
    return profile_page(request, profile_of(request, profile_id), RunUploadForm())


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
    return _profile_form(request, profile_of(request, profile_id))


@form_methods
@configure_page
def profile_delete(request: HttpRequest, profile_id: str) -> HttpResponseBase:
    """Delete a profile (a confirmation page with a reason); its runs stay in the history."""
    profile = profile_of(request, profile_id)
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
    profile = profile_of(request, profile_id)
    text = dump_profile(profile_from_dict(profile.definition))
    response = HttpResponse(text, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{toml_file_name(profile.name)}"'
    return response


def _profile_named(request: HttpRequest, name: str) -> ImportProfile | None:
    try:
        return selectors.profile_get_by_name(organization_of(request), name)
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
