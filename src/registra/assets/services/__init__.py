"""Writes for assets, custody and readiness. Each service runs in one transaction, checks its
rules and records its audit events (one per record, bulk variants included) in that
transaction. Callers import this package; the modules split it by record type."""

from registra.assets.services._common import (
    ASSET_KEY_RE,
    CREATABLE_STATUSES,
    MAX_BATCH,
    RECORD_KEY_RE,
    assessment_fields,
    asset_fields,
    custody_fields,
)
from registra.assets.services.assets import (
    asset_bulk_change_status,
    asset_bulk_create,
    asset_bulk_decommission,
    asset_bulk_update,
    asset_change_status,
    asset_create,
    asset_decommission,
    asset_spec_problems,
    asset_update,
    asset_values_problems,
)
from registra.assets.services.custody import (
    custody_assign,
    custody_bulk_hand_over,
    custody_bulk_hand_to_holders,
    custody_bulk_record,
    custody_end,
    custody_hand_off,
)
from registra.assets.services.readiness import (
    organization_set_readiness_requirements,
    readiness_bulk_record,
    readiness_bulk_schedule,
    readiness_cancel,
    readiness_complete,
    readiness_requirement_remove,
    readiness_requirement_set,
    readiness_schedule,
    readiness_start,
)

__all__ = [
    "ASSET_KEY_RE",
    "CREATABLE_STATUSES",
    "MAX_BATCH",
    "RECORD_KEY_RE",
    "assessment_fields",
    "asset_bulk_change_status",
    "asset_bulk_create",
    "asset_bulk_decommission",
    "asset_bulk_update",
    "asset_change_status",
    "asset_create",
    "asset_decommission",
    "asset_fields",
    "asset_spec_problems",
    "asset_update",
    "asset_values_problems",
    "custody_assign",
    "custody_bulk_hand_over",
    "custody_bulk_hand_to_holders",
    "custody_bulk_record",
    "custody_end",
    "custody_fields",
    "custody_hand_off",
    "organization_set_readiness_requirements",
    "readiness_bulk_record",
    "readiness_bulk_schedule",
    "readiness_cancel",
    "readiness_complete",
    "readiness_requirement_remove",
    "readiness_requirement_set",
    "readiness_schedule",
    "readiness_start",
]
