"""Statuses of assets, custody and readiness, with their allowed transitions beside them."""

from __future__ import annotations

from django.db import models


class AssetStatus(models.TextChoices):
    PLANNED = "planned"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DECOMMISSIONED = "decommissioned"


# planned -> active; active <-> inactive; any non-terminal -> decommissioned (terminal).
ASSET_TRANSITIONS: dict[str, frozenset[str]] = {
    AssetStatus.PLANNED: frozenset({AssetStatus.ACTIVE, AssetStatus.DECOMMISSIONED}),
    AssetStatus.ACTIVE: frozenset({AssetStatus.INACTIVE, AssetStatus.DECOMMISSIONED}),
    AssetStatus.INACTIVE: frozenset({AssetStatus.ACTIVE, AssetStatus.DECOMMISSIONED}),
    AssetStatus.DECOMMISSIONED: frozenset(),
}


class AssignmentKind(models.TextChoices):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    LOAN = "loan"


class CustodyStatus(models.TextChoices):
    ACTIVE = "active"
    ENDED = "ended"


class ReadinessState(models.TextChoices):
    READY = "ready"
    CONDITIONALLY_READY = "conditionally-ready"
    NOT_READY = "not-ready"
    UNKNOWN = "unknown"


class AssessmentStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# scheduled -> in-progress -> completed; scheduled/in-progress -> cancelled.
# An assessment may also be completed straight from scheduled (recorded after the fact).
ASSESSMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    AssessmentStatus.SCHEDULED: frozenset(
        {AssessmentStatus.IN_PROGRESS, AssessmentStatus.COMPLETED, AssessmentStatus.CANCELLED}
    ),
    AssessmentStatus.IN_PROGRESS: frozenset(
        {AssessmentStatus.COMPLETED, AssessmentStatus.CANCELLED}
    ),
    AssessmentStatus.COMPLETED: frozenset(),
    AssessmentStatus.CANCELLED: frozenset(),
}

# v1 custody subjects are member users.
SUBJECT_MODULE_MEMBERSHIP = "membership"
SUBJECT_TYPE_MEMBER_USER = "member-user"
