"""Helpers shared by the asset service tests."""

from __future__ import annotations

from registra.assets import services
from registra.organizations import services as org_services
from tests.cast import operator

REASON = "Register maintenance by quality team"


def create(cast, **spec):
    values = {"asset_key": "TW-001", "asset_kind": "calibrated-tool", "display_name": "Wrench"}
    values.update(spec)
    return services.asset_create(
        organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, **values
    )


def responsibility(org, key="toolbox-A"):
    return org_services.responsibility_assign(
        organization=org,
        actor=operator(org),
        reason=REASON,
        responsibility_key=key,
        title=f"Custodian of {key}",
        holder_id=None,
    )


def decommission(cast, asset, actor=None, authorization="DA-2026-0042", **kwargs):
    return services.asset_decommission(
        organization=cast.org,
        actor=actor or operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        disposal_authorization=authorization,
        **kwargs,
    )


def custody(cast, asset, member, kind="primary", key=None):
    return services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        asset_id=asset.id,
        member_id=member.id,
        assignment_kind=kind,
        assignment_key=key,
    )
