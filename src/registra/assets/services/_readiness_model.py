"""Keeping ``AssetReadiness`` true: every service that changes what an asset's readiness
depends on (its status or kind, its assessments, the organization's requirements) calls
``refresh_readiness`` for those assets in its own transaction, and every custody write calls
``refresh_holders``. The computation is the one in
``assets/readiness.py``; this module only stores its result."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

from registra.assets import selectors
from registra.assets.models import Asset, AssetReadiness
from registra.assets.readiness import compute_readiness, next_due
from registra.core import bulk
from registra.core.queries import IN_CHUNK
from registra.organizations.models import Organization

# One chunk's ids fit one lookup (``any_of``: an IN (...) list on SQLite) on every database.
CHUNK = IN_CHUNK


def refresh_readiness(
    organization: Organization, assets: Iterable[Asset], at: datetime, *, new: bool = False
) -> None:
    """Recompute and store the readiness of ``assets`` (all of this organization) at ``at``,
    ``CHUNK`` assets at a time (a requirements change may touch a million). ``new``: assets
    created in this transaction, which have no assessment and no stored readiness yet."""
    stream = iter(assets)
    while chunk := list(itertools.islice(stream, CHUNK)):
        _refresh(organization, chunk, at, new=new)


def _refresh(organization: Organization, assets: list[Asset], at: datetime, *, new: bool) -> None:
    requirements = organization.readiness_requirements or {}
    validity = organization.readiness_validity or {}
    kinds = {k for a in assets for k in requirements.get(a.asset_kind, [])}
    ids = [a.id for a in assets]
    by_asset: dict[str, list[selectors.CompletedAssessment]] = {}
    holders: dict[str, str] = {}
    if not new:
        by_asset = selectors.completed_assessments(organization, ids, kinds)
        holders = selectors.active_holders(organization, ids)
    rows = []
    for a in assets:
        history = by_asset.get(a.id, [])
        readiness = compute_readiness(
            asset_status=a.status,
            asset_kind=a.asset_kind,
            requirements=requirements,
            assessments=history,
            at=at,
            zone=organization.zone,
            validity=validity,
        )
        rows.append(
            AssetReadiness(
                asset_id=a.id,
                organization_id=organization.id,
                state=readiness.state,
                reasons=readiness.reasons,
                next_due=next_due(
                    asset_kind=a.asset_kind,
                    requirements=requirements,
                    assessments=history,
                    at=at,
                    validity=validity,
                ),
                computed_at=at,
                asset_kind=a.asset_kind,
                status=a.status,
                holder_id=holders.get(a.id),
            )
        )
    # Replace rather than upsert: two statements per chunk on both databases, through the fast
    # insert the bulk loaders use.
    if not new:
        AssetReadiness.objects.filter(asset_id__any_of=ids).delete()
    bulk.insert_many(AssetReadiness, rows)


def refresh_holders(organization: Organization, asset_ids: Iterable[str]) -> None:
    """Store who holds each of these assets now (their active primary custody), after a
    custody write: all that a custody change alters of their stored readiness."""
    ids = list(dict.fromkeys(asset_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        holders = selectors.active_holders(organization, chunk)
        rows = [
            AssetReadiness(asset_id=i, organization_id=organization.id, holder_id=holders.get(i))
            for i in chunk
        ]
        bulk.update_many(AssetReadiness, rows, ["holder_id"])
