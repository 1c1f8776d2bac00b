"""Organization and responsibility writes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, Unprocessable, field_error
from registra.core.timefmt import now
from registra.organizations.choices import (
    MembershipStatus,
    OrganizationStatus,
)
from registra.organizations.models import (
    Organization,
    ResponsibilityAssignment,
)
from registra.organizations.policy import Permission, require
from registra.organizations.services._common import SLUG_RE
from registra.organizations.services.members import _get_member

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
    require(actor, Permission.CREATE_ORGANIZATION)
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
        readiness_requirements=clean_requirements(readiness_requirements or {}),
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


def clean_requirements(value: dict[str, list[str]]) -> dict[str, list[str]]:
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
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    key = validation.pattern(
        "responsibilityKey",
        responsibility_key,
        validation.KEY_RE,
        validation.KEY_RULE,
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
