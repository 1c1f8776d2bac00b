"""The session's second-factor state (decision 0014): which of the person's memberships have
an authenticator set up (read once, at sign-in) and which of those have given a code in this
session. ``organization_page`` reads it to send a member to the code page, or to set up an
authenticator where the organization requires one, before anything else."""

from __future__ import annotations

from django.http import HttpRequest

from registra.organizations import selectors as org_selectors
from registra.organizations.models import Member, Organization

DEVICES, VERIFIED = "registra.mfa.devices", "registra.mfa.verified"
VERIFY, ENROL = "verify", "enrol"


def signed_in(request: HttpRequest, memberships: list[str]) -> None:
    request.session[DEVICES] = org_selectors.with_authenticator(memberships)
    request.session[VERIFIED] = []


def needed(request: HttpRequest, member: Member, organization: Organization) -> str | None:
    """``VERIFY`` when this membership has an authenticator whose code this session has not
    given, ``ENROL`` when the organization requires a second factor and it has none, else
    None."""
    has_device = member.id in request.session.get(DEVICES, [])
    if has_device and member.id not in request.session.get(VERIFIED, []):
        return VERIFY
    if organization.require_mfa and not has_device:
        return ENROL
    return None


def verified(request: HttpRequest, member: Member) -> None:
    """The member gave a code (or set up the authenticator) in this session."""
    for key in (DEVICES, VERIFIED):
        ids = set(request.session.get(key, []))
        ids.add(member.id)
        request.session[key] = sorted(ids)


def removed(request: HttpRequest, member: Member) -> None:
    for key in (DEVICES, VERIFIED):
        request.session[key] = [i for i in request.session.get(key, []) if i != member.id]
