"""Reads for organizations, members, responsibilities and credentials."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from registra.core import db, sql
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import (
    MembershipStatus,
    OrganizationStatus,
    ServiceAccountStatus,
)
from registra.organizations.credentials import token_hash
from registra.organizations.models import (
    AccessToken,
    Member,
    Organization,
    ResponsibilityAssignment,
    ServiceAccount,
)


def organization_get_by_slug(slug: str) -> Organization:
    return first_or_404(Organization.objects.filter(slug=slug), f"organization {slug!r}")


def organization_list() -> list[Organization]:
    """Every organization, by slug: for operator commands that visit each one in turn."""
    return list(Organization.objects.order_by("slug"))


def organization_get(organization_id: str) -> Organization:
    return first_or_404(Organization.objects.filter(id=organization_id), "organization")


def member_list(organization: Organization) -> list[Member]:
    return list(Member.objects.filter(organization=organization).order_by("email"))


def active_members(organization: Organization) -> list[Member]:
    """The members who may hold custody, by name."""
    members = Member.objects.filter(organization=organization, status=MembershipStatus.ACTIVE)
    return list(members.order_by("full_name", "email"))


def member_get(organization: Organization, member_id: str) -> Member:
    members = Member.objects.filter(organization=organization, id=member_id)
    return first_or_404(members, f"member {member_id}")


def memberships_for_sign_in(email: str) -> list[Member]:
    """The active memberships of an email address in active organizations, with their
    organization, by organization name. Like the token lookup, this read is not scoped by an
    organization: signing in is how the organization is found."""
    members = Member.objects.select_related("organization").filter(
        email__iexact=email.strip(),
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return list(members.order_by("organization__name", "organization__slug"))


def member_signed_in(organization: Organization, member_ids: list[str]) -> Member | None:
    """Which of the session's memberships belongs to ``organization``, while it is active
    (read on every page, so a revoked member is out at once)."""
    members = Member.objects.filter(
        organization=organization, id__in=member_ids, status=MembershipStatus.ACTIVE
    )
    return members.first()


def signed_in_organizations(member_ids: list[str]) -> list[Organization]:
    """The active organizations of a session's active memberships, by name (the picker)."""
    members = Member.objects.select_related("organization").filter(
        id__in=member_ids,
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return sorted((m.organization for m in members), key=lambda o: (o.name, o.slug))


def active_member(member_id: str) -> Member | None:
    """A signed-in session's member, while its membership and organization are active."""
    members = Member.objects.select_related("organization").filter(
        id=member_id,
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return members.first()


def responsibility_list(organization: Organization) -> list[ResponsibilityAssignment]:
    return list(
        ResponsibilityAssignment.objects.filter(organization=organization).order_by(
            "responsibility_key"
        )
    )


def classification_levels(organization: Organization) -> list[dict[str, Any]]:
    """The organization's classification levels (label, rank, severity), highest rank first,
    for copying into an asset's classification snapshot.

    No organization can configure levels yet (SPEC section 5's classification levels page
    comes with the administration pages), so there are none: forms offer "none" and keep an
    asset's current level."""
    return []


def service_account_list(organization: Organization) -> list[ServiceAccount]:
    return list(
        ServiceAccount.objects.filter(organization=organization)
        .exclude(status=ServiceAccountStatus.DELETED)
        .order_by("name")
    )


@dataclass(frozen=True)
class TokenContext:
    """What an API request may do: its organization, service account, scopes and token."""

    organization_id: str
    service_account_id: str
    token_id: str
    token_hash: str
    scopes: frozenset[str]
    expires_at: datetime


def access_token_resolve(raw_token: str) -> TokenContext | None:
    """The live token for a bearer value, or None (unknown, expired, or its account is dead).

    The organization comes from the token: this is the one read that is not scoped by a caller's
    organization, because it is how the organization is found.
    """
    digest = token_hash(raw_token)
    at = now()
    # Runs on every API request: one lookup by the unique hash in hand-written SQL (see
    # core/sql.py), with the liveness rules checked here. On the primary, never the replica: a
    # token works as soon as it is granted and dies with its account, whatever the lag (0006).
    rows = sql.fetch(_token_sql(), [digest], datetimes=(4, 6), using=db.PRIMARY)
    if not rows:
        return None
    tok_id, org_id, svc_id, scopes, expires_at, svc_status, svc_expires_at, org_status = rows[0]
    if (
        expires_at <= at
        or svc_status != ServiceAccountStatus.ACTIVE
        or org_status != OrganizationStatus.ACTIVE
        or (svc_expires_at is not None and svc_expires_at <= at)
    ):
        return None
    return TokenContext(org_id, svc_id, tok_id, digest, frozenset(_json_list(scopes)), expires_at)


def _json_list(value: Any) -> list[str]:
    # A JSON column arrives as text (Django decodes JSONField values itself).
    return orjson.loads(value) if isinstance(value, str | bytes) else list(value)


@functools.cache
def _token_sql() -> str:
    tok_id, org_id, svc_id, scopes, expires, tok_hash = sql.quoted(
        AccessToken,
        "id",
        "organization_id",
        "service_account_id",
        "scopes",
        "expires_at",
        "token_hash",
    )
    svc_pk, svc_status, svc_expires = sql.quoted(ServiceAccount, "id", "status", "expires_at")
    org_pk, org_status = sql.quoted(Organization, "id", "status")
    token, svc, org = sql.table(AccessToken), sql.table(ServiceAccount), sql.table(Organization)
    return (
        f"SELECT t.{tok_id}, t.{org_id}, t.{svc_id}, t.{scopes}, t.{expires},"
        f" s.{svc_status}, s.{svc_expires}, o.{org_status}"
        f" FROM {token} t JOIN {svc} s ON s.{svc_pk} = t.{svc_id}"
        f" JOIN {org} o ON o.{org_pk} = t.{org_id}"
        f" WHERE t.{tok_hash} = %s"
    )
