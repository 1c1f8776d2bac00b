"""Member writes: change role, revoke, update, set a password, bulk create (invitations and
joining by one: ``invitations.py``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, Unprocessable, ValidationFailed, field_error
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
from registra.organizations.policy import Permission, require
from registra.organizations.services._common import EMAIL_RE, check_password

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


def end_membership(member: Member) -> None:
    """Revoke ``member`` (locked, in the caller's transaction): no sign-in, no invitation link.
    Every page reads the membership again, so an open session is refused on its next request."""
    member.status, member.updated_at = MembershipStatus.REVOKED, now()
    member.invitation_token_hash = ""
    member.invitation_expires_at = None
    member.set_unusable_password()
    member.save()


def checked_external_id(organization: Organization, value: str, *, member_id: str = "") -> str:
    """A checked external employee id: imports and the drift check match custody holders by it,
    so two members of an organization (revoked ones aside) may not share one."""
    value = validation.text("externalEmployeeId", value, min_len=0, max_len=128)
    if value:
        taken = Member.objects.filter(organization=organization, external_employee_id=value)
        taken = taken.exclude(status=MembershipStatus.REVOKED).exclude(id=member_id)
        holder = taken.first()
        if holder is not None:
            raise field_error("externalEmployeeId", f"is already the id of {holder.email}")
    return value


@transaction.atomic
def member_update(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    member_id: str,
    full_name: str | None = None,
    external_employee_id: str | None = None,
) -> Member:
    """Change a member's full name and external employee id (None: keep); refused when nothing
    changes."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    member = _get_member(organization, member_id, lock=True)
    before = _member_fields(member)
    checks: list[ValidationFailed] = []
    if full_name is not None:
        try:
            member.full_name = validation.text("fullName", full_name, min_len=0, max_len=200)
        except ValidationFailed as exc:
            checks.append(exc)
    if external_employee_id is not None:
        try:
            member.external_employee_id = checked_external_id(
                organization, external_employee_id, member_id=member.id
            )
        except ValidationFailed as exc:
            checks.append(exc)
    if checks:
        raise validation.merge(checks)
    b, a = audit.changed_fields(before, _member_fields(member))
    if not a:
        raise Unprocessable(f"nothing to change: {member.email} already has these details")
    member.updated_at = now()
    try:
        with transaction.atomic():
            member.save(update_fields=["full_name", "external_employee_id", "updated_at"])
    except IntegrityError as exc:  # the same id given to another member at the same moment
        raise field_error("externalEmployeeId", "is already the id of another member") from exc
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.updated",
        subject_type="member",
        subject_id=member.id,
        before=b,
        after=a,
    )
    return member


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
    end_membership(member)
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
    member = _get_member(organization, member_id, lock=True)
    if member.status != MembershipStatus.ACTIVE:
        raise Unprocessable(
            f"member {member_id} is {member.status}: only an active member signs in"
        )
    check_password(member, password)
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
