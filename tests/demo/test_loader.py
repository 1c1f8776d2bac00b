"""The demo register (``registra demo-data``): deterministic for a seed, covering every status,
consistent with the register's rules, fully audited, and safe to run again.

Loads are small (``N`` assets) so the suite stays fast; the 100,000-asset load time is measured
by hand (``time registra demo-data --assets 100000``) because it takes about a minute."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db.models import Count

from registra.assets import selectors
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core.audit import verify_chain
from registra.core.models import AuditChainHead, AuditEvent
from registra.core.timefmt import now
from registra.demo.loader import load_demo, organization_name
from registra.demo.plan import crew
from registra.organizations.models import Member, Organization, ResponsibilityAssignment

N = 300
SEED = 7


def _load(slug: str = "skyline-mro", assets: int = N, seed: int = SEED) -> Organization:
    messages: list[str] = []
    summary = load_demo(org_slug=slug, assets=assets, seed=seed, progress=messages.append)
    assert "\n" not in summary and summary.startswith(f"Demo register {slug}:")
    assert messages, "progress is reported"
    return Organization.objects.get(slug=slug)


def _register(org: Organization) -> dict[str, list[tuple]]:
    """Everything a seed decides (ids and timestamps aside), in a comparable form."""
    return {
        "assets": sorted(
            Asset.objects.filter(organization=org).values_list(
                "asset_key", "asset_kind", "display_name", "status", "source_kind"
            )
        ),
        "custody": sorted(
            CustodyAssignment.objects.filter(organization=org).values_list(
                "assignment_key", "assignment_kind", "status"
            )
        ),
        "assessments": sorted(
            ReadinessAssessment.objects.filter(organization=org).values_list(
                "readiness_assessment_key", "assessment_kind", "status", "readiness_state"
            )
        ),
        "members": sorted(
            Member.objects.filter(organization=org).values_list(
                "full_name", "role", "external_employee_id"
            )
        ),
        "responsibilities": sorted(
            ResponsibilityAssignment.objects.filter(organization=org).values_list(
                "responsibility_key", "title"
            )
        ),
    }


@pytest.fixture
def org(db: None) -> Organization:
    return _load()


def test_the_same_seed_gives_the_same_register(org):
    again = _load("harbor-aero")
    other_seed = _load("sky-test", seed=SEED + 1)

    assert _register(again) == _register(org)
    assert _register(other_seed)["assets"] != _register(org)["assets"]
    assert Asset.objects.filter(organization=org).count() == N


def test_the_organization_and_its_people_are_created(org):
    assert (org.name, org.timezone) == ("Skyline MRO", "Europe/Berlin")
    assert org.readiness_requirements["calibrated-tool"] == ["calibration"]
    assert organization_name("harbor-aero") == "Harbor Aero"
    members = Member.objects.filter(organization=org)
    assert 30 <= members.count() <= 60
    assert {m.role for m in members} == {"admin", "editor", "auditor", "viewer"}
    assert all(m.external_employee_id and m.status == "active" for m in members)
    toolbox = ResponsibilityAssignment.objects.get(organization=org, responsibility_key="toolbox-c")
    assert toolbox.title == "Custodian of toolbox C" and toolbox.holder_id is not None


def test_every_status_kind_and_source_is_present(org):
    assets = Asset.objects.filter(organization=org)
    assert set(assets.values_list("status", flat=True)) == {
        "planned",
        "active",
        "inactive",
        "decommissioned",
    }
    kinds = set(assets.values_list("asset_kind", flat=True))
    assert {"calibrated-tool", "ground-support-equipment", "it-system"} <= kinds
    sources = Counter(assets.values_list("source_kind", flat=True))
    assert sources.most_common(1)[0][0] == "cmms-import"


def test_snapshots_look_like_a_real_register(org):
    wrench = Asset.objects.filter(organization=org, asset_key__startswith="TW-").first()
    assert wrench is not None
    snap = wrench.asset_snapshot
    assert {"manufacturer", "model", "serialNumber", "location", "specifications"} <= set(snap)
    assert wrench.classification_snapshot["level"]["severity"] == "critical"
    assert wrench.source_ref_snapshot["sourceSystem"] == "AMOS"
    assert (
        wrench.custodian_responsibility_id is None
        or ResponsibilityAssignment.objects.filter(
            id=wrench.custodian_responsibility_id, responsibility_key__startswith="toolbox-"
        ).exists()
    )


def test_creation_times_spread_over_years_newest_first_is_meaningful(org):
    created = list(Asset.objects.filter(organization=org).values_list("created_at", flat=True))
    assert max(created) - min(created) > timedelta(days=3 * 365)
    assert max(created) <= now()
    assert len(set(created)) == len(created)


def test_decommissioned_assets_are_complete_and_hold_no_custody(org):
    retired = Asset.objects.filter(organization=org, status="decommissioned")
    assert retired.exists()
    for asset in retired:
        assert asset.decommissioned_at is not None and asset.disposal_authorization
        assert asset.decommissioned_by_id == "system:demo-data"
    assert not CustodyAssignment.objects.filter(
        organization=org, asset__status="decommissioned", status="active"
    ).exists()
    assert not Asset.objects.filter(organization=org, decommissioned_at__isnull=False).exclude(
        status="decommissioned"
    )


def test_custody_histories_are_consistent(org):
    rows = CustodyAssignment.objects.filter(organization=org)
    per_asset = (
        rows.filter(status="active", assignment_kind="primary")
        .values("asset_id")
        .annotate(n=Count("id"))
    )
    assert per_asset and max(r["n"] for r in per_asset) == 1
    primaries: dict[str, list[CustodyAssignment]] = defaultdict(list)
    for c in rows.filter(assignment_kind="primary").order_by("started_at"):
        assert c.ended_at is None or c.ended_at >= c.started_at
        primaries[c.asset_id].append(c)
    handoffs = 0
    for history in primaries.values():
        for before, after in pairwise(history):
            assert before.ended_at is not None and before.ended_at <= after.started_at
            handoffs += before.ended_at == after.started_at
    assert handoffs > 0, "some handoffs end one holder and start the next at the same instant"
    holders = set(rows.values_list("subject_resource_id", flat=True))
    assert holders <= set(Member.objects.filter(organization=org).values_list("id", flat=True))


def test_readiness_includes_overdue_failed_and_scheduled(org):
    rows = ReadinessAssessment.objects.filter(organization=org)
    assert rows.filter(status="completed", readiness_state="not-ready").exists()
    assert rows.filter(status="scheduled").exists()
    assert not rows.filter(status="completed", performed_at__isnull=True).exists()
    assert not rows.filter(performed_at__gt=now()).exists()
    reasons = [
        reason
        for asset in Asset.objects.filter(organization=org, status="active")
        for reason in selectors.asset_readiness(org, asset, at=now()).reasons
    ]
    assert any("overdue since" in r for r in reasons)
    assert any("failed on" in r for r in reasons)
    ready = [
        a
        for a in Asset.objects.filter(organization=org, status="active")
        if selectors.asset_readiness(org, a, at=now()).is_ready
    ]
    assert ready, "most active assets are ready"


def test_every_record_is_audited_and_the_chain_verifies(org):
    events = AuditEvent.objects.filter(organization_id=org.id)
    by_action: dict[str, set[str]] = defaultdict(set)
    for action, subject in events.values_list("action", "subject_id"):
        by_action[action].add(subject)
    assets = Asset.objects.filter(organization=org)
    assert set(assets.values_list("id", flat=True)) == by_action["asset.created"]
    assert (
        set(assets.filter(status="decommissioned").values_list("id", flat=True))
        == by_action["asset.decommissioned"]
    )
    custody = CustodyAssignment.objects.filter(organization=org)
    assert set(custody.values_list("id", flat=True)) == by_action["custody.recorded"]
    assessments = ReadinessAssessment.objects.filter(organization=org)
    assert set(assessments.values_list("id", flat=True)) == by_action["readiness.recorded"]
    assert len(by_action["member.created"]) == len(crew(org.slug))
    assert {e.actor_id for e in events} == {"system:demo-data"}
    report = verify_chain(org.id)
    assert report.ok, report.problem
    assert report.checked == events.count()


def test_running_again_adds_nothing_and_changes_nothing(org):
    before = _register(org)
    head = AuditChainHead.objects.get(organization_id=org.id).seq
    updated = dict(Asset.objects.filter(organization=org).values_list("id", "updated_at"))

    summary = load_demo(org_slug=org.slug, assets=N, seed=SEED)

    assert ": 0 assets loaded" in summary and f"{N} assets already present skipped" in summary
    assert _register(org) == before
    assert AuditChainHead.objects.get(organization_id=org.id).seq == head
    assert dict(Asset.objects.filter(organization=org).values_list("id", "updated_at")) == updated


def test_a_larger_run_appends_only_the_missing_assets(org):
    before = _register(org)["assets"]

    summary = load_demo(org_slug=org.slug, assets=N + 40, seed=SEED)

    assert ": 40 assets loaded" in summary
    after = _register(org)["assets"]
    assert len(after) == N + 40 and set(before) <= set(after)
    fresh = _load("harbor-aero", assets=N + 40)
    assert _register(fresh)["assets"] == after, "asset i depends only on the seed and i"
    assert verify_chain(org.id).ok


def test_an_existing_organization_is_used_as_it_is(db):
    from registra.organizations import services as org_services
    from tests.cast import operator

    existing = org_services.organization_create(
        actor=operator(), reason="Created before the demo", slug="line-ops", name="Line Ops GmbH"
    )

    org = _load("line-ops", assets=20)

    assert (org.id, org.name, org.timezone) == (existing.id, "Line Ops GmbH", "UTC")
    assert Asset.objects.filter(organization=org).count() == 20
    assert verify_chain(org.id).ok
