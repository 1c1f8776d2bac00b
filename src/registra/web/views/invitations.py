"""The public page of an invitation link (no sign-in needed): the invitee chooses a name and a
password (twice) and is signed in, or sent to sign in when the organization requires a second
factor. A link that cannot be used says why: used, expired, cancelled, replaced or unknown."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from registra.core.errors import RegistraError
from registra.organizations import services as org_services
from registra.organizations.models import Member
from registra.web.auth import start_session
from registra.web.errors import show_on_form

FIELDS = {"fullName": "full_name", "password": "password"}
# The refusals that are about a real link (gone), not an unknown one (not found).
_GONE = {"used", "expired", "cancelled", "replaced"}


class AcceptForm(forms.Form):
    full_name = forms.CharField(label="Your name", max_length=200)
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password, not all digits, "
        "not close to your name or email.",
    )
    password_again = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, again = data.get("password"), data.get("password_again")
        if first and again and first != again:
            self.add_error("password_again", "The two passwords differ: type the same twice.")
        return data


def _refused(request: HttpRequest, exc: org_services.InvitationRefused) -> HttpResponse:
    status = 410 if exc.outcome in _GONE else 404
    context = {"outcome": exc.outcome, "message": exc.message}
    return render(request, "web/invitations/refused.html", context, status=status)


def _signed_in(request: HttpRequest, member: Member) -> HttpResponse:
    organization = member.organization
    login(request, member, backend="registra.web.auth.MemberBackend")
    # Where the organization requires a second factor, its first page asks to set one up.
    start_session(request, [member.id])
    messages.success(request, f"Welcome to {organization.name}, {member.full_name}.")
    return redirect("web:register", slug=organization.slug)


@never_cache
@sensitive_post_parameters("password", "password_again")
def accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        member = org_services.invitation_for_token(token)
    except org_services.InvitationRefused as exc:
        return _refused(request, exc)
    form = AcceptForm(request.POST or None, initial={"full_name": member.full_name})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            joined = org_services.member_accept_invitation(
                token=token, password=d["password"], full_name=d["full_name"]
            )
        except org_services.InvitationRefused as exc:
            return _refused(request, exc)
        except RegistraError as exc:
            show_on_form(form, exc, FIELDS)
        else:
            return _signed_in(request, joined)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "member": member, "organization": member.organization}
    return render(request, "web/invitations/accept.html", context, status=status)
