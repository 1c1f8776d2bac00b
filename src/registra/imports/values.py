"""How the register's values and the CMMS's are compared: an import field read off an asset,
equality as a reviewer means it, CMMS dates as instants, and the members a holder cell names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from registra.organizations import selectors as org_selectors
from registra.organizations.choices import MembershipStatus
from registra.organizations.models import Organization

# Shared with the drift check, which compares the same values (not part of the SDK's surface).
from registra_client._fields import REGISTER_COLUMNS, same_value

COLUMNS = REGISTER_COLUMNS
SNAPSHOT = ("manufacturer", "model", "serialNumber", "location")


@dataclass(frozen=True)
class Holder:
    """A member a CMMS holder cell may name."""

    id: str
    email: str
    active: bool


def members_by_reference(organization: Organization, match: str) -> dict[str, Holder]:
    """The organization's members by the CMMS's holder reference: lower-cased email or the
    external employee id."""
    found = {}
    # Revoked members first, so that a member who now has a revoked member's employee id
    # (unique among the others only) is the one it names.
    members = org_selectors.member_list(organization)
    for m in sorted(members, key=lambda m: m.status != MembershipStatus.REVOKED):
        ref = m.email.lower() if match == "email" else m.external_employee_id
        if ref:
            found[ref] = Holder(m.id, m.email, m.status == MembershipStatus.ACTIVE)
    return found


def register_value(asset: Any, field: str, zone: ZoneInfo) -> Any:
    """What the register holds for one import field of ``asset``, in the form the mapper
    gives the CMMS's value (dates as dates, numbers as floats)."""
    if field in COLUMNS:
        return getattr(asset, COLUMNS[field])
    if field == "status":
        return asset.status
    if field == "commissionedAt":
        at = asset.commissioned_at
        return at.astimezone(zone).date() if at else None
    if field == "externalId":
        return asset.external_id
    snapshot = asset.asset_snapshot or {}
    if field in SNAPSHOT:
        return snapshot.get(field)
    group, _, name = field.partition(".")
    value = (snapshot.get(group) or {}).get(name)
    if field == "acquisition.date" and isinstance(value, str):
        return _iso_date(value)
    return value


def _iso_date(value: str) -> date | str:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return value


same = same_value


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of ``day`` in the organization's time zone (CMMS dates have no time)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is None or value == "":
        target.pop(name, None)
    else:
        target[name] = value


def plain(value: Any) -> Any:
    """Snapshot values are JSON: dates as ISO text (as the web form writes them)."""
    return value.isoformat() if isinstance(value, date) else value
