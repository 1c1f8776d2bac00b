"""Import profiles: create, change, delete (admins: ``CONFIGURE_REGISTER``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import ValidationFailed, field_error
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.imports import schedule
from registra.imports.models import ImportProfile
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, require
from registra_client import ProfileError, profile_from_dict, profile_to_dict


def clean_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The profile as stored (``registra_client.profile_to_dict`` of the parsed profile), or
    ``ValidationFailed`` naming every problem (path as in the TOML file)."""
    try:
        return profile_to_dict(profile_from_dict(dict(definition)))
    except ProfileError as exc:
        issues = [{"path": [path], "message": message} for path, message in exc.issues]
        raise ValidationFailed(f"the profile is not valid: {exc}", issues=issues) from None


@transaction.atomic
def import_profile_create(
    *, organization: Organization, actor: Actor, reason: str, definition: Mapping[str, Any]
) -> ImportProfile:
    """Keep a new profile (its name unique in the organization) and schedule it if it says
    so. Audited as ``import-profile.created``."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    clean = clean_definition(definition)
    at = now()
    profile = ImportProfile(
        organization=organization,
        name=clean["name"],
        definition=clean,
        created_at=at,
        updated_at=at,
    )
    schedule.reschedule(profile, organization)
    _save(profile, force_insert=True)
    _event(profile, actor, reason, "import-profile.created", None, clean)
    return profile


@transaction.atomic
def import_profile_update(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    profile_id: str,
    definition: Mapping[str, Any],
) -> ImportProfile:
    """Replace a profile's definition (a change to nothing writes nothing). Runs already made
    keep the definition they used."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    clean = clean_definition(definition)
    profile = _locked(organization, profile_id)
    if clean == profile.definition:
        return profile
    # Every top-level key of either side: a table the new definition drops is a change too.
    names = sorted(set(profile.definition) | set(clean))
    before = {
        k: profile.definition.get(k) for k in names if profile.definition.get(k) != clean.get(k)
    }
    after = {k: clean.get(k) for k in before}
    profile.name, profile.definition, profile.updated_at = clean["name"], clean, now()
    schedule.reschedule(profile, organization)
    _save(profile)
    _event(profile, actor, reason, "import-profile.updated", before, after)
    return profile


@transaction.atomic
def import_profile_delete(
    *, organization: Organization, actor: Actor, reason: str, profile_id: str
) -> None:
    """Delete a profile; its runs stay in the history under its name."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    profile = _locked(organization, profile_id)
    _event(profile, actor, reason, "import-profile.deleted", profile.definition, None)
    profile.delete()


def _locked(organization: Organization, profile_id: str) -> ImportProfile:
    profiles = ImportProfile.objects.filter(organization=organization, id=profile_id)
    return first_or_404(profiles, f"import profile {profile_id}", lock=True)


def _save(profile: ImportProfile, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            profile.save(**kwargs)
    except IntegrityError:
        raise field_error("name", f"a profile named {profile.name!r} exists already") from None


def _event(
    profile: ImportProfile,
    actor: Actor,
    reason: str,
    action: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    audit.record(
        organization_id=profile.organization_id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="import-profile",
        subject_id=profile.id,
        before=before,
        after=after,
    )
