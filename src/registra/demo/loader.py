"""Load a realistic aviation-maintenance register (SPEC section 1's reference scenario).

Everything is written through the service layer's bulk functions, so every record gets its
audit event and its rules are checked; ``demo.plan`` decides what to write, this module only
maps plans to service calls, in batches of ``BATCH_ASSETS`` assets per transaction.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from django.db import transaction

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.core import bulk
from registra.core.errors import NotFound, field_error
from registra.core.timefmt import now
from registra.demo.catalogue import READINESS_REQUIREMENTS, RESPONSIBILITIES
from registra.demo.plan import AssessmentPlan, AssetPlan, CustodyPlan, RegisterPlanner, crew
from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.models import Organization
from registra.organizations.policy import actor_for_system_job

BATCH_ASSETS = 5000
ACRONYMS = {"mro", "gse", "it", "ag", "gmbh", "llc", "uk", "us", "eu"}


def load_demo(
    *,
    org_slug: str,
    assets: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Load ``assets`` demo assets into organization ``org_slug``; return a one-line summary.

    The organization is created when missing (name from the slug, Europe/Berlin, readiness
    requirements per asset kind); an existing one is used as it is. Then a crew of 48 members,
    the responsibilities (toolbox custodians, calibration lab, ...) and the assets with their
    custody histories and readiness assessments, ``BATCH_ASSETS`` assets per transaction.

    The same seed gives the same keys, names, statuses and counts (ids and timestamps differ:
    times are relative to the load). Asset number *i* depends only on the seed and *i*.

    Running again never fails on existing data and never changes it: members (by email),
    responsibilities (by key) and assets (by key) that already exist are skipped, and an
    asset's custody and assessments are written only together with the asset itself (one
    transaction per batch). So a repeated run adds nothing, a run with a larger ``assets``
    appends the missing ones, and a run with another seed skips the keys already taken (asset
    keys are numbered, ``TW-000001``...). The summary says how many were skipped.
    """
    if assets < 0:
        raise field_error("assets", "must not be negative")
    say = progress or _quiet
    started = time.monotonic()
    reason = f"Demo data: aviation-maintenance register (seed {seed})"
    org = _organization(org_slug, reason, say)
    members, new_members = _crew(org, reason)
    responsibilities, new_ras = _responsibilities(org, members, reason)
    say(f"{org.slug}: {new_members} members and {new_ras} responsibilities added")
    planner = RegisterPlanner(seed=seed, anchor=now().replace(microsecond=0), slug=org.slug)
    totals: Counter[str] = Counter()
    with bulk.large_writes():
        for first in range(0, assets, BATCH_ASSETS):
            plans = [planner.asset(i) for i in range(first, min(first + BATCH_ASSETS, assets))]
            taken = selectors.asset_keys_taken(org, [p.key for p in plans])
            fresh = [p for p in plans if p.key not in taken]
            totals["skipped"] += len(plans) - len(fresh)
            if fresh:
                with transaction.atomic():
                    totals.update(_load_batch(org, fresh, members, responsibilities, reason))
            say(
                f"{first + len(plans)}/{assets} assets ({totals['assets']} new, "
                f"{totals['custody']} custody, {totals['assessments']} assessments) "
                f"after {time.monotonic() - started:.1f}s"
            )
    return _summary(org, totals, time.monotonic() - started)


def _quiet(message: str) -> None:
    pass


def organization_name(slug: str) -> str:
    """A display name from a slug: ``skyline-mro`` -> ``Skyline MRO``."""
    return " ".join(w.upper() if w in ACRONYMS else w.capitalize() for w in slug.split("-"))


def _organization(slug: str, reason: str, say: Callable[[str], None]) -> Organization:
    try:
        return org_selectors.organization_get_by_slug(slug)
    except NotFound:
        pass
    org = org_services.organization_create(
        actor=actor_for_system_job("demo-data"),
        reason=reason,
        slug=slug,
        name=organization_name(slug),
        timezone="Europe/Berlin",
        locale="en-GB",
        readiness_requirements=READINESS_REQUIREMENTS,
    )
    say(f"created organization {org.slug} ({org.name}, {org.id})")
    return org


def _crew(org: Organization, reason: str) -> tuple[dict[str, str], int]:
    """``{email: member id}`` for the demo crew, creating the members that are missing."""
    existing = {m.email: m.id for m in org_selectors.member_list(org)}
    people = crew(org.slug)
    missing = [
        {
            "email": p.email,
            "fullName": p.full_name,
            "role": p.role,
            "externalEmployeeId": p.external_employee_id,
        }
        for p in people
        if p.email not in existing
    ]
    if missing:
        created = org_services.member_bulk_create_active(
            organization=org,
            actor=actor_for_system_job("demo-data", organization=org),
            reason=reason,
            people=missing,
        )
        existing.update({m.email: m.id for m in created})
    return {p.email: existing[p.email] for p in people}, len(missing)


def _responsibilities(
    org: Organization, members: Mapping[str, str], reason: str
) -> tuple[dict[str, str], int]:
    """``{responsibility key: id}``, creating the demo responsibilities that are missing."""
    existing = {ra.responsibility_key: ra.id for ra in org_selectors.responsibility_list(org)}
    by_title = {p.title: members[p.email] for p in crew(org.slug)}
    added = 0
    for r in RESPONSIBILITIES:
        if r.key in existing:
            continue
        ra = org_services.responsibility_assign(
            organization=org,
            actor=actor_for_system_job("demo-data", organization=org),
            reason=reason,
            responsibility_key=r.key,
            title=r.title,
            holder_id=by_title[r.holder] if r.holder else None,
            description=r.description,
        )
        existing[r.key], added = ra.id, added + 1
    return existing, added


def _load_batch(
    org: Organization,
    plans: list[AssetPlan],
    members: Mapping[str, str],
    responsibilities: Mapping[str, str],
    reason: str,
) -> Counter[str]:
    """Assets, then their custody and assessments, then the decommissioning (which ends the
    custody still active at that time), all in the caller's transaction."""
    created = asset_services.asset_bulk_create(
        organization=org,
        actor=actor_for_system_job("demo-data", organization=org),
        reason=reason,
        specs=[_asset_spec(p, responsibilities) for p in plans],
    )
    ids = {a.asset_key: a.id for a in created}
    custody = [_custody_record(c, ids[p.key], members) for p in plans for c in p.custody]
    if custody:
        asset_services.custody_bulk_record(
            organization=org,
            actor=actor_for_system_job("demo-data", organization=org),
            reason=reason,
            records=custody,
        )
    assessments = [
        _assessment_record(r, ids[p.key], responsibilities) for p in plans for r in p.assessments
    ]
    if assessments:
        asset_services.readiness_bulk_record(
            organization=org,
            actor=actor_for_system_job("demo-data", organization=org),
            reason=reason,
            records=assessments,
        )
    retired = [_decommission(p, ids[p.key]) for p in plans if p.decommission]
    if retired:
        asset_services.asset_bulk_decommission(
            organization=org,
            actor=actor_for_system_job("demo-data", organization=org),
            reason=reason,
            decommissions=retired,
        )
    counts = Counter(f"status:{p.final_status}" for p in plans)
    counts.update(assets=len(created), custody=len(custody), assessments=len(assessments))
    return counts


def _asset_spec(plan: AssetPlan, responsibilities: Mapping[str, str]) -> dict[str, Any]:
    custodian = responsibilities.get(plan.custodian) if plan.custodian else None
    return {**plan.spec, "custodian_responsibility_id": custodian}


def _custody_record(c: CustodyPlan, asset_id: str, members: Mapping[str, str]) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "member_id": members[c.holder],
        "assignment_kind": c.kind,
        "assignment_key": c.key,
        "started_at": c.started_at,
        "ended_at": c.ended_at,
        "snapshot": c.snapshot,
        "created_at": c.started_at,
        "updated_at": c.ended_at or c.started_at,
    }


def _assessment_record(
    r: AssessmentPlan, asset_id: str, responsibilities: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "readiness_assessment_key": r.key,
        "assessment_kind": r.kind,
        "readiness_state": r.state,
        "status": r.status,
        "performed_at": r.performed_at,
        "valid_until": r.valid_until,
        "performed_by_responsibility_id": responsibilities[r.performed_by]
        if r.performed_by
        else None,
        "posture_snapshot": r.posture,
        "evidence_snapshot": r.evidence,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


def _decommission(plan: AssetPlan, asset_id: str) -> dict[str, Any]:
    assert plan.decommission is not None
    when, authorization = plan.decommission
    return {
        "asset_id": asset_id,
        "decommissioned_at": when,
        "disposal_authorization": authorization,
    }


def _summary(org: Organization, totals: Counter[str], seconds: float) -> str:
    statuses = ", ".join(
        f"{totals[f'status:{s}']} {s}" for s in ("active", "inactive", "planned", "decommissioned")
    )
    return (
        f"Demo register {org.slug}: {totals['assets']} assets loaded ({statuses}), "
        f"{totals['custody']} custody assignments, {totals['assessments']} readiness "
        f"assessments, {totals['skipped']} assets already present skipped, in {seconds:.1f}s"
    )
