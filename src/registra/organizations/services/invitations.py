"""Invitations: invite by email and role, re-send (a new link; the old one stops working),
cancel, and join by the one-time link (name and password).

The link's token is ``<member id>.<random>`` signed with the secret key; only its SHA-256 is
stored. A link that no longer matches a pending invitation is still recognisably ours through
the signature, so accepting can say what happened to it (used, cancelled, replaced) instead of
"invalid"; a forged token names nobody."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core import signing
from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from registra.core.timefmt import api_format, now
from registra.organizations.choices import MemberRole, MembershipStatus
from registra.organizations.models import Member, Organization
from registra.organizations.policy import Permission, actor_for_member, require
from registra.organizations.services._common import (
    EMAIL_RE,
    INVITATION_TTL,
    _sha256,
    check_password,
)
from registra.organizations.services.members import (
    _get_member,
    _member_fields,
    checked_external_id,
    end_membership,
)

_SIGNER = signing.Signer(salt="registra.invitation")


@dataclass(frozen=True)
class Invitation:
    """A pending member and the one-time token for the invitation link (shown once)."""

    member: Member
    token: str


class InvitationRefused(NotFound):
    """An invitation link that cannot be accepted; ``outcome`` says why: ``used``, ``expired``,
    ``cancelled``, ``replaced`` or ``unknown`` (the message says what to do)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


_REFUSALS = {
    "used": "This invitation has already been used: sign in with your email and password.",
    "expired": "This invitation has expired: ask an admin of {org} to send a new one.",
    "cancelled": (
        "This invitation was cancelled (or the membership revoked): ask an admin of {org} to"
        " invite you again if you should have access."
    ),
    "replaced": (
        "A newer invitation replaced this link: open the link in the latest invitation email."
    ),
    "unknown": (
        "This invitation link is not valid: check that you opened the whole link from the email,"
        " or ask an admin for a new invitation."
    ),
}


def _refused(outcome: str, member: Member | None = None) -> InvitationRefused:
    org = member.organization.name if member else "the organization"
    return InvitationRefused(outcome, _REFUSALS[outcome].format(org=org))


def _issue(member: Member) -> str:
    """A fresh token for ``member`` (its hash and expiry set on it, not saved)."""
    token = _SIGNER.sign(f"{member.id}.{secrets.token_urlsafe(24)}")
    member.invitation_token_hash = _sha256(token)
    member.invitation_expires_at = now() + INVITATION_TTL
    return token


def _expiry(member: Member) -> dict[str, str | None]:
    return {"invitationExpiresAt": api_format(member.invitation_expires_at)}


@transaction.atomic
def member_invite(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    email: str,
    role: str,
    full_name: str = "",
    external_employee_id: str = "",
) -> Invitation:
    """Invite a person by email and role; they join by accepting the one-time link. A revoked
    membership of that email (or a cancelled invitation) is invited again."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    email = validation.pattern("email", email, EMAIL_RE, "must be an email address", 254).lower()
    role = validation.choice("role", role, MemberRole.values)
    full_name = validation.text("fullName", full_name, min_len=0, max_len=200)
    existing = Member.objects.select_for_update().filter(organization=organization, email=email)
    member = existing.first()
    if member is not None and member.status != MembershipStatus.REVOKED:
        raise Conflict(f"{email} is already a member or has a pending invitation")
    external_employee_id = checked_external_id(
        organization, external_employee_id, member_id=member.id if member else ""
    )
    before = _member_fields(member) if member else None
    if member is None:
        member = Member(organization=organization, email=email, created_at=now())
    member.role, member.status, member.full_name = role, MembershipStatus.PENDING, full_name
    member.external_employee_id, member.invited_by_id = external_employee_id, actor.id
    member.updated_at = now()
    token = _issue(member)
    member.set_unusable_password()
    try:
        with transaction.atomic():
            member.save(force_insert=before is None)
    except IntegrityError as exc:  # the same email invited at the same moment
        raise Conflict(f"{email} is already a member or has a pending invitation") from exc
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.invited",
        subject_type="member",
        subject_id=member.id,
        before=before,
        after=_member_fields(member),
    )
    return Invitation(member=member, token=token)


def _pending(organization: Organization, member_id: str) -> Member:
    member = _get_member(organization, member_id, lock=True)
    if member.status != MembershipStatus.PENDING:
        raise Unprocessable(
            f"{member.email} is {member.status}: only a pending invitation can be re-sent or"
            " cancelled"
        )
    return member


@transaction.atomic
def member_invitation_resend(
    *, organization: Organization, actor: Actor, reason: str, member_id: str
) -> Invitation:
    """A new one-time link and expiry for a pending invitation; the old link stops working."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    member = _pending(organization, member_id)
    before = _expiry(member)
    token = _issue(member)
    member.updated_at = now()
    member.save(update_fields=["invitation_token_hash", "invitation_expires_at", "updated_at"])
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.invitation-resent",
        subject_type="member",
        subject_id=member.id,
        before=before,
        after=_expiry(member),
    )
    return Invitation(member=member, token=token)


@transaction.atomic
def member_invitation_cancel(
    *, organization: Organization, actor: Actor, reason: str, member_id: str
) -> Member:
    """Cancel a pending invitation: its link stops working (the membership is revoked)."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    member = _pending(organization, member_id)
    before = _member_fields(member)
    end_membership(member)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.invitation-cancelled",
        subject_type="member",
        subject_id=member.id,
        before=before,
        after=_member_fields(member),
    )
    return member


def invitation_for_token(token: str) -> Member:
    """The pending member a link invites (with its organization), or ``InvitationRefused``
    saying why the link cannot be used. Reads only: the accept page shows whom it invites."""
    return _invitation(token, lock=False)


def _invitation(token: str, *, lock: bool) -> Member:
    members = Member.objects.select_related("organization")
    if lock:
        members = members.select_for_update(of=("self",))
    member = members.filter(invitation_token_hash=_sha256(token)).first() if token else None
    if member is not None and member.status == MembershipStatus.PENDING:
        if member.invitation_expires_at is None or member.invitation_expires_at <= now():
            raise _refused("expired", member)
        return member
    try:
        member_id = _SIGNER.unsign(token or "").split(".", 1)[0]
    except signing.BadSignature:
        raise _refused("unknown") from None
    member = Member.objects.select_related("organization").filter(id=member_id).first()
    if member is None:
        outcome = "unknown"
    elif member.status == MembershipStatus.ACTIVE:
        outcome = "used"
    elif member.status == MembershipStatus.REVOKED:
        outcome = "cancelled"
    else:
        outcome = "replaced"
    raise _refused(outcome, member)


@transaction.atomic
def member_accept_invitation(*, token: str, password: str, full_name: str = "") -> Member:
    """Join by the invitation link: sets the name and password (Django's password validators)
    and activates the membership. A link that cannot be used raises ``InvitationRefused``."""
    member = _invitation(token, lock=True)
    before = _member_fields(member)
    errors: list[ValidationFailed] = []
    try:
        member.full_name = validation.text(
            "fullName", full_name or member.full_name, min_len=1, max_len=200
        )
    except ValidationFailed as exc:
        errors.append(exc)
    try:
        check_password(member, password)
    except ValidationFailed as exc:
        errors.append(exc)
    if errors:
        raise validation.merge(errors)
    member.set_password(password)
    member.status = MembershipStatus.ACTIVE
    member.invitation_token_hash = ""
    member.invitation_expires_at = None
    member.updated_at = now()
    member.save()
    audit.record(
        organization_id=member.organization_id,
        actor=actor_for_member(member),
        reason="Accepted the invitation and set a password",
        action="member.joined",
        subject_type="member",
        subject_id=member.id,
        before=before,
        after=_member_fields(member),
    )
    return member
