"""Writes for organizations, members, responsibilities, service accounts and access tokens.

Each service runs in one transaction, checks its rules and records its audit event itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, NotFound, Unprocessable, field_error
from registra.core.timefmt import now
from registra.organizations.choices import (
    ALL_SCOPES,
    MemberRole,
    MembershipStatus,
    OrganizationStatus,
    ServiceAccountStatus,
)
from registra.organizations.models import (
    AccessToken,
    Member,
    Organization,
    ResponsibilityAssignment,
    ServiceAccount,
)

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
INVITATION_TTL = timedelta(days=7)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def actor_for_member(member: Member) -> Actor:
    return Actor(kind="member", id=member.id, label=member.full_name or member.email)


def actor_for_service_account(account: ServiceAccount) -> Actor:
    return Actor(kind="service-account", id=account.id, label=account.name)


# --- organizations -------------------------------------------------------------------------


def _org_fields(org: Organization) -> dict[str, Any]:
    return {
        "slug": org.slug,
        "name": org.name,
        "timezone": org.timezone,
        "locale": org.locale,
        "status": org.status,
        "requireMfa": org.require_mfa,
        "readinessRequirements": org.readiness_requirements,
    }


@transaction.atomic
def organization_create(
    *,
    actor: Actor,
    reason: str,
    slug: str,
    name: str,
    timezone: str = "UTC",
    locale: str = "en-US",
    readiness_requirements: dict[str, list[str]] | None = None,
) -> Organization:
    """Create a tenant. Slugs are 1-63 chars of a-z0-9 and '-', alphanumeric at both ends."""
    reason = validation.reason(reason)
    slug = validation.pattern(
        "slug",
        slug,
        SLUG_RE,
        "must be 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
        63,
    )
    org = Organization(
        slug=slug,
        name=validation.text("name", name, min_len=1, max_len=200),
        timezone=validation.timezone_name("timezone", timezone),
        locale=validation.text("locale", locale, min_len=2, max_len=35),
        status=OrganizationStatus.ACTIVE,
        readiness_requirements=_requirements(readiness_requirements or {}),
        created_at=now(),
        updated_at=now(),
    )
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"an organization with slug {slug!r} already exists")
    org.save(force_insert=True)
    audit.record(
        organization_id=org.id,
        actor=actor,
        reason=reason,
        action="organization.created",
        subject_type="organization",
        subject_id=org.id,
        before=None,
        after=_org_fields(org),
    )
    return org


def _requirements(value: dict[str, list[str]]) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise field_error("readinessRequirements", "must map asset kinds to assessment kinds")
    clean: dict[str, list[str]] = {}
    for kind, required in value.items():
        validation.text("readinessRequirements", kind, min_len=1, max_len=64)
        if not isinstance(required, list) or not all(isinstance(r, str) and r for r in required):
            raise field_error(
                "readinessRequirements", f"{kind}: must be a list of assessment kinds"
            )
        clean[kind] = sorted(set(required))
    return clean


@transaction.atomic
def organization_set_readiness_requirements(
    *, organization: Organization, actor: Actor, reason: str, requirements: dict[str, list[str]]
) -> Organization:
    """Set which assessment kinds each asset kind needs to be ready."""
    reason = validation.reason(reason)
    before = dict(organization.readiness_requirements)
    organization.readiness_requirements = _requirements(requirements)
    organization.updated_at = now()
    organization.save(update_fields=["readiness_requirements", "updated_at"])
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="organization.readiness-requirements-changed",
        subject_type="organization",
        subject_id=organization.id,
        before={"readinessRequirements": before},
        after={"readinessRequirements": organization.readiness_requirements},
    )
    return organization


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
    qs = Member.objects.filter(organization=organization, id=member_id)
    member = (qs.select_for_update() if lock else qs).first()
    if member is None:
        raise NotFound(f"member {member_id} not found")
    return member


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
    reason = validation.reason(reason)
    role = validation.choice("role", role, MemberRole.values)
    _lock_membership_changes(organization)
    member = _get_member(organization, member_id, lock=True)
    if member.status == MembershipStatus.REVOKED:
        raise Unprocessable("a revoked membership cannot change role")
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
def member_bulk_create_active(
    *, organization: Organization, actor: Actor, reason: str, people: list[dict[str, str]]
) -> list[Member]:
    """Create active members directly (operator seeding and demo data), one audit event each.

    Each person is ``{"email", "fullName", "role", "externalEmployeeId"}``; they have no
    password until an admin sends them a reset or invitation.
    """
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


# --- responsibilities ----------------------------------------------------------------------


def _ra_fields(ra: ResponsibilityAssignment) -> dict[str, Any]:
    return {
        "responsibilityKey": ra.responsibility_key,
        "title": ra.title,
        "description": ra.description,
        "holderId": ra.holder_id,
    }


@transaction.atomic
def responsibility_assign(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    responsibility_key: str,
    title: str,
    holder_id: str | None,
    description: str = "",
) -> ResponsibilityAssignment:
    """Create the responsibility if new, and name its holder (an active member, or nobody)."""
    reason = validation.reason(reason)
    key = validation.pattern(
        "responsibilityKey",
        responsibility_key,
        KEY_RE,
        "must start with a letter or digit and use A-Z a-z 0-9 . _ : -",
        128,
    )
    if holder_id is not None:
        holder = _get_member(organization, holder_id)
        if holder.status != MembershipStatus.ACTIVE:
            raise Unprocessable("a responsibility can only be held by an active member")
    ra = (
        ResponsibilityAssignment.objects.select_for_update()
        .filter(organization=organization, responsibility_key=key)
        .first()
    )
    before = _ra_fields(ra) if ra else None
    at = now()
    if ra is None:
        ra = ResponsibilityAssignment(
            organization=organization, responsibility_key=key, created_at=at
        )
    ra.title = validation.text("title", title, min_len=1, max_len=200)
    ra.description = validation.text("description", description, min_len=0, max_len=4000)
    ra.holder_id = holder_id
    ra.updated_at = at
    ra.save()
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="responsibility.assigned",
        subject_type="responsibility",
        subject_id=ra.id,
        before=before,
        after=_ra_fields(ra),
    )
    return ra


# --- service accounts and tokens -----------------------------------------------------------


def _svc_fields(sa: ServiceAccount) -> dict[str, Any]:
    return {
        "name": sa.name,
        "contactEmail": sa.contact_email,
        "scopes": sa.scopes,
        "status": sa.status,
        "expiresAt": sa.expires_at,
    }


def _scopes(value: list[str] | str) -> list[str]:
    items = value.split() if isinstance(value, str) else list(value)
    if not items:
        raise field_error("scopes", f"must name at least one of: {', '.join(sorted(ALL_SCOPES))}")
    unknown = [s for s in items if s not in ALL_SCOPES]
    if unknown:
        raise field_error(
            "scopes", f"unknown scope {unknown[0]!r}; allowed: {', '.join(sorted(ALL_SCOPES))}"
        )
    return sorted(set(items))


def _new_secret() -> str:
    return "rsec_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedSecret:
    """A service account and its client secret, which is shown exactly once."""

    account: ServiceAccount
    secret: str


@transaction.atomic
def service_account_create(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    name: str,
    scopes: list[str] | str,
    contact_email: str = "",
    expires_at: datetime | None = None,
) -> IssuedSecret:
    """Create an API identity; returns the secret once, stores only its slow hash."""
    reason = validation.reason(reason)
    if contact_email:
        contact_email = validation.pattern(
            "contactEmail", contact_email, EMAIL_RE, "must be an email address", 254
        )
    validation.aware("expiresAt", expires_at)
    if expires_at is not None and expires_at <= now():
        raise field_error("expiresAt", "must be in the future")
    secret = _new_secret()
    at = now()
    sa = ServiceAccount(
        organization=organization,
        name=validation.text("name", name, min_len=1, max_len=200),
        contact_email=contact_email,
        scopes=_scopes(scopes),
        secret_hash=make_password(secret),
        expires_at=expires_at,
        created_at=at,
        updated_at=at,
    )
    sa.save(force_insert=True)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="service-account.created",
        subject_type="service-account",
        subject_id=sa.id,
        before=None,
        after=_svc_fields(sa),
    )
    return IssuedSecret(account=sa, secret=secret)


def _get_service_account(organization: Organization, account_id: str) -> ServiceAccount:
    sa = (
        ServiceAccount.objects.select_for_update()
        .filter(organization=organization, id=account_id)
        .exclude(status=ServiceAccountStatus.DELETED)
        .first()
    )
    if sa is None:
        raise NotFound(f"service account {account_id} not found")
    return sa


def _revoke_tokens(sa: ServiceAccount) -> int:
    deleted, _ = AccessToken.objects.filter(
        organization_id=sa.organization_id, service_account=sa
    ).delete()
    return deleted


@transaction.atomic
def service_account_rotate_secret(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> IssuedSecret:
    """New secret; the old secret and every token issued with it stop working at once."""
    reason = validation.reason(reason)
    sa = _get_service_account(organization, account_id)
    secret = _new_secret()
    sa.secret_hash = make_password(secret)
    sa.secret_rotated_at = sa.updated_at = now()
    sa.save(update_fields=["secret_hash", "secret_rotated_at", "updated_at"])
    revoked = _revoke_tokens(sa)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="service-account.secret-rotated",
        subject_type="service-account",
        subject_id=sa.id,
        extra={"tokensRevoked": revoked},
    )
    return IssuedSecret(account=sa, secret=secret)


def _set_status(
    organization: Organization,
    actor: Actor,
    reason: str,
    account_id: str,
    status: str,
    action: str,
) -> ServiceAccount:
    reason = validation.reason(reason)
    sa = _get_service_account(organization, account_id)
    if sa.status == status:
        raise Unprocessable(f"this service account is already {status}")
    before = _svc_fields(sa)
    sa.status, sa.updated_at = status, now()
    sa.save(update_fields=["status", "updated_at"])
    revoked = _revoke_tokens(sa) if status != ServiceAccountStatus.ACTIVE else 0
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="service-account",
        subject_id=sa.id,
        before=before,
        after=_svc_fields(sa),
        extra={"tokensRevoked": revoked},
    )
    return sa


def service_account_disable(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Disable: tokens die at once and no new ones are issued until enabled again."""
    with transaction.atomic():
        return _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.DISABLED,
            "service-account.disabled",
        )


def service_account_enable(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Re-enable a disabled account (its secret is unchanged)."""
    with transaction.atomic():
        return _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.ACTIVE,
            "service-account.enabled",
        )


def service_account_delete(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Delete for good. The row stays (status ``deleted``) so audit events keep their subject."""
    with transaction.atomic():
        sa = _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.DELETED,
            "service-account.deleted",
        )
        sa.secret_hash = make_password(None)
        sa.save(update_fields=["secret_hash"])
        return sa
