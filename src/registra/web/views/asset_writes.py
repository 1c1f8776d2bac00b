"""The asset write pages: create, edit, change status, decommission. Each is a form (GET) and a
POST that calls one service as the signed-in member with the reason typed, then goes on with a
message saying what was done. A refusal re-renders the form with everything typed, the
service's messages next to their fields, and the refusal's status (400, 409 or 422)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.models import Asset
from registra.core.errors import Conflict, RegistraError, Unprocessable, ValidationFailed
from registra.organizations import selectors as org_selectors
from registra.organizations.policy import Permission
from registra.web.asset_forms import (
    SERVICE_FIELDS,
    AssetForm,
    DecommissionForm,
    StatusForm,
    custody_ids,
)
from registra.web.errors import or_404, show_on_form
from registra.web.pages import asset_url, organization_page, service_args, to_asset

# What a write page shows next to the fields instead of failing.
REFUSALS = (ValidationFailed, Conflict, Unprocessable)
STALE_CUSTODY = "The custody this ends has changed since the page was shown: check it again."
write_page = organization_page(Permission.WRITE_REGISTER)
form_methods = require_http_methods(["GET", "POST"])


def _asset(request: HttpRequest, asset_id: str) -> Asset:
    return or_404(selectors.asset_get, request.organization, asset_id)  # type: ignore[attr-defined]


def _register(request: HttpRequest) -> str:
    return reverse("web:register", kwargs={"slug": request.organization.slug})  # type: ignore[attr-defined]


def _data(request: HttpRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _done(request: HttpRequest, asset: Asset, message: str) -> HttpResponseBase:
    messages.success(request, message)
    return to_asset(request, asset)


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    if request.method == "POST" and status == 200:
        status = 400  # a POST that did not go through: the form, with what was typed
    return render(request, f"web/{template}", context, status=status)


def _asset_form(request: HttpRequest, asset: Asset | None) -> AssetForm:
    org = request.organization  # type: ignore[attr-defined]
    return AssetForm(
        _data(request),
        asset=asset,
        responsibilities=org_selectors.responsibility_list(org),
        levels=org_selectors.classification_levels(org),
    )


def _asset_context(request: HttpRequest, form: AssetForm, asset: Asset | None) -> dict[str, Any]:
    cancel = asset_url(request, asset) if asset else _register(request)
    return {"form": form, "specs": form.specifications, "asset": asset, "cancel": cancel}


def _refuse(form: Any, exc: RegistraError) -> int:
    """Put the service's refusal on the form; the status the page answers with."""
    if isinstance(exc, Conflict) and "asset_key" in form.fields:
        form.add_error("asset_key", exc.message)  # the one conflict creating an asset has
    else:
        show_on_form(form, exc, SERVICE_FIELDS)
    return exc.status


@form_methods
@write_page
def asset_create(request: HttpRequest) -> HttpResponseBase:
    form, status = _asset_form(request, None), 200
    if request.method == "POST" and form.is_valid():
        try:
            asset = asset_services.asset_create(
                **service_args(request, form.cleaned_data["reason"]),
                **form.create_spec(),
            )
            return _done(request, asset, f"Asset {asset.asset_key} registered.")
        except REFUSALS as exc:
            status = _refuse(form, exc)
    return _page(request, "asset_form.html", _asset_context(request, form, None), status)


@form_methods
@write_page
def asset_edit(request: HttpRequest, asset_id: str) -> HttpResponseBase:
    asset = _asset(request, asset_id)
    form, status = _asset_form(request, asset), 200
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            messages.info(request, f"Nothing was changed on {asset.asset_key}.")
            return to_asset(request, asset)
        try:
            asset = asset_services.asset_update(
                **service_args(request, form.cleaned_data["reason"]),
                asset_id=asset.id,
                **changes,
            )
            return _done(request, asset, f"Asset {asset.asset_key} updated.")
        except REFUSALS as exc:
            status = _refuse(form, exc)
    return _page(request, "asset_form.html", _asset_context(request, form, asset), status)


@form_methods
@write_page
def asset_status(request: HttpRequest, asset_id: str) -> HttpResponseBase:
    asset = _asset(request, asset_id)
    form, status = StatusForm(_data(request), asset=asset), 200
    if request.method == "POST" and form.is_valid():
        try:
            asset = asset_services.asset_change_status(
                **service_args(request, form.cleaned_data["reason"]),
                asset_id=asset.id,
                status=form.cleaned_data["status"],
            )
            return _done(request, asset, f"Asset {asset.asset_key} is now {asset.status}.")
        except REFUSALS as exc:
            status = _refuse(form, exc)
    context = {"form": form, "asset": asset, "cancel": asset_url(request, asset)}
    return _page(request, "asset_status.html", context, status)


@form_methods
@write_page
def asset_decommission(request: HttpRequest, asset_id: str) -> HttpResponseBase:
    """Shows the custody assignments decommissioning ends; the POST confirms exactly those
    (a change in between asks again)."""
    org = request.organization  # type: ignore[attr-defined]
    asset = _asset(request, asset_id)
    custody = selectors.active_custody(org, asset.id)
    form, status = DecommissionForm(_data(request)), 200
    if request.method == "POST" and form.is_valid():
        try:
            if not form.custody_unchanged(custody):
                raise Conflict(STALE_CUSTODY)
            asset = asset_services.asset_decommission(
                **service_args(request, form.cleaned_data["reason"]),
                asset_id=asset.id,
                disposal_authorization=form.cleaned_data["disposal_authorization"],
                decommissioned_at=form.cleaned_data["decommissioned_at"],
            )
            done = f"Asset {asset.asset_key} decommissioned; {_ended(custody)}."
            return _done(request, asset, done)
        except REFUSALS as exc:
            status = _refuse(form, exc)
    context = {
        "form": form,
        "asset": asset,
        "custody": custody,
        "custody_ids": custody_ids(custody),
        "cancel": asset_url(request, asset),
    }
    return _page(request, "asset_decommission.html", context, status)


def _ended(custody: list[Any]) -> str:
    n = len(custody)
    return f"{n} custody assignment{'' if n == 1 else 's'} ended"
