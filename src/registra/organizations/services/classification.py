"""Classification level writes: create, edit, remove. An asset's classification snapshot is a
copy of a level taken when the asset was classified, so none of these touches an asset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, ValidationFailed, field_error
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import Severity
from registra.organizations.models import ClassificationLevel, Organization
from registra.organizations.policy import Permission, require

RANK_MIN, RANK_MAX = 0, 1000


def level_fields(level: ClassificationLevel) -> dict[str, Any]:
    """The audited view of a level, and what an asset's classification snapshot copies."""
    return {"label": level.label, "rank": level.rank, "severity": level.severity}


def _rank(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise field_error("rank", "must be a whole number")
    if not RANK_MIN <= value <= RANK_MAX:
        raise field_error("rank", f"must be {RANK_MIN} to {RANK_MAX}")
    return value


def _fill(level: ClassificationLevel, label: str, rank: int, severity: str) -> None:
    """Check every field, reporting every refusal at once, and set them on ``level``."""
    checks: dict[str, Callable[[], Any]] = {
        "label": lambda: validation.text("label", label, min_len=1, max_len=100),
        "rank": lambda: _rank(rank),
        "severity": lambda: validation.choice("severity", severity, Severity.values),
    }
    clean: dict[str, Any] = {}
    errors = []
    for name, check in checks.items():
        try:
            clean[name] = check()
        except ValidationFailed as exc:
            errors.append(exc)
    if errors:
        raise validation.merge(errors)
    level.label, level.rank, level.severity = clean["label"], clean["rank"], clean["severity"]


def _save_unique(organization: Organization, level: ClassificationLevel) -> None:
    """Save ``level``, refusing a label or a rank another level of the organization has."""
    others = ClassificationLevel.objects.filter(organization=organization).exclude(id=level.id)
    for field, value in (("label", level.label), ("rank", level.rank)):
        if others.filter(**{field: value}).exists():
            message = f"another level already has {field} {value!r}"
            raise Conflict(message, issues=[{"path": [field], "message": message}])
    level.updated_at = now()
    try:
        with transaction.atomic():  # a concurrent twin: the unique constraints decide
            level.save()
    except IntegrityError:
        raise Conflict("another level already has this label or rank") from None


def _record(
    organization: Organization,
    actor: Actor,
    reason: str,
    action: str,
    level: ClassificationLevel,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="classification-level",
        subject_id=level.id,
        before=before,
        after=after,
    )


def _locked(organization: Organization, level_id: str) -> ClassificationLevel:
    found = ClassificationLevel.objects.filter(organization=organization, id=level_id)
    return first_or_404(found, f"classification level {level_id}", lock=True)


@transaction.atomic
def classification_level_create(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    label: str,
    rank: int,
    severity: str,
) -> ClassificationLevel:
    """A new level: a label and a rank unique in the organization, a severity
    ``low | moderate | high | critical``."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    level = ClassificationLevel(organization=organization, created_at=now())
    _fill(level, label, rank, severity)
    _save_unique(organization, level)
    _record(
        organization,
        actor,
        reason,
        "classification-level.created",
        level,
        None,
        level_fields(level),
    )
    return level


@transaction.atomic
def classification_level_update(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    level_id: str,
    label: str,
    rank: int,
    severity: str,
) -> ClassificationLevel:
    """Change a level. Assets classified with it keep the copy they hold."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    level = _locked(organization, level_id)
    before = level_fields(level)
    _fill(level, label, rank, severity)
    old, new = audit.changed_fields(before, level_fields(level))
    if not new:
        return level
    _save_unique(organization, level)
    _record(organization, actor, reason, "classification-level.changed", level, old, new)
    return level


@transaction.atomic
def classification_level_remove(
    *, organization: Organization, actor: Actor, reason: str, level_id: str
) -> ClassificationLevel:
    """Remove a level: forms stop offering it; assets classified with it keep their copy."""
    require(actor, Permission.CONFIGURE_REGISTER, organization=organization)
    reason = validation.reason(reason)
    level = _locked(organization, level_id)
    before = level_fields(level)
    _record(organization, actor, reason, "classification-level.removed", level, before, None)
    level.delete()
    return level
