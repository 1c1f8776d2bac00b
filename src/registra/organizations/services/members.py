"""Member writes: invite, accept, change role, revoke, set a password, bulk create."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, NotFound, Unprocessable
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import (
    MemberRole,
    MembershipStatus,
)
from registra.organizations.models import (
    Member,
    Organization,
)
from registra.organizations.policy import Permission, actor_for_member, require
from registra.organizations.services._common import EMAIL_RE, INVITATION_TTL, _sha256

# --- members -------------------------------------------------------------------------------


def _member_fields(m: Member) -> dict[str, Any]:
    return {
        "email": m.email,
        "fullName": m.full_name,
        "role": m.role,
        "status": m.status,
        "externalEmployeeId": m.external_employee_id,
    }


def _get_member(organization: Organization, member_id: str, *, lock: bool = False) -> Member:
    members = Member.objects.filter(organization=organization, id=member_id)
    return first_or_404(members, f"member {member_id}", lock=lock)


@dataclass(frozen=True)
class Invitation:
    """A pending member and the one-time token for the invitation link (shown once)."""

    member: Member
    token: str


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
    """Invite a person by email and role; they join by accepting the one-time link."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    email = validation.pattern("email", email, EMAIL_RE, "must be an email address", 254).lower()
    role = validation.choice("role", role, MemberRole.values)
    if Member.objects.filter(organization=organization, email=email).exists():
        raise Conflict(f"{email} is already a member or has a pending invitation")
    token = secrets.token_urlsafe(32)
    member = Member(
        organization=organization,
        email=email,
        role=role,
        status=MembershipStatus.PENDING,
        full_name=validation.text("fullName", full_name, min_len=0, max_len=200),
        external_employee_id=validation.text(
            "externalEmployeeId", external_employee_id, min_len=0, max_len=128
        ),
        invitation_token_hash=_sha256(token),
        invitation_expires_at=now() + INVITATION_TTL,
        invited_by_id=actor.id,
        created_at=now(),
        updated_at=now(),
    )
    member.set_unusable_password()
    member.save(force_insert=True)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.invited",
        subject_type="member",
        subject_id=member.id,
        before=None,
        after=_member_fields(member),
    )
    return Invitation(member=member, token=token)


@transaction.atomic
def member_accept_invitation(*, token: str, password: str, full_name: str = "") -> Member:
    """Join by the invitation link: sets the password and activates the membership."""
    member = (
        Member.objects.select_for_update()
        .filter(invitation_token_hash=_sha256(token or ""), status=MembershipStatus.PENDING)
        .first()
    )
    if (
        member is None
        or member.invitation_expires_at is None
        or member.invitation_expires_at < now()
    ):
        raise NotFound("this invitation link is invalid, used or expired")
    validation.text("password", password, min_len=12, max_len=256)
    before = _member_fields(member)
    member.set_password(password)
    member.full_name = validation.text(
        "fullName", full_name or member.full_name, min_len=1, max_len=200
    )
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


def _lock_membership_changes(organization: Organization) -> None:
    """Serialize role and membership changes per organization. Locking only the changed member
    would let two admins demote each other concurrently, each still seeing the other as admin."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()


def _ensure_admin_remains(organization: Organization, member: Member) -> None:
    others = Member.objects.filter(
        organization=organization, role=MemberRole.ADMIN, status=MembershipStatus.ACTIVE
    ).exclude(id=member.id)
    if (
        member.role == MemberRole.ADMIN
        and member.status == MembershipStatus.ACTIVE
        and not (others.exists())
    ):
        raise Unprocessable("the organization must keep at least one active admin")


@transaction.atomic
def member_change_role(
    *, organization: Organization, actor: Actor, reason: str, member_id: str, role: str
) -> Member:
    """Change a member's role; the last active admin cannot be demoted."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    role = validation.choice("role", role, MemberRole.values)
    _lock_membership_changes(organization)
    member = _get_member(organization, member_id, lock=True)
    if member.status == MembershipStatus.REVOKED:
        raise Unprocessable("a revoked membership cannot change role")
    if member.role == role:
        raise Unprocessable(f"{member.email} already has the role {role}")
    if role != MemberRole.ADMIN:
        _ensure_admin_remains(organization, member)
    before = _member_fields(member)
    member.role, member.updated_at = role, now()
    member.save(update_fields=["role", "updated_at"])
    b, a = audit.changed_fields(before, _member_fields(member))
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.role-changed",
        subject_type="member",
        subject_id=member.id,
        before=b,
        after=a,
    )
    return member


@transaction.atomic
def member_revoke(
    *, organization: Organization, actor: Actor, reason: str, member_id: str
) -> Member:
    """Revoke a membership (pending or active); the person can no longer sign in."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    _lock_membership_changes(organization)
    member = _get_member(organization, member_id, lock=True)
    if member.status == MembershipStatus.REVOKED:
        raise Unprocessable("this membership is already revoked")
    _ensure_admin_remains(organization, member)
    before = _member_fields(member)
    member.status, member.updated_at = MembershipStatus.REVOKED, now()
    member.invitation_token_hash = ""
    member.set_unusable_password()
    member.save()
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.revoked",
        subject_type="member",
        subject_id=member.id,
        before=before,
        after=_member_fields(member),
    )
    return member


@transaction.atomic
def member_set_password(
    *, organization: Organization, actor: Actor, reason: str, member_id: str, password: str
) -> Member:
    """Set an active member's password (the demo's sign-in members; an admin's reset). The
    audit event says that it changed, never what it is."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    validation.text("password", password, min_len=12, max_len=256)
    member = _get_member(organization, member_id, lock=True)
    if member.status != MembershipStatus.ACTIVE:
        raise Unprocessable(
            f"member {member_id} is {member.status}: only an active member signs in"
        )
    member.set_password(password)
    member.updated_at = now()
    member.save(update_fields=["password", "updated_at"])
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.password-set",
        subject_type="member",
        subject_id=member.id,
        before={},
        after={},
    )
    return member


@transaction.atomic
def member_bulk_create_active(
    *, organization: Organization, actor: Actor, reason: str, people: list[dict[str, str]]
) -> list[Member]:
    """Create active members directly (operator seeding and demo data), one audit event each.

    Each person is ``{"email", "fullName", "role", "externalEmployeeId"}``; they have no
    password until an admin sends them a reset or invitation.
    """
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    at = now()
    members = []
    for i, person in enumerate(people):
        members.append(
            Member(
                organization=organization,
                email=validation.pattern(
                    f"people[{i}].email", person["email"], EMAIL_RE, "must be an email address", 254
                ).lower(),
                full_name=validation.text(
                    f"people[{i}].fullName", person.get("fullName", ""), min_len=0, max_len=200
                ),
                role=validation.choice(f"people[{i}].role", person["role"], MemberRole.values),
                external_employee_id=person.get("externalEmployeeId", ""),
                status=MembershipStatus.ACTIVE,
                password=make_password(None),
                invited_by_id=actor.id,
                created_at=at,
                updated_at=at,
            )
        )
    try:
        with transaction.atomic():
            Member.objects.bulk_create(members)
    except IntegrityError as exc:
        raise Conflict("one of these emails is already a member") from exc
    audit.record_many(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        events=[
            audit.PendingEvent("member.created", "member", m.id, None, _member_fields(m))
            for m in members
        ],
    )
    return members
