"""The service-account pages (admins only): the list, create, edit, and rotate / disable /
enable / delete, each asking for a reason and calling one service.

A new secret (create, rotate) is shown once, in the response to the POST that made it: it is
never put in the session, a message, a URL or a log, and the page is sent with
``Cache-Control: no-store`` so neither the browser nor a proxy keeps a copy. Reloading that page
makes the browser send the POST again: the form's submission id (remembered in the session once
it went through) turns that into a message instead of a second account or rotation."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from registra.core.errors import RegistraError
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.models import ServiceAccount
from registra.organizations.policy import Permission, actor_for_service_account
from registra.organizations.services import IssuedSecret
from registra.web.errors import or_404, show_on_form
from registra.web.pages import form_page, organization_page, service_args
from registra.web.service_account_forms import (
    SERVICE_FIELDS,
    AccountActionForm,
    ServiceAccountForm,
)

# SPEC section 4: the client-credentials grant (API v1 has its own URLconf, so it is not
# reversed from the web's).
TOKEN_PATH = "/api/v1/auth/token"
admin_page = organization_page(Permission.MANAGE_ORGANIZATION)
form_methods = require_http_methods(["GET", "POST"])
SENT = "registra.service_accounts.sent"  # session key: the submission ids that went through
SENT_KEPT = 20
SENT_AGAIN = (
    "That form was already sent, and what it did is done. A secret is shown only once: if it"
    " was not stored, rotate the secret to get a new one."
)


@dataclass(frozen=True)
class Action:
    """One of the confirm-with-a-reason pages of an account."""

    title: str
    button: str
    explain: str
    service: Callable[..., Any]
    done: str = ""  # the message after it; none: the new secret's page instead
    danger: bool = False


ACTIONS = {
    "rotate": Action(
        title="Rotate the secret of",
        button="Rotate secret",
        explain=(
            "A new client secret is made and shown once. The current secret and every access"
            " token issued with it stop working at once."
        ),
        service=org_services.service_account_rotate_secret,
    ),
    "disable": Action(
        title="Disable",
        button="Disable",
        explain=(
            "Its access tokens stop working at once and no new ones are issued until it is"
            " enabled again. The secret is kept."
        ),
        service=org_services.service_account_disable,
        done="Service account {name} disabled; its access tokens no longer work.",
    ),
    "enable": Action(
        title="Enable",
        button="Enable",
        explain="Its current secret can get access tokens again.",
        service=org_services.service_account_enable,
        done="Service account {name} enabled.",
    ),
    "delete": Action(
        title="Delete",
        button="Delete for good",
        explain=(
            "Its secret and access tokens stop working for good; this cannot be undone. The"
            " audit log keeps its history."
        ),
        service=org_services.service_account_delete,
        done="Service account {name} deleted.",
        danger=True,
    ),
}


def _list_url(request: HttpRequest) -> str:
    return reverse("web:service-accounts", kwargs={"slug": request.organization.slug})  # type: ignore[attr-defined]


def _sent_before(request: HttpRequest, form: Any) -> bool:
    submission = form.cleaned_data.get("submission") or ""
    return bool(submission) and submission in request.session.get(SENT, [])


def _remember_sent(request: HttpRequest, form: Any) -> None:
    if submission := form.cleaned_data.get("submission"):
        request.session[SENT] = [*request.session.get(SENT, [])[-(SENT_KEPT - 1) :], submission]


def _sent_again(request: HttpRequest) -> HttpResponse:
    messages.warning(request, SENT_AGAIN)
    return redirect(_list_url(request))


def curl_line(token_url: str, client_id: str, secret: str) -> str:
    """The shell command that exchanges these credentials for an access token."""
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    data = json.dumps(body, separators=(",", ":"))
    return (
        f"curl -sS -X POST {shlex.quote(token_url)}"
        f" -H 'Content-Type: application/json' -d {shlex.quote(data)}"
    )


def _secret_page(request: HttpRequest, issued: IssuedSecret, *, created: bool) -> HttpResponse:
    """The one response that carries the new secret."""
    token_url = request.build_absolute_uri(TOKEN_PATH)
    context = {
        "account": issued.account,
        "secret": issued.secret,
        "created": created,
        "token_url": token_url,
        "curl": curl_line(token_url, issued.account.id, issued.secret),
        "nav": "service-accounts",
    }
    return render(request, "web/service_accounts/secret.html", context)


@never_cache
@require_GET
@admin_page
def service_accounts(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    accounts = org_selectors.service_account_list(org)
    # The policy's reading of an account's status (``expired`` once its expiry has passed).
    rows = [(a, actor_for_service_account(a).status) for a in accounts]
    context = {"rows": rows, "nav": "service-accounts"}
    return render(request, "web/service_accounts/list.html", context)


@never_cache
@form_methods
@admin_page
def create(request: HttpRequest) -> HttpResponseBase:
    form = ServiceAccountForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if _sent_before(request, form):
            return _sent_again(request)
        try:
            issued = org_services.service_account_create(
                **service_args(request, form.cleaned_data["reason"]), **form.spec()
            )
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            _remember_sent(request, form)
            return _secret_page(request, issued, created=True)
    context = {"form": form, "cancel": _list_url(request), "nav": "service-accounts"}
    return form_page(request, "web/service_accounts/form.html", context)


@never_cache
@form_methods
@admin_page
def edit(request: HttpRequest, account_id: str) -> HttpResponseBase:
    org = request.organization  # type: ignore[attr-defined]
    account: ServiceAccount = or_404(org_selectors.service_account_get, org, account_id)
    data = request.POST if request.method == "POST" else None
    form = ServiceAccountForm(data, account=account)
    if request.method == "POST" and form.is_valid():
        if not form.changed():
            messages.info(request, f"Nothing was changed on {account.name}.")
            return redirect(_list_url(request))
        try:
            account = org_services.service_account_update(
                **service_args(request, form.cleaned_data["reason"]),
                account_id=account.id,
                **form.spec(),
            )
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            messages.success(request, f"Service account {account.name} updated.")
            return redirect(_list_url(request))
    context = {
        "form": form,
        "account": account,
        "cancel": _list_url(request),
        "nav": "service-accounts",
    }
    return form_page(request, "web/service_accounts/form.html", context)


def _account_page(request: HttpRequest, account_id: str, name: str) -> HttpResponseBase:
    org = request.organization  # type: ignore[attr-defined]
    account: ServiceAccount = or_404(org_selectors.service_account_get, org, account_id)
    action = ACTIONS[name]
    form = AccountActionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if _sent_before(request, form):
            return _sent_again(request)
        try:
            result = action.service(
                **service_args(request, form.cleaned_data["reason"]), account_id=account.id
            )
        except RegistraError as exc:
            show_on_form(form, exc, SERVICE_FIELDS)
        else:
            _remember_sent(request, form)
            if not action.done:
                return _secret_page(request, result, created=False)
            messages.success(request, action.done.format(name=account.name))
            return redirect(_list_url(request))
    context = {
        "account": account,
        "action": action,
        "form": form,
        "cancel": _list_url(request),
        "nav": "service-accounts",
    }
    return form_page(request, "web/service_accounts/confirm.html", context)


@never_cache
@form_methods
@admin_page
def rotate(request: HttpRequest, account_id: str) -> HttpResponseBase:
    return _account_page(request, account_id, "rotate")


@never_cache
@form_methods
@admin_page
def disable(request: HttpRequest, account_id: str) -> HttpResponseBase:
    return _account_page(request, account_id, "disable")


@never_cache
@form_methods
@admin_page
def enable(request: HttpRequest, account_id: str) -> HttpResponseBase:
    return _account_page(request, account_id, "enable")


@never_cache
@form_methods
@admin_page
def delete(request: HttpRequest, account_id: str) -> HttpResponseBase:
    return _account_page(request, account_id, "delete")
