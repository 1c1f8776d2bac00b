"""Load a benchmark register through the services: assets, custody and readiness assessments.

Used by ``bench/run.py`` when ``registra demo-data`` is not available; runnable on its own::

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/registra_bench \\
        .venv/bin/python bench/load.py --org bench --assets 100000 --seed 7

Writes go through ``asset_bulk_create``, ``custody_bulk_record`` and ``readiness_bulk_record``
(house rule 1), in batches so memory stays flat; each batch records its audit events.
Creation times are spread over four years with a few exact ties, so the keyset order's
``id`` tie-break is exercised.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

KINDS = ("calibrated-tool", "ground-support-equipment", "lifting-equipment", "vehicle", "it-system")
WORDS = ("torque", "wrench", "jack", "tug", "gauge", "meter", "hoist", "sling", "cart", "laptop")
REASON = "Benchmark data load (bench/load.py)"
START = datetime(2022, 1, 1, tzinfo=UTC)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
    import django

    django.setup()


def _organization(slug: str) -> tuple[Any, list[str], list[str]]:
    """The organization with its crew and responsibilities (created on first use)."""
    from registra.organizations import services
    from registra.organizations.models import Organization
    from registra.organizations.policy import actor_for_system_job

    org = Organization.objects.filter(slug=slug).first()  # a script, not app code
    if org is None:
        org = services.organization_create(
            actor=actor_for_system_job("operator", label="bench load"),
            reason=REASON,
            slug=slug,
            name="Benchmark MRO",
        )
        actor = actor_for_system_job("operator", organization=org, label="bench load")
        services.member_bulk_create_active(
            organization=org,
            actor=actor,
            reason=REASON,
            people=[
                {
                    "email": f"tech{i:02d}@bench.example.test",
                    "fullName": f"Technician {i:02d}",
                    "role": "editor",
                    "externalEmployeeId": f"B-{i:03d}",
                }
                for i in range(24)
            ],
        )
        for box in "ABCD":
            services.responsibility_assign(
                organization=org,
                actor=actor,
                reason=REASON,
                responsibility_key=f"toolbox-{box.lower()}",
                title=f"Custodian of toolbox {box}",
                holder_id=None,
            )
    from registra.organizations.selectors import member_list, responsibility_list

    members = [m.id for m in member_list(org)]
    responsibilities = [r.id for r in responsibility_list(org)]
    return org, members, responsibilities


def _asset_specs(rng: random.Random, first: int, count: int, clock: list[datetime]) -> list[dict]:
    specs = []
    for n in range(first, first + count):
        # About 20 minutes apart on average; one in 40 shares the previous asset's time.
        if rng.random() >= 0.025:
            clock[0] += timedelta(seconds=rng.randint(1, 2400), microseconds=rng.randint(0, 999999))
        kind = rng.choice(KINDS)
        word = rng.choice(WORDS)
        specs.append(
            {
                "asset_key": f"BNC-{n:07d}",
                "asset_kind": kind,
                "display_name": f"{word.title()} {n:07d}",
                "description": f"{kind} {word} kept in hangar {rng.randint(1, 6)}"
                * rng.randint(0, 3),
                "source_kind": "cmms-import" if rng.random() < 0.7 else "manual",
                "status": rng.choice(("active", "active", "active", "inactive", "planned")),
                "created_at": clock[0],
                "asset_snapshot": {"manufacturer": "Acme", "serial": f"SN{n:08d}"},
            }
        )
    return specs


def _custody(rng: random.Random, assets: list[Any], members: list[str]) -> list[dict]:
    records = []
    for a in assets:
        if a.status == "planned":
            continue
        started = a.created_at + timedelta(days=rng.randint(0, 30))
        if rng.random() < 0.3:  # an earlier, ended custody before the current one
            records.append(
                {
                    "asset_id": a.id,
                    "member_id": rng.choice(members),
                    "assignment_key": f"{a.asset_key}-c0",
                    "started_at": started,
                    "ended_at": started + timedelta(days=10),
                    "created_at": started,
                }
            )
            started += timedelta(days=10)
        records.append(
            {
                "asset_id": a.id,
                "member_id": rng.choice(members),
                "assignment_key": f"{a.asset_key}-c1",
                "started_at": started,
                "created_at": started,
            }
        )
    return records


def _assessments(rng: random.Random, assets: list[Any], responsibilities: list[str]) -> list[dict]:
    records = []
    for a in assets:
        performed = a.created_at + timedelta(days=rng.randint(1, 60))
        records.append(
            {
                "asset_id": a.id,
                "readiness_assessment_key": f"{a.asset_key}-r1",
                "assessment_kind": "calibration"
                if a.asset_kind == "calibrated-tool"
                else "inspection",
                "readiness_state": rng.choice(
                    ("ready", "ready", "conditionally-ready", "not-ready")
                ),
                "status": "completed",
                "performed_at": performed,
                "valid_until": performed + timedelta(days=365),
                "performed_by_responsibility_id": rng.choice(responsibilities),
                "created_at": performed,
            }
        )
    return records


def load(*, org_slug: str, assets: int, seed: int, batch: int = 5000) -> None:
    from registra.assets import services
    from registra.assets.models import Asset
    from registra.organizations.policy import actor_for_system_job

    org, members, responsibilities = _organization(org_slug)
    have = Asset.objects.filter(organization=org).count()
    if have:
        print(f"organization {org_slug} already has {have} assets; not loading", flush=True)
        return
    actor = actor_for_system_job("operator", organization=org, label="bench load")
    rng = random.Random(seed)
    clock = [START]
    started = time.monotonic()
    for first in range(0, assets, batch):
        specs = _asset_specs(rng, first, min(batch, assets - first), clock)
        made = services.asset_bulk_create(organization=org, actor=actor, reason=REASON, specs=specs)
        services.custody_bulk_record(
            organization=org, actor=actor, reason=REASON, records=_custody(rng, made, members)
        )
        services.readiness_bulk_record(
            organization=org,
            actor=actor,
            reason=REASON,
            records=_assessments(rng, made, responsibilities),
        )
        done = first + len(made)
        print(f"  loaded {done}/{assets} assets ({time.monotonic() - started:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--org", default="bench")
    p.add_argument("--assets", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    _setup()
    load(org_slug=args.org, assets=args.assets, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
