"""The API's records as typed, immutable objects with parsed timestamps.

Each is built from the API's JSON by ``from_api``; fields the client does not know are ignored
(SPEC section 4: clients tolerate new fields), so a newer server never breaks an older client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

R = TypeVar("R", bound="_Record")


def parse_timestamp(value: Any) -> datetime | None:
    """An API timestamp (``2026-05-25T14:08:33.000Z``) as an aware UTC datetime; None stays
    None."""
    if value is None:
        return None
    return datetime.fromisoformat(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


class _Record:
    """Shared construction: each field is read from its camelCase name in the API's JSON;
    the ``datetime`` fields are parsed."""

    __slots__ = ()

    @classmethod
    def from_api(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record of one JSON object of the API."""
        reads = cls.__dict__.get("_reads_cache")
        if reads is None:
            reads = tuple(
                (f.name, _camel(f.name), "datetime" in str(f.type))
                for f in fields(cls)  # type: ignore[arg-type]
            )
            type.__setattr__(cls, "_reads_cache", reads)
        get = data.get
        values = {
            name: (parse_timestamp(get(api)) if stamp else get(api)) for name, api, stamp in reads
        }
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Asset(_Record):
    """An asset of the register (snapshots are not part of API v1)."""

    id: str
    asset_key: str
    asset_kind: str
    display_name: str
    description: str
    source_kind: str
    status: str
    custodian_responsibility_id: str | None
    commissioned_at: datetime | None
    decommissioned_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CustodyAssignment(_Record):
    """Who holds an asset: ``subject_resource_id`` is the member's ``user_...`` id."""

    id: str
    asset_id: str
    assignment_key: str
    assignment_kind: str
    subject_module_key: str
    subject_resource_type: str
    subject_resource_id: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReadinessAssessment(_Record):
    """One calibration, inspection, check... of an asset, and its readiness state."""

    id: str
    asset_id: str
    readiness_assessment_key: str
    assessment_kind: str
    readiness_state: str
    status: str
    performed_at: datetime | None
    performed_by_responsibility_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CustodyHolder(_Record):
    """A member who can hold custody, by the employee id the CMMS knows them by."""

    id: str
    external_employee_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Organization(_Record):
    """The service account's organization."""

    id: str
    slug: str
    name: str
    locale: str
    timezone: str
