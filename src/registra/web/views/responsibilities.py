"""Responsibilities ("custodian of toolbox A"): the list, one responsibility with the assets
that name it as custodian, and the writes: create, reassign to another member, end the
holder's assignment. Each write is a form with a reason calling one service; a refusal comes
back as the form (400, 409 or 422) with everything typed and the message at its field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from registra.assets import selectors as asset_selectors
from registra.core.errors import Conflict, Unprocessable, ValidationFailed
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.models import ResponsibilityAssignment
from registra.organizations.policy import Permission
from registra.web.errors import or_404, show_on_form
from registra.web.forms import ReasonField
from registra.web.pages import form_page, org_url, organization_page, service_args
from registra.web.views.custody import holder_choices

REFUSALS = (ValidationFailed, Conflict, Unprocessable)
# Service field names -> form fields.
FIELDS = {
    "responsibilityKey": "responsibility_key",
    "title": "title",
    "description": "description",
    "holderId": "holder",
    "reason": "reason",
}
# The assets a responsibility page lists; the rest are one link away, in the register.
ASSETS_SHOWN = 50
write_page = organization_page(Permission.WRITE_REGISTER)
form_methods = require_http_methods(["GET", "POST"])


class ResponsibilityForm(forms.Form):
    """A new responsibility: its key, title, description and (optionally) its holder."""

    responsibility_key = forms.CharField(
        label="Key",
        max_length=128,
        help_text="Unique in the organization, e.g. toolbox-a (letters, digits, . _ : -).",
    )
    title = forms.CharField(label="Title", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    holder = forms.ChoiceField(label="Held by", required=False)
    reason = ReasonField()

    def __init__(self, *args: Any, holders: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["holder"].choices = [("", "Nobody yet"), *holders]  # type: ignore[attr-defined]


class ReassignForm(forms.Form):
    """Who takes the responsibility over, and why."""

    holder = forms.ChoiceField(label="New holder")
    reason = ReasonField()

    def __init__(self, *args: Any, holders: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["holder"].choices = [("", "Choose a member"), *holders]  # type: ignore[attr-defined]


class EndForm(forms.Form):
    reason = ReasonField()


def _org(request: HttpRequest) -> Any:
    return request.organization  # type: ignore[attr-defined]


def _responsibility(request: HttpRequest, ra_id: str) -> ResponsibilityAssignment:
    return or_404(org_selectors.responsibility_get, _org(request), ra_id)


@require_GET
@write_page
def responsibility_list(request: HttpRequest) -> HttpResponse:
    org = _org(request)
    context = {
        "nav": "responsibilities",
        "responsibilities": org_selectors.responsibilities_with_holders(org),
    }
    return render(request, "web/responsibilities/list.html", context)


@require_GET
@write_page
def responsibility_detail(request: HttpRequest, ra_id: str) -> HttpResponse:
    org = _org(request)
    ra = _responsibility(request, ra_id)
    assets, more = asset_selectors.register_page(
        org,
        asset_selectors.RegisterFilter(custodian=ra.id),
        asset_selectors.RegisterSort(),
        after=None,
        limit=ASSETS_SHOWN,
    )
    context = {
        "nav": "responsibilities",
        "ra": ra,
        "assets": assets,
        "more": more is not None,
        "register": f"{org_url(request, 'register')}?custodian={ra.id}",
    }
    return render(request, "web/responsibilities/detail.html", context)


@form_methods
@write_page
def responsibility_create(request: HttpRequest) -> HttpResponseBase:
    holders = holder_choices(org_selectors.active_members(_org(request)))
    form = ResponsibilityForm(request.POST or None, holders=holders)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ra = org_services.responsibility_create(
                **service_args(request, form.cleaned_data["reason"]),
                responsibility_key=d["responsibility_key"],
                title=d["title"],
                description=d["description"],
                holder_id=d["holder"] or None,
            )
        except REFUSALS as exc:
            show_on_form(form, exc, FIELDS)
            status = exc.status
        else:
            messages.success(request, f"Responsibility {ra.responsibility_key} created.")
            return redirect(org_url(request, "responsibility", ra_id=ra.id))
    return form_page(
        request,
        "web/responsibilities/create.html",
        {"nav": "responsibilities", "form": form},
        status=status,
    )


@form_methods
@write_page
def responsibility_reassign(request: HttpRequest, ra_id: str) -> HttpResponseBase:
    ra = _responsibility(request, ra_id)
    holders = holder_choices(org_selectors.active_members(_org(request)), exclude=ra.holder_id)
    form = ReassignForm(request.POST or None, holders=holders)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        try:
            org_services.responsibility_reassign(
                **service_args(request, form.cleaned_data["reason"]),
                responsibility_id=ra.id,
                holder_id=form.cleaned_data["holder"],
            )
        except REFUSALS as exc:
            show_on_form(form, exc, FIELDS)
            status = exc.status
        else:
            name = dict(holders)[form.cleaned_data["holder"]]
            messages.success(request, f"{ra.responsibility_key} is now held by {name}.")
            return redirect(org_url(request, "responsibility", ra_id=ra.id))
    return form_page(
        request,
        "web/responsibilities/reassign.html",
        {"nav": "responsibilities", "form": form, "ra": ra},
        status=status,
    )


@form_methods
@write_page
def responsibility_end(request: HttpRequest, ra_id: str) -> HttpResponseBase:
    ra = _responsibility(request, ra_id)
    form = EndForm(request.POST or None)
    status: int | None = None
    if request.method == "POST" and form.is_valid():
        try:
            org_services.responsibility_end(
                **service_args(request, form.cleaned_data["reason"]), responsibility_id=ra.id
            )
        except REFUSALS as exc:
            show_on_form(form, exc, FIELDS)
            status = exc.status
        else:
            messages.success(request, f"{ra.responsibility_key} is no longer held by anyone.")
            return redirect(org_url(request, "responsibility", ra_id=ra.id))
    return form_page(
        request,
        "web/responsibilities/end.html",
        {"nav": "responsibilities", "form": form, "ra": ra},
        status=status,
    )
