"""Members and invitations of an organization (admins only): the list, invite, re-send and
cancel an invitation, change a role, revoke, edit a member's name and external employee id.
Each write is one service call with a reason; the services' refusals (the last admin, a
duplicate email) come back on the form, with everything typed kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from registra.core.errors import RegistraError
from registra.organizations import mail
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.choices import MemberRole, MembershipStatus
from registra.organizations.models import Member
from registra.organizations.policy import Permission
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.pages import form_page, organization_page, service_args

logger = logging.getLogger("registra.web.members")

# Service field names -> form fields.
FIELDS = {
    "email": "email",
    "role": "role",
    "fullName": "full_name",
    "externalEmployeeId": "external_employee_id",
    "reason": "reason",
}
_ROLES = MemberRole.choices


class InviteForm(ReasonForm):
    """Whom to invite, with which role, and why."""

    email = forms.CharField(label="Email", max_length=254)
    role = forms.ChoiceField(label="Role", choices=_ROLES, initial=MemberRole.VIEWER)
    full_name = forms.CharField(label="Name", required=False, max_length=200)
    external_employee_id = forms.CharField(
        label="External employee id",
        required=False,
        max_length=128,
        help_text="The CMMS's id for this person: imports and the drift check match holders by it.",
    )
    field_order = ("email", "role", "full_name", "external_employee_id", "reason")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="off", type="email")


class RoleForm(ReasonForm):
    role = forms.ChoiceField(label="New role", choices=_ROLES)
    field_order = ("role", "reason")


class DetailsForm(ReasonForm):
    full_name = forms.CharField(label="Name", required=False, max_length=200)
    external_employee_id = forms.CharField(
        label="External employee id", required=False, max_length=128
    )
    field_order = ("full_name", "external_employee_id", "reason")


def _to_list(request: HttpRequest) -> HttpResponse:
    return redirect("web:members", slug=request.organization.slug)  # type: ignore[attr-defined]


def _email(request: HttpRequest, invitation: org_services.Invitation) -> None:
    """Send the invitation's email; say on the next page whether it went."""
    member = invitation.member
    try:
        mail.send_invitation(
            organization=request.organization,  # type: ignore[attr-defined]
            member=member,
            link=mail.invitation_link(invitation.token, request=request),
            invited_by=request.actor.label,  # type: ignore[attr-defined]
        )
    except OSError:  # smtplib's errors are OSErrors, as are refused connections
        logger.exception("invitation email to %s failed", member.id)
        messages.error(
            request,
            f"The invitation for {member.email} is saved, but its email could not be sent. "
            "Re-send it once email works (an operator can check the email settings).",
        )
    else:
        messages.success(request, f"Invitation sent to {member.email}.")


@organization_page(Permission.MANAGE_ORGANIZATION)
def members(request: HttpRequest) -> HttpResponse:
    """Everyone with a membership, and the invitations still pending."""
    everyone = org_selectors.member_list(request.organization)  # type: ignore[attr-defined]
    pending = [m for m in everyone if m.status == MembershipStatus.PENDING]
    joined = [m for m in everyone if m.status != MembershipStatus.PENDING]
    with_app = set(org_selectors.with_authenticator([m.id for m in joined]))
    for m in joined:
        m.has_authenticator = m.id in with_app  # type: ignore[attr-defined]
    context = {"members": joined, "pending": pending, "now": timezone.now(), "nav": "members"}
    return render(request, "web/members/list.html", context)


@organization_page(Permission.MANAGE_ORGANIZATION)
def invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            invitation = org_services.member_invite(
                organization=request.organization,  # type: ignore[attr-defined]
                actor=request.actor,  # type: ignore[attr-defined]
                reason=d["reason"],
                email=d["email"],
                role=d["role"],
                full_name=d["full_name"],
                external_employee_id=d["external_employee_id"],
            )
        except RegistraError as exc:
            show_on_form(form, exc, FIELDS)
        else:
            _email(request, invitation)
            return _to_list(request)
    context = {"form": form, "title": "Invite a colleague", "button": "Send invitation"}
    context["intro"] = (
        "They get an email with a one-time link to choose their name and password. "
        "The link works for 7 days."
    )
    return form_page(request, "web/members/form.html", {**context, "nav": "members"})


def _member_form(
    request: HttpRequest,
    member_id: str,
    form_class: type[ReasonForm],
    write: Callable[[Member, dict[str, Any]], object],
    page: dict[str, str],
    initial: Callable[[Member], dict[str, Any]] | None = None,
) -> HttpResponse:
    """A write on one member: show the form, call ``write`` with its cleaned data, back to the
    list with ``page["done"]`` (``{name}`` is the member), or the form again with the refusal."""
    org = request.organization  # type: ignore[attr-defined]
    member = or_404(org_selectors.member_get, org, member_id)
    form = form_class(request.POST or None, initial=initial(member) if initial else None)
    if request.method == "POST" and form.is_valid():
        try:
            write(member, form.cleaned_data)
        except RegistraError as exc:
            show_on_form(form, exc, FIELDS)
        else:
            done = page["done"].format(name=member.full_name or member.email)
            if done:
                messages.success(request, done)
            return _to_list(request)
    context = {**page, "form": form, "member": member, "nav": "members"}
    return form_page(request, "web/members/form.html", context)


def _common(request: HttpRequest, data: dict[str, Any], member: Member) -> dict[str, Any]:
    return {**service_args(request, data["reason"]), "member_id": member.id}


@organization_page(Permission.MANAGE_ORGANIZATION)
def resend(request: HttpRequest, member_id: str) -> HttpResponse:
    def write(member: Member, data: dict[str, Any]) -> None:
        _email(request, org_services.member_invitation_resend(**_common(request, data, member)))

    page = {
        "title": "Re-send the invitation",
        "intro": "A new link goes out, valid for 7 days; the link sent before stops working.",
        "button": "Re-send invitation",
        "done": "",  # _email says whether it went
    }
    return _member_form(request, member_id, ReasonForm, write, page)


@organization_page(Permission.MANAGE_ORGANIZATION)
def cancel(request: HttpRequest, member_id: str) -> HttpResponse:
    def write(member: Member, data: dict[str, Any]) -> None:
        org_services.member_invitation_cancel(**_common(request, data, member))

    page = {
        "title": "Cancel the invitation",
        "intro": "The link stops working. You can invite the same address again later.",
        "button": "Cancel invitation",
        "done": "The invitation of {name} is cancelled.",
    }
    return _member_form(request, member_id, ReasonForm, write, page)


@organization_page(Permission.MANAGE_ORGANIZATION)
def change_role(request: HttpRequest, member_id: str) -> HttpResponse:
    def write(member: Member, data: dict[str, Any]) -> None:
        org_services.member_change_role(**_common(request, data, member), role=data["role"])

    page = {
        "title": "Change the role",
        "intro": "The new role applies from the member's next click.",
        "button": "Change role",
        "done": "{name}'s role is changed.",
    }
    return _member_form(
        request, member_id, RoleForm, write, page, initial=lambda m: {"role": m.role}
    )


@organization_page(Permission.MANAGE_ORGANIZATION)
def revoke(request: HttpRequest, member_id: str) -> HttpResponse:
    def write(member: Member, data: dict[str, Any]) -> None:
        org_services.member_revoke(**_common(request, data, member))

    page = {
        "title": "Revoke the membership",
        "intro": (
            "They can no longer sign in, and a session they have open is refused on its next "
            "request. Their name stays in the register's history."
        ),
        "button": "Revoke membership",
        "done": "{name}'s membership is revoked.",
    }
    return _member_form(request, member_id, ReasonForm, write, page)


@organization_page(Permission.MANAGE_ORGANIZATION)
def edit(request: HttpRequest, member_id: str) -> HttpResponse:
    def write(member: Member, data: dict[str, Any]) -> None:
        org_services.member_update(
            **_common(request, data, member),
            full_name=data["full_name"],
            external_employee_id=data["external_employee_id"],
        )

    def initial(member: Member) -> dict[str, Any]:
        return {"full_name": member.full_name, "external_employee_id": member.external_employee_id}

    page = {
        "title": "Edit member details",
        "intro": "The external employee id is how CMMS imports and the drift check find them.",
        "button": "Save details",
        "done": "{name}'s details are saved.",
    }
    return _member_form(request, member_id, DetailsForm, write, page, initial=initial)


@organization_page(Permission.MANAGE_ORGANIZATION)
def remove_authenticator(request: HttpRequest, member_id: str) -> HttpResponse:
    """For a member who lost their authenticator app (and their recovery codes): remove it, so
    they sign in with their password and, where the organization requires it, set up a new
    one (decision 0014)."""

    def write(member: Member, data: dict[str, Any]) -> None:
        org_services.mfa_remove(**_common(request, data, member))

    page = {
        "title": "Remove the authenticator app",
        "intro": (
            "Their authenticator app and recovery codes stop working. They sign in with their "
            "password, and set up a new app where the organization requires one."
        ),
        "button": "Remove authenticator app",
        "done": "{name}'s authenticator app is removed.",
    }
    return _member_form(request, member_id, ReasonForm, write, page)
