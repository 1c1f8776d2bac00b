"""The retention of runs' plans (decision 0019): the items of ended runs older than the period
are deleted, each run with its own ``import.plan-purged`` event, while the runs, their counts
and the audit chain stay; a plan waiting for review is kept at any age and still applies; a dry
run deletes nothing; roles, tenants and bad periods are refused. Through the service and
the ``registra import purge-plans`` command (the run page: tests/web/test_import_pages.py).
Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from registra.cli import main
from registra.core.audit import verify_chain
from registra.core.errors import Forbidden, ValidationFailed
from registra.core.models import AuditEvent
from registra.imports import services
from registra.imports.models import ImportPlanItem, ImportProfile, ImportRun
from registra.imports.services import import_plans_purge, import_run_apply
from tests.cast import Cast, operator
from tests.imports.helpers import PROFILE, REASON, export, make_profile, row, run

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PURGE_REASON = "Plans of runs older than the retention period"


def _run_at(cast: Cast, profile: ImportProfile, when: datetime, tmp_path, name: str, **kw):
    source = export(tmp_path / f"{name}.csv", [row(f"TW-{name}"), row(f"GA-{name}")])
    with time_machine.travel(when, tick=False):
        return run(cast, profile, source, **kw)


def _items(r: ImportRun) -> int:
    return ImportPlanItem.objects.filter(run=r).count()


def _purge(cast: Cast, days: int = 90, *, apply: bool = True, actor=None):
    with time_machine.travel(NOW, tick=False):
        return import_plans_purge(
            organization=cast.org,
            actor=actor or operator(cast.org),
            reason=PURGE_REASON,
            older_than_days=days,
            apply=apply,
        )


@pytest.fixture
def runs(cast: Cast, tmp_path) -> dict[str, ImportRun]:
    """An applied run and a discarded one from 100 days ago, a plan from 100 days ago still
    waiting for review, and an applied run from 10 days ago."""
    profile = make_profile(cast)
    old = NOW - timedelta(days=100)
    made = {
        "applied": _run_at(cast, profile, old, tmp_path, "1", apply="yes"),
        "discarded": _run_at(cast, profile, old + timedelta(hours=1), tmp_path, "2"),
        "waiting": _run_at(cast, profile, old + timedelta(hours=2), tmp_path, "3"),
        "recent": _run_at(cast, profile, NOW - timedelta(days=10), tmp_path, "4", apply="yes"),
    }
    services.import_run_discard(
        organization=cast.org,
        actor=cast.actor(cast.editor),
        reason=REASON,
        run_id=made["discarded"].id,
    )
    assert all(_items(r) >= 2 for r in made.values())
    return made


def test_the_items_of_ended_runs_past_the_period_are_deleted_and_the_runs_stay(
    cast: Cast, runs: dict[str, ImportRun]
) -> None:
    before = {name: (_items(r), dict(r.counts)) for name, r in runs.items()}
    purged = _purge(cast)
    assert [(p.run_id, p.items) for p in purged] == [
        (runs["applied"].id, before["applied"][0]),
        (runs["discarded"].id, before["discarded"][0]),
    ]
    for name in ("applied", "discarded"):
        r = ImportRun.objects.get(pk=runs[name].id)
        assert _items(r) == 0
        assert r.items_purged_at == NOW
        assert r.counts == before[name][1]  # the run's counts and status remain
        assert r.status == runs[name].status if name == "applied" else r.status == "discarded"
        event = AuditEvent.objects.get(subject_id=r.id, action="import.plan-purged")
        assert event.reason == PURGE_REASON
        assert event.diff["after"] == {
            "itemsPurged": before[name][0],
            "olderThanDays": 90,
            "status": r.status,
        }
    for name in ("waiting", "recent"):  # under review at any age, or within the period
        assert _items(runs[name]) == before[name][0]
        assert ImportRun.objects.get(pk=runs[name].id).items_purged_at is None
    assert verify_chain(cast.org.id).ok
    assert _purge(cast) == []  # nothing is left to purge


def test_a_plan_waiting_for_review_still_applies_after_a_purge(cast: Cast, tmp_path) -> None:
    profile = make_profile(cast)
    old = NOW - timedelta(days=100)
    applied = _run_at(cast, profile, old, tmp_path, "1", apply="yes")
    waiting = _run_at(cast, profile, old + timedelta(hours=1), tmp_path, "2")
    assert [p.run_id for p in _purge(cast)] == [applied.id]
    done = import_run_apply(
        organization=cast.org, actor=cast.actor(cast.editor), reason=REASON, run_id=waiting.id
    )
    assert done.status == "applied"  # the purge's events do not make the plan stale


def test_a_dry_run_counts_and_deletes_nothing(cast: Cast, runs: dict[str, ImportRun]) -> None:
    items = ImportPlanItem.objects.count()
    events = AuditEvent.objects.count()
    counted = _purge(cast, apply=False)
    assert [p.run_id for p in counted] == [runs["applied"].id, runs["discarded"].id]
    assert sum(p.items for p in counted) == _items(runs["applied"]) + _items(runs["discarded"])
    assert ImportPlanItem.objects.count() == items and AuditEvent.objects.count() == events
    assert not ImportRun.objects.filter(items_purged_at__isnull=False).exists()


def test_a_shorter_period_reaches_the_recent_run(cast: Cast, runs: dict[str, ImportRun]) -> None:
    purged = _purge(cast, days=9)
    assert runs["recent"].id in {p.run_id for p in purged}
    assert _items(runs["waiting"]) > 0


def test_roles_tenants_and_bad_periods(cast: Cast, runs: dict[str, ImportRun], tmp_path) -> None:
    other = services.import_profile_create(
        organization=cast.other_org,
        actor=cast.actor(cast.outsider),
        reason=REASON,
        definition=PROFILE,
    )
    source = export(tmp_path / "other.csv", [row("TW-9")])
    with time_machine.travel(NOW - timedelta(days=200), tick=False):
        foreign = services.import_run_start(
            organization=cast.other_org,
            actor=cast.actor(cast.outsider),
            reason=REASON,
            profile_id=other.id,
            source=source,
            trigger="web",
            apply="yes",
        )
    items = ImportPlanItem.objects.count()
    for member in (cast.viewer, cast.auditor):
        with pytest.raises(Forbidden):
            _purge(cast, actor=cast.actor(member))
    for days in (0, -1, 36_501):
        with pytest.raises(ValidationFailed, match="olderThanDays: must be a whole number"):
            _purge(cast, days=days)
    assert ImportPlanItem.objects.count() == items
    assert {p.run_id for p in _purge(cast, actor=cast.actor(cast.editor))} == {
        runs["applied"].id,
        runs["discarded"].id,
    }
    assert _items(foreign) > 0  # another organization's runs are never touched


def test_registra_import_purge_plans(cast: Cast, runs: dict[str, ImportRun], capsys) -> None:
    command = ["import", "purge-plans", "--org", "skyline-mro", "--older-than-days", "90"]
    expected = _items(runs["applied"]) + _items(runs["discarded"])
    with time_machine.travel(NOW, tick=False):
        assert main(command) == 0
        out = capsys.readouterr().out
        assert f"skyline-mro: 2 runs older than 90 days, {expected} plan items to delete" in out
        assert "dry run: nothing was deleted" in out
        assert not ImportRun.objects.filter(items_purged_at__isnull=False).exists()
        assert main([*command, "--apply"]) == 0
        out = capsys.readouterr().out
        assert f"skyline-mro: 2 runs older than 90 days, {expected} plan items deleted" in out
        purged = set(ImportRun.objects.filter(items_purged_at__isnull=False).values_list("id"))
        assert purged == {(runs["applied"].id,), (runs["discarded"].id,)}
        event = AuditEvent.objects.filter(action="import.plan-purged").first()
        assert event is not None and event.actor_id == "system:operator"
        assert main([*command[:-1], "0"]) == 2
    assert (
        "registra: error: --older-than-days: must be a whole number of days from 1 to 36500"
        in capsys.readouterr().err
    )
