"""Reads for organizations, members, responsibilities and credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from registra.core.errors import NotFound
from registra.core.timefmt import now
from registra.organizations.choices import OrganizationStatus, ServiceAccountStatus
from registra.organizations.models import (
    AccessToken,
    Member,
    Organization,
    ResponsibilityAssignment,
    ServiceAccount,
)
from registra.organizations.tokens import token_hash


def organization_get_by_slug(slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise NotFound(f"organization {slug!r} not found")
    return org


def organization_get(organization_id: str) -> Organization:
    org = Organization.objects.filter(id=organization_id).first()
    if org is None:
        raise NotFound("organization not found")
    return org


def member_list(organization: Organization) -> list[Member]:
    return list(Member.objects.filter(organization=organization).order_by("email"))


def member_get(organization: Organization, member_id: str) -> Member:
    m = Member.objects.filter(organization=organization, id=member_id).first()
    if m is None:
        raise NotFound(f"member {member_id} not found")
    return m


def responsibility_list(organization: Organization) -> list[ResponsibilityAssignment]:
    return list(
        ResponsibilityAssignment.objects.filter(organization=organization).order_by(
            "responsibility_key"
        )
    )


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
    row = (
        AccessToken.objects.filter(
            token_hash=digest,
            expires_at__gt=at,
            service_account__status=ServiceAccountStatus.ACTIVE,
            organization__status=OrganizationStatus.ACTIVE,
        )
        .filter(Q(service_account__expires_at__isnull=True) | Q(service_account__expires_at__gt=at))
        .values_list("id", "organization_id", "service_account_id", "scopes", "expires_at")
        .first()
    )
    if row is None:
        return None
    tok_id, org_id, svc_id, scopes, expires_at = row
    return TokenContext(org_id, svc_id, tok_id, digest, frozenset(scopes), expires_at)
