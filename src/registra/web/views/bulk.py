"""Bulk actions on the register list: change status, hand custody to one member, schedule an
assessment. Each applies to the selected rows or to every asset of the current filter, with
one reason for the batch, one audit event per record, all or nothing (the services' rule).

The register page holds one form with the three actions (a button each); the list's filter
travels with it as ``filter-<name>`` fields. A refused batch comes back on its own page with
the errors next to the fields, everything chosen kept, and nothing changed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.choices import AssetStatus
from registra.core.errors import RegistraError
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Member, Organization, ResponsibilityAssignment
from registra.organizations.policy import Permission
from registra.web.errors import show_on_form
from registra.web.forms import FILTER_FIELDS, ReasonField, RegisterQuery
from registra.web.pages import organization_page
from registra.web.readiness_forms import SERVICE_FIELDS as SCHEDULE_FIELDS
from registra.web.readiness_forms import ScheduleForm
from registra.web.views.custody import holder_choices

SCOPES = (("selected", "The selected assets"), ("filter", "Every asset matching the filter"))
STATUSES = [(s, label) for s, label in AssetStatus.choices if s != AssetStatus.DECOMMISSIONED]
FILTER_PREFIX = "filter"
# Ids on the register page, clear of the filter form's (both have a "kind").
AUTO_ID = "bulk-%s"
# How many of a refused hand-over's not-ready assets its page lists with their reasons.
NOT_READY_SHOWN = 20


class BulkScope(forms.Form):
    """Which assets: the selected rows (``asset``) or the whole filter; and why."""

    scope = forms.ChoiceField(label="Apply to", choices=SCOPES, widget=forms.RadioSelect)
    asset = forms.MultipleChoiceField(required=False, widget=forms.MultipleHiddenInput)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", AUTO_ID)
        super().__init__(*args, **kwargs)
        # Any id may be posted; the service refuses the ones not in this organization.
        self.fields["asset"].valid_value = lambda value: True  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "selected" and not data.get("asset"):
            self.add_error("scope", "select at least one asset, or apply to the whole filter")
        return data


class BulkStatusForm(BulkScope):
    """Change the status of many assets at once."""

    to_status = forms.ChoiceField(label="New status", choices=STATUSES)


class BulkCustodyForm(BulkScope):
    """Hand many assets to one member."""

    to_member = forms.ChoiceField(label="Hand to")
    override_reason = forms.CharField(
        label="Override: why hand over assets that are not ready",
        required=False,
        min_length=10,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when any of them is not ready; recorded on those only.",
    )

    def __init__(self, *args: Any, holders: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["to_member"])
        field.choices = [("", "Choose a member"), *holders]


class BulkScheduleForm(BulkScope, ScheduleForm):
    """Schedule one assessment of a kind for many assets."""

    field_order = ("scope", "kind", "other_kind", "performer", "reason")


def bulk_forms(
    org: Organization,
    members: Sequence[Member],
    responsibilities: Sequence[ResponsibilityAssignment],
) -> dict[str, forms.Form]:
    """The three actions' empty forms for the register page (from the members and
    responsibilities the page has read already)."""
    initial = {"scope": "selected"}
    return {
        "status": BulkStatusForm(initial=initial),
        "custody": BulkCustodyForm(initial=initial, holders=holder_choices(members)),
        "schedule": _schedule_form(org, None, responsibilities),
    }


def _schedule_form(
    org: Organization,
    data: Mapping[str, Any] | None,
    responsibilities: Sequence[ResponsibilityAssignment],
) -> BulkScheduleForm:
    """The schedule form, offering every kind the organization requires of any asset kind."""
    required = sorted({k for kinds in (org.readiness_requirements or {}).values() for k in kinds})
    form = BulkScheduleForm(data, required_kinds=required, responsibilities=responsibilities)
    if data is None:
        form.initial = {"scope": "selected"}
    return form


def _asset_ids(org: Organization, form: BulkScope, query: RegisterQuery) -> list[str]:
    """The batch: the selected ids, or the filter's assets (refused above ``MAX_BATCH``)."""
    if form.cleaned_data["scope"] == "selected":
        return list(form.cleaned_data["asset"])
    most = asset_services.MAX_BATCH
    ids = selectors.register_asset_ids(org, query.filter(), limit=most + 1)
    if len(ids) > most:
        form.add_error("scope", f"the filter matches more than {most} assets: narrow it")
    elif not ids:
        form.add_error("scope", "no asset matches the filter")
    return ids


def _run(
    request: HttpRequest,
    form: BulkScope,
    write: Callable[[list[str]], str],
    fields: Mapping[str, str],
    page: dict[str, Any],
) -> HttpResponse:
    """Validate the batch, run ``write`` on its asset ids (it returns the success message)
    and go back to the list as it was; or show the refused batch on its own page (400)."""
    org = request.organization  # type: ignore[attr-defined]
    query = RegisterQuery(request.POST, prefix=FILTER_PREFIX)
    back = reverse("web:register", kwargs={"slug": org.slug})
    state = request.POST.get("state", "")
    ids: list[str] = []
    if query.is_valid() and form.is_valid():
        ids = _asset_ids(org, form, query)
        if not form.errors:
            try:
                done = write(ids)
            except RegistraError as exc:
                show_on_form(form, exc, {**fields, "reason": "reason", "assetIds": "scope"})
            else:
                messages.success(request, done)
                return redirect(f"{back}?{state}" if state else back)
    if not query.is_valid():
        form.add_error(None, "the list's filter is not valid: go back to the register")
    context = {
        "form": form,
        "filter_fields": [
            (f"{FILTER_PREFIX}-{n}", request.POST[f"{FILTER_PREFIX}-{n}"])
            for n in FILTER_FIELDS
            if request.POST.get(f"{FILTER_PREFIX}-{n}")
        ],
        "back": f"{back}?{state}" if state else back,
        "state": state,
        **page,
    }
    if page.get("action") == "custody" and ids:
        context["not_ready"] = _not_ready(org, ids)
    return render(request, "web/bulk.html", context, status=400)


def _not_ready(org: Organization, ids: list[str]) -> dict[str, Any]:
    """The batch's assets that are not ready now, with the reasons (the first few)."""
    found = {a.id: a for a in selectors.assets_for_readiness(org, ids)}
    assets = [found[i] for i in dict.fromkeys(ids) if i in found]  # in the batch's order
    readiness = selectors.assets_readiness(org, assets, at=timezone.now())
    late = [(a, readiness[a.id].reasons) for a in assets if not readiness[a.id].is_ready]
    return {"count": len(late), "shown": late[:NOT_READY_SHOWN]}


def _bulk_action(
    action: Callable[[HttpRequest, Organization], HttpResponse],
) -> Callable[..., HttpResponseBase]:
    """A bulk action's view: writers only, POST only (anything else goes back to the list);
    ``action`` gets the request and its organization."""

    @organization_page(Permission.WRITE_REGISTER)
    @functools.wraps(action)
    def page(request: HttpRequest) -> HttpResponse:
        org = request.organization  # type: ignore[attr-defined]
        if request.method != "POST":
            return redirect("web:register", slug=org.slug)
        return action(request, org)

    return page


@_bulk_action
def change_status(request: HttpRequest, org: Organization) -> HttpResponse:
    form = BulkStatusForm(request.POST)

    def write(ids: list[str]) -> str:
        status = form.cleaned_data["to_status"]
        moved = asset_services.asset_bulk_change_status(
            organization=org,
            actor=request.actor,  # type: ignore[attr-defined]
            reason=form.cleaned_data["reason"],
            asset_ids=ids,
            status=status,
        )
        return f"{len(moved)} assets changed to {status}."

    page = {"action": "status", "title": "Change the status of several assets"}
    return _run(request, form, write, {"status": "to_status"}, page)


@_bulk_action
def hand_over(request: HttpRequest, org: Organization) -> HttpResponse:
    holders = holder_choices(org_selectors.active_members(org))
    form = BulkCustodyForm(request.POST, holders=holders)

    def write(ids: list[str]) -> str:
        to = form.cleaned_data["to_member"]
        started = asset_services.custody_bulk_hand_over(
            organization=org,
            actor=request.actor,  # type: ignore[attr-defined]
            reason=form.cleaned_data["reason"],
            asset_ids=ids,
            to_member_id=to,
            override_reason=form.cleaned_data["override_reason"] or None,
        )
        name = dict(holders)[to]
        done = f"{len(started)} assets handed to {name}."
        if kept := len(set(ids)) - len(started):
            done += f" {kept} were already held by them."
        return done

    fields = {"memberId": "to_member", "overrideReason": "override_reason"}
    page = {"action": "custody", "title": "Hand several assets to one member"}
    return _run(request, form, write, fields, page)


@_bulk_action
def schedule(request: HttpRequest, org: Organization) -> HttpResponse:
    form = _schedule_form(org, request.POST, org_selectors.responsibility_list(org))

    def write(ids: list[str]) -> str:
        d = form.cleaned_data
        planned = asset_services.readiness_bulk_schedule(
            organization=org,
            actor=request.actor,  # type: ignore[attr-defined]
            reason=d["reason"],
            asset_ids=ids,
            assessment_kind=d["assessment_kind"],
            performed_by_responsibility_id=d["performer"] or None,
        )
        return f"{len(planned)} assessments ({d['assessment_kind']}) scheduled."

    page = {"action": "schedule", "title": "Schedule an assessment of several assets"}
    return _run(request, form, write, SCHEDULE_FIELDS, page)
