"""Bulk actions on the register list: the selected rows or every asset of the current filter,
one reason for the batch, one audit event per asset, all or nothing (the service's rule)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.choices import AssetStatus
from registra.assets.services.assets import MAX_BATCH
from registra.core.errors import RegistraError
from registra.organizations.policy import Permission
from registra.web.errors import show_on_form
from registra.web.forms import FILTER_FIELDS, ReasonField, RegisterQuery
from registra.web.pages import organization_page

SCOPES = (("selected", "The selected assets"), ("filter", "Every asset matching the filter"))
STATUSES = [(s, label) for s, label in AssetStatus.choices if s != AssetStatus.DECOMMISSIONED]


class BulkStatusForm(forms.Form):
    """Change the status of many assets at once."""

    scope = forms.ChoiceField(label="Apply to", choices=SCOPES, widget=forms.RadioSelect)
    asset = forms.MultipleChoiceField(required=False, widget=forms.MultipleHiddenInput)
    to_status = forms.ChoiceField(label="New status", choices=STATUSES)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id may be posted; the service refuses the ones not in this organization.
        self.fields["asset"].valid_value = lambda value: True  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "selected" and not data.get("asset"):
            self.add_error("scope", "select at least one asset, or apply to the whole filter")
        return data


def _asset_ids(request: HttpRequest, form: BulkStatusForm, query: RegisterQuery) -> list[str]:
    if form.cleaned_data["scope"] == "selected":
        return list(form.cleaned_data["asset"])
    org = request.organization  # type: ignore[attr-defined]
    ids = selectors.register_asset_ids(org, query.filter(), limit=MAX_BATCH + 1)
    if len(ids) > MAX_BATCH:
        form.add_error("scope", f"the filter matches more than {MAX_BATCH} assets: narrow it")
    return ids


@organization_page(Permission.WRITE_REGISTER)
def change_status(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    if request.method != "POST":
        return redirect("web:register", slug=org.slug)
    query = RegisterQuery(request.POST)
    form = BulkStatusForm(request.POST)
    back = reverse("web:register", kwargs={"slug": org.slug})
    if query.is_valid() and form.is_valid():
        ids = _asset_ids(request, form, query)
        if not form.errors:
            try:
                moved = asset_services.asset_bulk_change_status(
                    organization=org,
                    actor=request.actor,  # type: ignore[attr-defined]
                    reason=form.cleaned_data["reason"],
                    asset_ids=ids,
                    status=form.cleaned_data["to_status"],
                )
            except RegistraError as exc:
                show_on_form(form, exc, {"reason": "reason", "assetIds": "scope"})
            else:
                status = form.cleaned_data["to_status"]
                messages.success(request, f"{len(moved)} assets changed to {status}.")
                state = request.POST.get("state", "")
                return redirect(f"{back}?{state}" if state else back)
    context = {
        "form": form,
        "filter_fields": [(n, request.POST[n]) for n in FILTER_FIELDS if request.POST.get(n)],
        "back": back,
        "state": request.POST.get("state", ""),
    }
    return render(request, "web/bulk.html", context, status=400)
