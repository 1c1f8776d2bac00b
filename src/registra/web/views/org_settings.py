"""The organization's settings: its name, time zone, locale, multi-factor requirement and
due-soon window (admins: ``manage-organization``), its classification levels and the
assessment kinds each asset kind requires with their validity periods (``configure-register``).
Each write is a form with a reason calling one service; a refusal comes back as the form (400,
409 or 422) with everything typed and the message at its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from registra.assets import selectors as asset_selectors
from registra.assets import services as asset_services
from registra.core.errors import Conflict, Unprocessable, ValidationFailed
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.choices import Severity
from registra.organizations.models import ClassificationLevel
from registra.organizations.policy import Permission, may
from registra.web.errors import or_404, show_on_form
from registra.web.forms import ReasonField
from registra.web.pages import form_page, org_url, organization_page, service_args

REFUSALS = (ValidationFailed, Conflict, Unprocessable)
# Service field names -> form fields.
FIELDS = {
    "name": "name",
    "timezone": "timezone",
    "locale": "locale",
    "requireMfa": "require_mfa",
    "dueSoonDays": "due_soon_days",
    "label": "label",
    "rank": "rank",
    "severity": "severity",
    "assetKind": "asset_kind",
    "assessmentKind": "assessment_kind",
    "validityDays": "validity_days",
    "reason": "reason",
}
form_methods = require_http_methods(["GET", "POST"])
configure_page = organization_page(Permission.CONFIGURE_REGISTER)
manage_page = organization_page(Permission.MANAGE_ORGANIZATION)


# --- forms -----------------------------------------------------------------------------------


class SettingsForm(forms.Form):
    """The organization's own settings."""

    name = forms.CharField(label="Name", max_length=200)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="An IANA time zone such as Europe/Berlin: pages show dates in it.",
    )
    locale = forms.CharField(label="Locale", max_length=35, help_text="For example en-US or de-CH.")
    require_mfa = forms.BooleanField(
        label="Every member must sign in with a second factor", required=False
    )
    due_soon_days = forms.IntegerField(
        label="Due-soon window (days)",
        help_text="A required assessment due within this many days (1-365) is due soon.",
    )
    reason = ReasonField()


class LevelForm(forms.Form):
    """A classification level."""

    label = forms.CharField(label="Label", max_length=100)
    rank = forms.IntegerField(
        label="Rank", help_text="0-1000, unique; forms list higher ranks first."
    )
    severity = forms.ChoiceField(
        label="Severity", choices=[("", "Choose a severity"), *Severity.choices]
    )
    reason = ReasonField()


class RequirementForm(forms.Form):
    """One assessment kind an asset kind requires, with its validity period."""

    asset_kind = forms.CharField(
        label="Asset kind",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "asset-kinds"}),
    )
    assessment_kind = forms.CharField(
        label="Required assessment kind", max_length=64, help_text="For example calibration."
    )
    validity_days = forms.IntegerField(
        label="Validity period (days)",
        required=False,
        help_text=(
            "How long a completed assessment stays valid when its record has no due date"
            " (1-3650). Empty: such an assessment never lapses."
        ),
    )
    reason = ReasonField()


class RemoveRequirementForm(forms.Form):
    asset_kind = forms.CharField(widget=forms.HiddenInput, max_length=64)
    assessment_kind = forms.CharField(widget=forms.HiddenInput, max_length=64)
    reason = ReasonField()


class RemoveForm(forms.Form):
    reason = ReasonField()


# --- helpers ---------------------------------------------------------------------------------


def _org(request: HttpRequest) -> Any:
    return request.organization  # type: ignore[attr-defined]


def _refused(form: forms.Form, exc: ValidationFailed | Conflict | Unprocessable) -> int:
    show_on_form(form, exc, FIELDS)
    return exc.status


def _requirements(org: Any) -> list[dict[str, Any]]:
    """The required kinds as rows: asset kind, assessment kind, validity period (or None)."""
    validity = org.readiness_validity or {}
    return [
        {"asset_kind": kind, "assessment_kind": needed, "days": validity.get(kind, {}).get(needed)}
        for kind, required in sorted((org.readiness_requirements or {}).items())
        for needed in required
    ]


def _level(request: HttpRequest, level_id: str) -> ClassificationLevel:
    return or_404(org_selectors.classification_level_get, _org(request), level_id)


# --- the overview ----------------------------------------------------------------------------


@require_GET
@organization_page(Permission.READ_REGISTER)
def settings_overview(request: HttpRequest) -> HttpResponse:
    """What the member may change here: the organization's settings (admins), its levels and
    required kinds (those who configure the register)."""
    actor, org = request.actor, _org(request)  # type: ignore[attr-defined]
    configure = may(actor, Permission.CONFIGURE_REGISTER)
    if not (configure or may(actor, Permission.MANAGE_ORGANIZATION)):
        raise PermissionDenied("your role may not change the organization's settings")
    context = {
        "nav": "settings",
        "levels": org_selectors.classification_level_list(org) if configure else [],
        "requirements": _requirements(org) if configure else [],
    }
    return render(request, "web/settings/overview.html", context)


# --- organization settings -------------------------------------------------------------------


@form_methods
@manage_page
def organization_settings(request: HttpRequest) -> HttpResponseBase:
    org = _org(request)
    initial = {
        "name": org.name,
        "timezone": org.timezone,
        "locale": org.locale,
        "require_mfa": org.require_mfa,
        "due_soon_days": org.due_soon_days,
    }
    form = SettingsForm(request.POST or None, initial=initial)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org_services.organization_update_settings(
                **service_args(request, form.cleaned_data["reason"]),
                name=d["name"],
                timezone=d["timezone"],
                locale=d["locale"],
                require_mfa=d["require_mfa"],
                due_soon_days=d["due_soon_days"],
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(request, "Organization settings saved.")
            return redirect(org_url(request, "settings"))
    return form_page(
        request, "web/settings/organization.html", {"nav": "settings", "form": form}, status=status
    )


# --- classification levels -------------------------------------------------------------------


@form_methods
@configure_page
def level_create(request: HttpRequest) -> HttpResponseBase:
    form = LevelForm(request.POST or None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            level = org_services.classification_level_create(
                **service_args(request, form.cleaned_data["reason"]),
                label=d["label"],
                rank=d["rank"],
                severity=d["severity"],
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(request, f"Classification level {level.label} added.")
            return redirect(org_url(request, "settings"))
    return form_page(
        request,
        "web/settings/level_form.html",
        {"nav": "settings", "form": form, "level": None},
        status=status,
    )


@form_methods
@configure_page
def level_edit(request: HttpRequest, level_id: str) -> HttpResponseBase:
    level = _level(request, level_id)
    initial = {"label": level.label, "rank": level.rank, "severity": level.severity}
    form = LevelForm(request.POST or None, initial=initial)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            org_services.classification_level_update(
                **service_args(request, form.cleaned_data["reason"]),
                level_id=level.id,
                label=d["label"],
                rank=d["rank"],
                severity=d["severity"],
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(request, f"Classification level {d['label']} saved.")
            return redirect(org_url(request, "settings"))
    return form_page(
        request,
        "web/settings/level_form.html",
        {"nav": "settings", "form": form, "level": level},
        status=status,
    )


@form_methods
@configure_page
def level_remove(request: HttpRequest, level_id: str) -> HttpResponseBase:
    level = _level(request, level_id)
    form = RemoveForm(request.POST or None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        try:
            org_services.classification_level_remove(
                **service_args(request, form.cleaned_data["reason"]), level_id=level.id
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(request, f"Classification level {level.label} removed.")
            return redirect(org_url(request, "settings"))
    return form_page(
        request,
        "web/settings/level_remove.html",
        {"nav": "settings", "form": form, "level": level},
        status=status,
    )


# --- required assessment kinds ---------------------------------------------------------------


@form_methods
@configure_page
def requirement_set(request: HttpRequest) -> HttpResponseBase:
    """Add a required kind, or change its validity period (``?asset_kind=&assessment_kind=``
    fills in one that exists)."""
    org = _org(request)
    initial = {k: request.GET.get(k, "") for k in ("asset_kind", "assessment_kind")}
    existing = (org.readiness_validity or {}).get(initial["asset_kind"], {})
    initial["validity_days"] = existing.get(initial["assessment_kind"])
    form = RequirementForm(request.POST or None, initial=initial)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            asset_services.readiness_requirement_set(
                **service_args(request, form.cleaned_data["reason"]),
                asset_kind=d["asset_kind"],
                assessment_kind=d["assessment_kind"],
                validity_days=d["validity_days"],
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(
                request,
                f"{d['asset_kind']} requires {d['assessment_kind']}: readiness recomputed.",
            )
            return redirect(org_url(request, "settings"))
    context = {"form": form, "kinds": asset_selectors.register_kinds(org)}
    return form_page(
        request, "web/settings/requirement_form.html", {"nav": "settings", **context}, status=status
    )


@form_methods
@configure_page
def requirement_remove(request: HttpRequest) -> HttpResponseBase:
    source = request.POST if request.method == "POST" else request.GET
    shown = {k: source.get(k, "") for k in ("asset_kind", "assessment_kind")}
    required = (_org(request).readiness_requirements or {}).get(shown["asset_kind"], [])
    if request.method == "GET" and shown["assessment_kind"] not in required:
        raise Http404("no such required assessment kind")
    form = RemoveRequirementForm(request.POST or None, initial=shown)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            asset_services.readiness_requirement_remove(
                **service_args(request, form.cleaned_data["reason"]),
                asset_kind=d["asset_kind"],
                assessment_kind=d["assessment_kind"],
            )
        except REFUSALS as exc:
            status = _refused(form, exc)
        else:
            messages.success(
                request,
                f"{d['asset_kind']} no longer requires {d['assessment_kind']}:"
                " readiness recomputed.",
            )
            return redirect(org_url(request, "settings"))
    return form_page(
        request,
        "web/settings/requirement_remove.html",
        {"nav": "settings", "form": form, "shown": shown},
        status=status,
    )
