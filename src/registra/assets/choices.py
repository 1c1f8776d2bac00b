"""Statuses of assets, custody and readiness, with their allowed transitions beside them."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import models

from registra.core.errors import Unprocessable


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


def check_transition(
    transitions: Mapping[str, frozenset[str]], record: str, current: str, target: str
) -> None:
    """Refuse (``Unprocessable``) a move that ``transitions`` does not allow; ``record`` names
    the record in the message (``asset TOOL-1``), which lists the moves that are allowed."""
    if target not in transitions[current]:
        allowed = ", ".join(sorted(transitions[current])) or f"none: {current} is terminal"
        raise Unprocessable(
            f"{record} can't go from {current} to {target}; allowed from {current}: {allowed}"
        )


# v1 custody subjects are member users.
SUBJECT_MODULE_MEMBERSHIP = "membership"
SUBJECT_TYPE_MEMBER_USER = "member-user"
