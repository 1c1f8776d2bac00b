"""The API's records, each declared once: which model fields it shows, in which order.

One declaration gives the API name of each field (camelCase of the model field), the columns
the readers select (``readers.py``), which of them are timestamps shown as the API's text, and
the response schema in the OpenAPI document (types and nullability from the model field)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from ninja import Schema
from pydantic import Field, create_model

from registra.api.v1.schemas import (
    AssetStatusFilter,
    CustodyStatusFilter,
    PaginationOut,
    ReadinessStateFilter,
)
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.organizations.models import Member, Organization


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True)
class RecordField:
    column: str  # the model field's name or attname
    api: str  # its name in the API
    stamp: bool  # a timestamp, shown as the API's text (timefmt.api_format)


@dataclass(frozen=True)
class Record:
    model: type[models.Model]
    fields: tuple[RecordField, ...]
    schema: type[Schema]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.api for f in self.fields)


def _python_type(field: models.Field, override: Any) -> Any:
    kind = override or (datetime if isinstance(field, models.DateTimeField) else str)
    return kind | None if field.null else kind


def record(
    model: type[models.Model],
    schema_name: str,
    columns: tuple[str, ...],
    *,
    types: dict[str, Any] | None = None,
    docs: dict[str, dict[str, Any]] | None = None,
) -> Record:
    """A record of these model fields; ``types`` narrows a field's schema type (an enum),
    ``docs`` adds its description or examples to the document."""
    fields, schema_fields = [], {}
    for column in columns:
        field = model._meta.get_field(column)
        assert isinstance(field, models.Field), f"{model.__name__}.{column} is not a field"
        api = camel(column)
        is_stamp = isinstance(field, models.DateTimeField)
        fields.append(RecordField(column=column, api=api, stamp=is_stamp))
        kind = _python_type(field, (types or {}).get(column))
        schema_fields[api] = (kind, Field(**(docs or {}).get(column, {})))
    schema = create_model(schema_name, __base__=Schema, **schema_fields)  # type: ignore[call-overload]
    return Record(model=model, fields=tuple(fields), schema=schema)


_CREATED_UPDATED = ("created_at", "updated_at")

ASSET = record(
    Asset,
    "AssetOut",
    (
        "id",
        "asset_key",
        "asset_kind",
        "display_name",
        "description",
        "source_kind",
        "status",
        "custodian_responsibility_id",
        "commissioned_at",
        "decommissioned_at",
        *_CREATED_UPDATED,
    ),
    types={"status": AssetStatusFilter},
    docs={"id": {"examples": ["asset_01HXY3M4Q8Z9V2K7T5R6W1N0PA"]}},
)
CUSTODY = record(
    CustodyAssignment,
    "CustodyAssignmentOut",
    (
        "id",
        "asset_id",
        "assignment_key",
        "assignment_kind",
        "subject_module_key",
        "subject_resource_type",
        "subject_resource_id",
        "status",
        "started_at",
        "ended_at",
        *_CREATED_UPDATED,
    ),
    types={"status": CustodyStatusFilter},
    docs={"assignment_kind": {"description": "primary, secondary or loan"}},
)
ASSESSMENT = record(
    ReadinessAssessment,
    "ReadinessAssessmentOut",
    (
        "id",
        "asset_id",
        "readiness_assessment_key",
        "assessment_kind",
        "readiness_state",
        "status",
        "performed_at",
        "performed_by_responsibility_id",
        *_CREATED_UPDATED,
    ),
    types={"readiness_state": ReadinessStateFilter},
    docs={"status": {"description": "scheduled, in-progress, completed or cancelled"}},
)
# A member as a custody holder: the id custody shows (``subjectResourceId``) and the external
# employee id the CMMS names holders by, and nothing else of the person (no name, email, role or
# status: an ``assets:read`` token needs only the mapping).
CUSTODY_HOLDER = record(
    Member,
    "CustodyHolderOut",
    ("id", "external_employee_id", *_CREATED_UPDATED),
    docs={
        "id": {
            "description": "The member's id, as custody shows it in subjectResourceId",
            "examples": ["user_01HXY3M4Q8Z9V2K7T5R6W1N0PA"],
        },
        "external_employee_id": {
            "description": "The member's employee id in the CMMS",
            "examples": ["E10433"],
        },
    },
)
ORGANIZATION = record(Organization, "OrganizationOut", ("id", "slug", "name", "locale", "timezone"))


class AssetListOut(Schema):
    assets: list[ASSET.schema]  # type: ignore[name-defined]
    pagination: PaginationOut


class AssetOneOut(Schema):
    asset: ASSET.schema  # type: ignore[name-defined]


class CustodyListOut(Schema):
    custodyAssignments: list[CUSTODY.schema]  # type: ignore[name-defined]
    pagination: PaginationOut


class ReadinessListOut(Schema):
    readinessAssessments: list[ASSESSMENT.schema]  # type: ignore[name-defined]
    pagination: PaginationOut


class CustodyHolderListOut(Schema):
    custodyHolders: list[CUSTODY_HOLDER.schema]  # type: ignore[name-defined]
    pagination: PaginationOut


class OrganizationOneOut(Schema):
    organization: ORGANIZATION.schema  # type: ignore[name-defined]
