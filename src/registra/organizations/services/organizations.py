"""Organization and responsibility writes."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, Unprocessable, ValidationFailed, field_error
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import (
    MembershipStatus,
    OrganizationStatus,
)
from registra.organizations.models import (
    Member,
    Organization,
    ResponsibilityAssignment,
)
from registra.organizations.policy import Permission, require
from registra.organizations.services._common import SLUG_RE
from registra.organizations.services.members import _get_member

# A BCP 47 language tag as browsers send it: "en", "en-US", "de-CH", "zh-Hant-TW".
LOCALE_RE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
LOCALE_RULE = "must be a language tag such as en-US or de-CH"
DUE_SOON_MIN, DUE_SOON_MAX = 1, 365

# --- organizations -------------------------------------------------------------------------


def _org_fields(org: Organization) -> dict[str, Any]:
    return {
        "slug": org.slug,
        "name": org.name,
        "timezone": org.timezone,
        "locale": org.locale,
        "status": org.status,
        "requireMfa": org.require_mfa,
        "dueSoonDays": org.due_soon_days,
        "readinessRequirements": org.readiness_requirements,
    }


def _locale(value: object) -> str:
    return validation.pattern("locale", value, LOCALE_RE, LOCALE_RULE, 35)


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
        locale=_locale(locale),
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


# The settings an admin changes, API names -> model fields.
SETTINGS_FIELDS = {
    "name": "name",
    "timezone": "timezone",
    "locale": "locale",
    "requireMfa": "require_mfa",
    "dueSoonDays": "due_soon_days",
}


def _due_soon_days(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise field_error("dueSoonDays", "must be a whole number of days")
    if not DUE_SOON_MIN <= value <= DUE_SOON_MAX:
        raise field_error("dueSoonDays", f"must be {DUE_SOON_MIN} to {DUE_SOON_MAX} days")
    return value


def _require_mfa(value: object) -> bool:
    if not isinstance(value, bool):
        raise field_error("requireMfa", "must be true or false")
    return value


_SETTING_CHECKS = {
    "name": lambda v: validation.text("name", v, min_len=1, max_len=200),
    "timezone": lambda v: validation.timezone_name("timezone", v),
    "locale": _locale,
    "requireMfa": _require_mfa,
    "dueSoonDays": _due_soon_days,
}


def _clean_settings(values: dict[str, Any]) -> dict[str, Any]:
    """Every setting checked, every refusal reported at once (a form shows them all)."""
    clean, errors = {}, []
    for name, value in values.items():
        try:
            clean[name] = _SETTING_CHECKS[name](value)
        except ValidationFailed as exc:
            errors.append(exc)
    if errors:
        raise validation.merge(errors)
    return clean


@transaction.atomic
def organization_update_settings(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    name: str,
    timezone: str,
    locale: str,
    require_mfa: bool,
    due_soon_days: int,
) -> Organization:
    """Change the organization's name, time zone (IANA), locale, whether every member must sign
    in with a second factor, and its due-soon window (1-365 days). Nothing stored depends on
    these (the due-soon window is applied when read), so nothing is recomputed. Audited as
    ``organization.settings-changed`` with the fields that changed; a change to nothing writes
    nothing."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    clean = _clean_settings(
        {
            "name": name,
            "timezone": timezone,
            "locale": locale,
            "requireMfa": require_mfa,
            "dueSoonDays": due_soon_days,
        }
    )
    org = Organization.objects.select_for_update().get(id=organization.id)
    before = {api: getattr(org, field) for api, field in SETTINGS_FIELDS.items()}
    old, new = audit.changed_fields(before, clean)
    if not new:
        return org
    for api, value in new.items():
        setattr(org, SETTINGS_FIELDS[api], value)
    org.updated_at = now()
    org.save(update_fields=[*(SETTINGS_FIELDS[api] for api in new), "updated_at"])
    audit.record(
        organization_id=org.id,
        actor=actor,
        reason=reason,
        action="organization.settings-changed",
        subject_type="organization",
        subject_id=org.id,
        before=old,
        after=new,
    )
    return org


def clean_validity(
    value: dict[str, dict[str, int]], requirements: dict[str, list[str]]
) -> dict[str, dict[str, int]]:
    """Validity periods (asset kind -> assessment kind -> 1-3650 days), each for a kind that
    ``requirements`` (already clean) requires of that asset kind."""
    if not isinstance(value, dict):
        raise field_error("readinessValidity", "must map asset kinds to validity periods")
    clean: dict[str, dict[str, int]] = {}
    for kind, periods in value.items():
        if not isinstance(periods, dict):
            raise field_error("readinessValidity", f"{kind}: must map assessment kinds to days")
        for assessment_kind, days in periods.items():
            if assessment_kind not in requirements.get(kind, []):
                raise field_error("readinessValidity", f"{kind} does not require {assessment_kind}")
            clean.setdefault(kind, {})[assessment_kind] = validity_days(
                days, field="readinessValidity"
            )
    return clean


VALIDITY_MIN, VALIDITY_MAX = 1, 3650


def validity_days(value: object, *, field: str = "validityDays") -> int:
    """A validity period in days: 1 to 3650 (ten years)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise field_error(field, "must be a whole number of days")
    if not VALIDITY_MIN <= value <= VALIDITY_MAX:
        raise field_error(field, f"must be {VALIDITY_MIN} to {VALIDITY_MAX} days")
    return value


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


def _holder(organization: Organization, holder_id: str | None) -> Member | None:
    """The member who is to hold a responsibility: an active member of the organization (or
    nobody, for None)."""
    if holder_id in (None, ""):
        return None
    holder = _get_member(organization, str(holder_id))
    if holder.status != MembershipStatus.ACTIVE:
        raise Unprocessable("a responsibility can only be held by an active member")
    return holder


def _responsibility_key(value: object) -> str:
    return validation.pattern(
        "responsibilityKey", value, validation.KEY_RE, validation.KEY_RULE, 128
    )


def _locked_responsibility(
    organization: Organization, responsibility_id: str
) -> ResponsibilityAssignment:
    found = ResponsibilityAssignment.objects.filter(organization=organization, id=responsibility_id)
    return first_or_404(found, f"responsibility {responsibility_id}", lock=True)


def _save_responsibility(
    organization: Organization,
    actor: Actor,
    reason: str,
    ra: ResponsibilityAssignment,
    before: dict[str, Any] | None,
    action: str,
) -> ResponsibilityAssignment:
    ra.updated_at = now()
    ra.save()
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="responsibility",
        subject_id=ra.id,
        before=before,
        after=_ra_fields(ra),
    )
    return ra


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
    """Create the responsibility if new, and name its holder (an active member, or nobody):
    what imports and the demo loader call, by key."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    key = _responsibility_key(responsibility_key)
    holder = _holder(organization, holder_id)
    ra = (
        ResponsibilityAssignment.objects.select_for_update()
        .filter(organization=organization, responsibility_key=key)
        .first()
    )
    before = _ra_fields(ra) if ra else None
    if ra is None:
        ra = ResponsibilityAssignment(
            organization=organization, responsibility_key=key, created_at=now()
        )
    ra.title = validation.text("title", title, min_len=1, max_len=200)
    ra.description = validation.text("description", description, min_len=0, max_len=4000)
    ra.holder_id = holder.id if holder else None
    return _save_responsibility(organization, actor, reason, ra, before, "responsibility.assigned")


@transaction.atomic
def responsibility_create(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    responsibility_key: str,
    title: str,
    holder_id: str | None = None,
    description: str = "",
) -> ResponsibilityAssignment:
    """A new responsibility ("custodian of toolbox A"), held by an active member or vacant.
    Its key is unique in the organization and refused with ``conflict`` when taken."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    ra = ResponsibilityAssignment(
        organization=organization,
        responsibility_key=_responsibility_key(responsibility_key),
        title=validation.text("title", title, min_len=1, max_len=200),
        description=validation.text("description", description, min_len=0, max_len=4000),
        created_at=now(),
    )
    holder = _holder(organization, holder_id)
    ra.holder_id = holder.id if holder else None
    taken = ResponsibilityAssignment.objects.filter(
        organization=organization, responsibility_key=ra.responsibility_key
    )
    if taken.exists():
        message = f"a responsibility with key {ra.responsibility_key!r} already exists"
        raise Conflict(message, issues=[{"path": ["responsibilityKey"], "message": message}])
    return _save_responsibility(organization, actor, reason, ra, None, "responsibility.created")


@transaction.atomic
def responsibility_reassign(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    responsibility_id: str,
    holder_id: str,
) -> ResponsibilityAssignment:
    """Give the responsibility to another active member (or to a first one, if vacant)."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    ra = _locked_responsibility(organization, responsibility_id)
    holder = _holder(organization, holder_id)
    if holder is None:
        raise field_error("holderId", "choose the member who takes it over")
    if holder.id == ra.holder_id:
        raise field_error("holderId", "already holds this responsibility: choose another member")
    before = _ra_fields(ra)
    ra.holder_id = holder.id
    return _save_responsibility(
        organization, actor, reason, ra, before, "responsibility.reassigned"
    )


@transaction.atomic
def responsibility_end(
    *, organization: Organization, actor: Actor, reason: str, responsibility_id: str
) -> ResponsibilityAssignment:
    """End the current holder's assignment: the responsibility stays, vacant, and the assets
    that name it as custodian keep pointing at it until it is reassigned (decision 0013)."""
    require(actor, Permission.WRITE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    ra = _locked_responsibility(organization, responsibility_id)
    if ra.holder_id is None:
        raise Unprocessable(f"nobody holds {ra.responsibility_key}: there is nothing to end")
    before = _ra_fields(ra)
    ra.holder_id = None
    return _save_responsibility(organization, actor, reason, ra, before, "responsibility.ended")
