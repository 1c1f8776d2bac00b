"""Multi-factor sign-in pages (decision 0014): a member's sign-in security (set up or remove an
authenticator app), setting one up (the QR code, the key, a code to confirm, then the recovery
codes shown once), and the code asked for after the password."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache

from registra.core.errors import RegistraError
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.policy import Permission
from registra.web import second_factor
from registra.web.errors import show_on_form
from registra.web.forms import ReasonField
from registra.web.pages import form_page, organization_page
from registra.web.sign_in_limits import client_address, count_refusal, throttle

CODE_FIELDS = {"code": "code"}


class CodeForm(forms.Form):
    """A code from the authenticator app (setting it up), or one of the recovery codes too
    (signing in: ``recovery=True``)."""

    code = forms.CharField(label="Code", max_length=16)

    def __init__(self, *args: Any, recovery: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["code"]
        field.help_text = "The 6 digits your authenticator app shows now" + (
            ", or one of your recovery codes." if recovery else "."
        )
        field.widget.attrs.update(autocomplete="one-time-code", autofocus=True)
        if not recovery:
            field.widget.attrs["inputmode"] = "numeric"


class RemoveForm(forms.Form):
    reason = ReasonField()


def _next(request: HttpRequest) -> str:
    """Where to go afterwards: the ``next`` asked for when it is a page of this site, else the
    register."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("web:register", kwargs={"slug": request.organization.slug})  # type: ignore[attr-defined]


@organization_page(Permission.MANAGE_OWN_ACCOUNT)
def security(request: HttpRequest) -> HttpResponse:
    """The member's sign-in security: whether an authenticator is set up, the recovery codes
    left, and removing it."""
    member = request.member  # type: ignore[attr-defined]
    device = org_selectors.authenticator(member)
    form = RemoveForm(request.POST or None)
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            org_services.mfa_remove(
                organization=request.organization,  # type: ignore[attr-defined]
                actor=request.actor,  # type: ignore[attr-defined]
                reason=form.cleaned_data["reason"],
                member_id=member.id,
            )
        except RegistraError as exc:
            show_on_form(form, exc, {"reason": "reason"})
        else:
            second_factor.removed(request, member)
            messages.success(request, "The authenticator app and its recovery codes are removed.")
            return redirect("web:mfa-security", slug=request.organization.slug)  # type: ignore[attr-defined]
    context = {
        "nav": "security",
        "device": device,
        "codes_left": org_selectors.recovery_codes_left(member) if device else 0,
        "form": form,
    }
    return form_page(request, "web/mfa/security.html", context)


@never_cache
@organization_page(Permission.MANAGE_OWN_ACCOUNT, second_factor_page=True)
def enrol(request: HttpRequest) -> HttpResponseBase:
    """Set up an authenticator app: start (a new key), scan its QR code or type its key, confirm
    with a code; then the recovery codes, shown this once."""
    member, org = request.member, request.organization  # type: ignore[attr-defined]
    if second_factor.needed(request, member, org) == second_factor.VERIFY:
        return redirect("web:mfa-verify", slug=org.slug)
    if org_selectors.authenticator(member) is not None:
        messages.info(request, "An authenticator app is already set up.")
        return redirect("web:mfa-security", slug=org.slug)
    kwargs = {"organization": org, "actor": request.actor, "member_id": member.id}  # type: ignore[attr-defined]
    form = CodeForm(request.POST if "code" in request.POST else None)
    if request.method == "POST" and "start" in request.POST:
        org_services.mfa_begin_enrolment(**kwargs)
        return redirect(f"{reverse('web:mfa-enrol', kwargs={'slug': org.slug})}?{_query(request)}")
    device = org_selectors.authenticator(member, confirmed=False)
    if request.method == "POST" and device is not None and form.is_valid():
        try:
            codes = org_services.mfa_confirm_enrolment(**kwargs, code=form.cleaned_data["code"])
        except RegistraError as exc:
            show_on_form(form, exc, CODE_FIELDS)
        else:
            second_factor.verified(request, member)
            done: dict[str, Any] = {"nav": "security", "codes": codes, "next": _next(request)}
            return render(request, "web/mfa/recovery_codes.html", done)
    context: dict[str, Any] = {
        "nav": "security",
        "device": device,
        "form": form,
        "next": _next(request),
        "required": org.require_mfa,
    }
    if device is not None:
        context["key"] = _grouped(base64.b32encode(device.bin_key).decode())
        qr = segno.make(device.config_url, error="m")
        context["qr"] = mark_safe(qr.svg_inline(scale=5, title="QR code of the authenticator key"))
    return form_page(request, "web/mfa/enrol.html", context)


def _query(request: HttpRequest) -> str:
    return urlencode({"next": _next(request)})


def _grouped(key: str) -> str:
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@never_cache
@organization_page(Permission.MANAGE_OWN_ACCOUNT, second_factor_page=True)
def verify(request: HttpRequest) -> HttpResponseBase:
    """The second step of signing in: a code from the authenticator app or a recovery code."""
    member, org = request.member, request.organization  # type: ignore[attr-defined]
    if second_factor.needed(request, member, org) != second_factor.VERIFY:
        return redirect(_next(request))
    form = CodeForm(request.POST or None, recovery=True)
    status = None
    if request.method == "POST":
        limit = throttle(request, member.email)
        if limit.refused:
            form.is_valid()
            form.add_error(None, limit.message)
            status = 429
        elif form.is_valid():
            outcome = org_services.mfa_verify(
                member_id=member.id,
                code=form.cleaned_data["code"],
                client_address=client_address(request),
            )
            if outcome.method is not None:
                second_factor.verified(request, member)
                if outcome.method == "recovery code":
                    messages.warning(
                        request,
                        "You signed in with a recovery code; it cannot be used again. "
                        f"{org_selectors.recovery_codes_left(member)} are left.",
                    )
                return redirect(_next(request))
            count_refusal(request, member.email)
            if outcome.locked_until is not None:
                form.add_error(None, "Too many wrong codes: wait a little, then try again.")
                status = 429
            else:
                form.add_error("code", "This code is not correct.")
    context = {"nav": "security", "form": form, "next": _next(request)}
    response = form_page(request, "web/mfa/verify.html", context)
    if status:
        response.status_code = status
    return response
