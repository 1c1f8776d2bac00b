"""The fixed test cast: two organizations with overlapping asset keys, one member of each role,
a revoked and a pending member, an outsider (the other organization's admin), and service
accounts with and without ``assets:read``. Setup runs as the operator system job.
Tests run on SQLite by default and on PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core.audit import Actor
from registra.core.errors import ValidationFailed
from registra.core.models import AuditChainHead, AuditEvent
from registra.core.timefmt import now
from registra.organizations import services as org_services
from registra.organizations.models import Member, Organization, ServiceAccount
from registra.organizations.policy import actor_for_member, actor_for_system_job

# An audit actor bound to no organization, for tests of ``audit.record`` itself: every service
# refuses it.
SYSTEM = Actor.system("tests")
OPERATOR_ID = "system:operator"
REASON = "Test fixture setup for the cast"


def operator(org: Organization | None = None) -> Actor:
    """The operator system job (what the command line runs as), bound to ``org``."""
    return actor_for_system_job("operator", organization=org, label="tests")


@dataclass
class Credentials:
    account: ServiceAccount
    secret: str


@dataclass
class Cast:
    org: Organization
    other_org: Organization
    admin: Member
    editor: Member
    auditor: Member
    viewer: Member
    technician: Member
    revoked: Member  # was a viewer
    pending: Member  # invited as an editor, not yet joined
    outsider: Member  # the other organization's admin
    reader: Credentials  # assets:read in org
    org_reader: Credentials  # organization:read only, in org
    other_reader: Credentials  # assets:read in other_org

    def actor(self, member: Member) -> Actor:
        return actor_for_member(member)


def _people(org: Organization, prefix: str) -> list[Member]:
    roles = [
        ("admin", "Ada Admin"),
        ("editor", "Eddie Editor"),
        ("auditor", "Audrey Auditor"),
        ("viewer", "Vic Viewer"),
        ("editor", "Tess Technician"),
    ]
    return org_services.member_bulk_create_active(
        organization=org,
        actor=operator(org),
        reason=REASON,
        people=[
            {
                "email": f"{prefix}.{name.split()[0].lower()}@example.test",
                "fullName": name,
                "role": role,
                "externalEmployeeId": f"{prefix.upper()}-{i:03d}",
            }
            for i, (role, name) in enumerate(roles)
        ],
    )


def _creds(org: Organization, name: str, scopes: str) -> Credentials:
    issued = org_services.service_account_create(
        organization=org, actor=operator(org), reason=REASON, name=name, scopes=scopes
    )
    return Credentials(issued.account, issued.secret)


def _revoked(org: Organization) -> Member:
    (former,) = org_services.member_bulk_create_active(
        organization=org,
        actor=operator(org),
        reason=REASON,
        people=[{"email": "sky.rex@example.test", "fullName": "Rex Revoked", "role": "viewer"}],
    )
    return org_services.member_revoke(
        organization=org, actor=operator(org), reason=REASON, member_id=former.id
    )


def _pending(org: Organization) -> Member:
    return org_services.member_invite(
        organization=org,
        actor=operator(org),
        reason=REASON,
        email="sky.penny@example.test",
        role="editor",
        full_name="Penny Pending",
    ).member


def build_cast() -> Cast:
    """Create the cast in the current test database."""
    org = org_services.organization_create(
        actor=operator(),
        reason=REASON,
        slug="skyline-mro",
        name="Skyline MRO",
        timezone="Europe/Berlin",
        readiness_requirements={"calibrated-tool": ["calibration"]},
    )
    other = org_services.organization_create(
        actor=operator(), reason=REASON, slug="harbor-aero", name="Harbor Aero"
    )
    admin, editor, auditor, viewer, technician = _people(org, "sky")
    outsider = _people(other, "harbor")[0]
    revoked, pending = _revoked(org), _pending(org)
    return Cast(
        org=org,
        other_org=other,
        admin=admin,
        editor=editor,
        auditor=auditor,
        viewer=viewer,
        technician=technician,
        revoked=revoked,
        pending=pending,
        outsider=outsider,
        reader=_creds(org, "Drift check", "assets:read"),
        org_reader=_creds(org, "Org lookup", "organization:read"),
        other_reader=_creds(other, "Harbor drift", "assets:read"),
    )


def make_asset(org: Organization, key: str, **overrides: Any) -> Asset:
    """An active calibrated tool unless overridden."""
    spec: dict[str, Any] = {
        "asset_key": key,
        "asset_kind": "calibrated-tool",
        "display_name": f"Tool {key}",
        "status": "active",
    }
    spec.update(overrides)
    return asset_services.asset_create(organization=org, actor=operator(org), reason=REASON, **spec)


def calibrate(
    org: Organization, asset: Asset, *, days_valid: int = 180, state: str = "ready"
) -> ReadinessAssessment:
    """A completed calibration performed yesterday, valid for ``days_valid`` days."""
    r = asset_services.readiness_schedule(
        organization=org,
        actor=operator(org),
        reason=REASON,
        asset_id=asset.id,
        assessment_kind="calibration",
    )
    performed = now() - timedelta(days=1)
    return asset_services.readiness_complete(
        organization=org,
        actor=operator(org),
        reason=REASON,
        assessment_id=r.id,
        readiness_state=state,
        performed_at=performed,
        valid_until=performed + timedelta(days=days_valid),
    )


def calibrated_overdue(org: Organization, asset: Asset, *, days_ago: int) -> ReadinessAssessment:
    """A calibration recorded as completed and ready 30 days before it fell due, ``days_ago``
    days ago: the asset is overdue."""
    due = now() - timedelta(days=days_ago)
    return asset_services.readiness_bulk_record(
        organization=org,
        actor=operator(org),
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": f"{asset.asset_key}-cal-overdue",
                "assessment_kind": "calibration",
                "readiness_state": "ready",
                "status": "completed",
                "performed_at": due - timedelta(days=30),
                "valid_until": due,
            }
        ],
    )[0]


def calibrated_without_due_date(
    org: Organization, asset: Asset, performed: datetime
) -> ReadinessAssessment:
    """A completed, ready calibration performed at ``performed`` whose record has no due date
    (only a validity period makes it lapse)."""
    return asset_services.readiness_bulk_record(
        organization=org,
        actor=operator(org),
        reason=REASON,
        records=[
            {
                "asset_id": asset.id,
                "readiness_assessment_key": f"{asset.asset_key}-cal",
                "assessment_kind": "calibration",
                "readiness_state": "ready",
                "status": "completed",
                "performed_at": performed,
            }
        ],
    )[0]


def ready_tool(org: Organization, key: str) -> Asset:
    """An active calibrated tool with a valid calibration: ready."""
    asset = make_asset(org, key)
    calibrate(org, asset)
    return asset


def active_primary(asset: Asset) -> CustodyAssignment | None:
    """The asset's active primary custody, if any."""
    return CustodyAssignment.objects.filter(
        asset_id=asset.id, status="active", assignment_kind="primary"
    ).first()


def org_day(org: Organization, moment: datetime) -> str:
    """The day of ``moment`` in the organization's timezone, as the reasons and pages name it
    (a UTC day differs from it for an hour or more around midnight)."""
    return moment.astimezone(org.zone).date().isoformat()


def audit_mark(org: Organization) -> int:
    """The organization's last audit sequence number, to find the events a step writes."""
    head = AuditChainHead.objects.filter(organization_id=org.id).first()
    return head.seq if head else 0


def audit_since(org: Organization, mark: int) -> list[AuditEvent]:
    """The organization's audit events written after ``mark``, in order."""
    return list(AuditEvent.objects.filter(organization_id=org.id, seq__gt=mark).order_by("seq"))


def issue_paths(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[list[str]]:
    """The field paths a validation error names."""
    return [issue["path"] for issue in exc.value.issues or []]
