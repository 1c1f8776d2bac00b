"""The invitation email, through Django's email framework (``EMAIL_BACKEND``: SMTP, files or the
console by settings; docs/operations.md, "Email"). The link is absolute: it starts with
``REGISTRA_BASE_URL``, or else the address of the request that sends the invitation."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from registra.organizations.models import Member, Organization


def invitation_link(token: str, *, request: HttpRequest | None = None) -> str:
    """The accept page's address for ``token``: absolute when the base URL is known (the
    setting, or ``request``'s host), else the path alone."""
    path = reverse("web:invitation-accept", kwargs={"token": token})
    base = settings.REGISTRA_BASE_URL
    if base:
        return f"{base}{path}"
    return request.build_absolute_uri(path) if request is not None else path


def send_invitation(
    *, organization: Organization, member: Member, link: str, invited_by: str
) -> None:
    """Email ``member`` the invitation ``link``; raises what the backend raises (an SMTP error,
    an unreachable server)."""
    context = {
        "organization": organization,
        "member": member,
        "link": link,
        "invited_by": invited_by,
        "zone": organization.timezone,
    }
    body = render_to_string("organizations/invitation_email.txt", context)
    subject = f"You are invited to {organization.name} on Registra"
    send_mail(subject, body, None, [member.email])
