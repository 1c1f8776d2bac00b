"""Bulk actions from the register list (change status, hand custody to one member, schedule an
assessment): the selected rows or the whole filter, one reason, one event per record, all or
nothing; hidden from and refused to those who may not write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.organizations.models import Member
from tests.cast import (
    Cast,
    active_primary,
    audit_mark,
    audit_since,
    make_asset,
    operator,
    ready_tool,
)

pytestmark = pytest.mark.django_db
URL = "/o/skyline-mro/bulk/status"
CUSTODY_URL = "/o/skyline-mro/bulk/custody"
SCHEDULE_URL = "/o/skyline-mro/bulk/schedule"
WHY = "Hangar 3 closed for refurbishment"


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


def _statuses(ids: list[str]) -> set[str]:
    return set(Asset.objects.filter(id__in=ids).values_list("status", flat=True))


def test_the_selected_rows_change_with_one_event_each(cast: Cast, editor: Client) -> None:
    assets = [make_asset(cast.org, f"H3-{i:02d}") for i in range(25)]
    untouched = make_asset(cast.org, "H4-01")
    page = editor.get("/o/skyline-mro/", {"q": "H3"}).content.decode()
    assert page.count('form="bulk"') == 25 and "Act on several assets" in page
    for button in ("Change status", "Hand custody", "Schedule"):
        assert f">{button}</button>" in page
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [a.id for a in assets],
        "to_status": "inactive",
        "reason": WHY,
        "filter-q": "H3",
        "state": "q=H3",
    }
    response = editor.post(URL, data)
    assert response.status_code == 302 and response["Location"] == "/o/skyline-mro/?q=H3"
    assert _statuses([a.id for a in assets]) == {"inactive"}
    assert _statuses([untouched.id]) == {"active"}
    events = audit_since(cast.org, mark)
    assert len(events) == 25 and {e.reason for e in events} == {WHY}
    assert "25 assets changed to inactive." in editor.get("/o/skyline-mro/?q=H3").content.decode()


def test_the_whole_filter_changes(cast: Cast, editor: Client) -> None:
    gpus = [make_asset(cast.org, f"GPU-{i}", asset_kind="ground-power") for i in range(3)]
    tool = make_asset(cast.org, "TW-1")
    data = {
        "scope": "filter",
        "filter-kind": "ground-power",
        "to_status": "inactive",
        "reason": WHY,
    }
    assert editor.post(URL, data).status_code == 302
    assert _statuses([g.id for g in gpus]) == {"inactive"} and _statuses([tool.id]) == {"active"}


def test_one_asset_that_cannot_move_changes_nothing_and_keeps_the_form(
    cast: Cast, editor: Client
) -> None:
    fine = make_asset(cast.org, "A-1")
    stuck = make_asset(cast.org, "A-2", status="planned")
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [fine.id, stuck.id],
        "to_status": "inactive",
        "reason": WHY,
    }
    response = editor.post(URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was changed" in html
    assert "asset A-2 can&#x27;t go from planned to inactive" in html
    assert WHY in html and f'value="{stuck.id}"' in html  # what was chosen stays
    assert _statuses([fine.id]) == {"active"} and audit_since(cast.org, mark) == []


def test_an_empty_selection_or_a_foreign_asset_is_refused(cast: Cast, editor: Client) -> None:
    mine = make_asset(cast.org, "A-1")
    foreign = make_asset(cast.other_org, "A-1")
    empty = editor.post(URL, {"scope": "selected", "to_status": "inactive", "reason": WHY})
    assert empty.status_code == 400
    assert "select at least one asset" in empty.content.decode()
    data = {
        "scope": "selected",
        "asset": [mine.id, foreign.id],
        "to_status": "inactive",
        "reason": WHY,
    }
    refused = editor.post(URL, data)
    assert (
        refused.status_code == 400 and f"asset {foreign.id} not found" in refused.content.decode()
    )
    assert _statuses([mine.id]) == {"active"} and _statuses([foreign.id]) == {"active"}


@pytest.mark.parametrize("who", ["viewer", "auditor"])
def test_readers_see_no_bulk_controls_and_a_forged_post_is_403(
    cast: Cast, signed_in: Callable[[Member], Client], who: str
) -> None:
    asset = make_asset(cast.org, "A-1")
    client = signed_in(getattr(cast, who))
    page = client.get("/o/skyline-mro/").content.decode()
    assert 'form="bulk"' not in page and "Act on several assets" not in page
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [asset.id],
        "to_status": "inactive",
        "to_member": cast.viewer.id,
        "kind": "calibration",
        "reason": WHY,
    }
    for url in (URL, CUSTODY_URL, SCHEDULE_URL):
        assert client.post(url, data).status_code == 403
    assert _statuses([asset.id]) == {"active"} and audit_since(cast.org, mark) == []
    assert not CustodyAssignment.objects.filter(asset_id=asset.id).exists()
    assert not ReadinessAssessment.objects.filter(asset_id=asset.id).exists()


def test_a_filter_over_the_batch_limit_is_refused_and_changes_nothing(
    cast: Cast, editor: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        make_asset(cast.org, f"A-{i}")
    monkeypatch.setattr(asset_services, "MAX_BATCH", 2)
    data = {"scope": "filter", "filter-q": "A-", "to_status": "inactive", "reason": WHY}
    response = editor.post(URL, data)
    assert response.status_code == 400
    assert "the filter matches more than 2 assets: narrow it" in response.content.decode()
    assert _statuses([a.id for a in Asset.objects.filter(organization=cast.org)]) == {"active"}


def test_selected_assets_are_handed_to_one_member(cast: Cast, editor: Client) -> None:
    tools = [ready_tool(cast.org, f"TB-{i:02d}") for i in range(5)]
    asset_services.custody_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=WHY,
        asset_id=tools[0].id,
        member_id=cast.technician.id,
    )
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [t.id for t in tools],
        "to_member": cast.editor.id,
        "reason": "Toolbox B goes to the night shift lead",
        "state": "q=TB",
    }
    response = editor.post(CUSTODY_URL, data)
    assert response.status_code == 302 and response["Location"] == "/o/skyline-mro/?q=TB"
    assert {active_primary(t).subject_resource_id for t in tools} == {cast.editor.id}  # type: ignore[union-attr]
    actions = [e.action for e in audit_since(cast.org, mark)]
    assert actions == ["custody.ended", "custody.handed-off", *["custody.assigned"] * 4]
    name = cast.editor.full_name
    assert (
        f"5 assets handed to {name} ({cast.editor.email})."
        in editor.get("/o/skyline-mro/?q=TB").content.decode()
    )


def test_a_not_ready_batch_is_refused_listing_why_until_the_override_is_given(
    cast: Cast, editor: Client
) -> None:
    ready = ready_tool(cast.org, "TB-OK")
    never = make_asset(cast.org, "TB-NEVER")  # calibration never completed
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [ready.id, never.id],
        "to_member": cast.technician.id,
        "reason": WHY,
    }
    refused = editor.post(CUSTODY_URL, data)
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Nothing was changed" in html and "1 of these assets is not ready" in html
    assert '<span class="key">TB-NEVER</span>: calibration never completed' in html
    assert "TB-OK</span>" not in html  # the ready one is not listed
    assert 'aria-invalid="true"' in html and "needs an explicit override" in html
    assert WHY in html and f'value="{never.id}"' in html  # the choice is kept
    assert (
        audit_since(cast.org, mark) == []
        and not active_primary(ready)
        and not active_primary(never)
    )

    override = "Shop move: the tools travel together, calibration booked"
    assert editor.post(CUSTODY_URL, {**data, "override_reason": override}).status_code == 302
    assert active_primary(never).assignment_snapshot["overrideReason"] == override  # type: ignore[union-attr]
    assert "overrideReason" not in active_primary(ready).assignment_snapshot  # type: ignore[union-attr]


def test_a_hand_over_needs_a_member_and_keeps_the_batch(cast: Cast, editor: Client) -> None:
    tool = ready_tool(cast.org, "TB-1")
    data = {"scope": "selected", "asset": [tool.id], "to_member": "", "reason": WHY}
    response = editor.post(CUSTODY_URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "This field is required." in html and f'value="{tool.id}"' in html
    foreign = {**data, "to_member": cast.outsider.id}  # another organization's member
    assert editor.post(CUSTODY_URL, foreign).status_code == 400
    assert active_primary(tool) is None


def test_the_whole_filter_gets_an_assessment_scheduled(cast: Cast, editor: Client) -> None:
    gpus = [make_asset(cast.org, f"GPU-{i}", asset_kind="ground-power") for i in range(3)]
    other = make_asset(cast.org, "TW-1")
    mark = audit_mark(cast.org)
    data = {
        "scope": "filter",
        "filter-kind": "ground-power",
        "kind": "",
        "other_kind": "load-test",
        "performer": "",
        "reason": WHY,
    }
    response = editor.post(SCHEDULE_URL, data)
    assert response.status_code == 302
    planned = ReadinessAssessment.objects.filter(organization=cast.org, status="scheduled")
    assert {(r.asset_id, r.assessment_kind) for r in planned} == {(g.id, "load-test") for g in gpus}
    assert not ReadinessAssessment.objects.filter(asset_id=other.id).exists()
    events = audit_since(cast.org, mark)
    assert [e.action for e in events] == ["readiness.scheduled"] * 3
    page = editor.get("/o/skyline-mro/").content.decode()
    assert "3 assessments (load-test) scheduled." in page


def test_a_schedule_without_a_kind_is_refused_keeping_the_selection(
    cast: Cast, editor: Client
) -> None:
    tool = make_asset(cast.org, "TW-1")
    data = {"scope": "selected", "asset": [tool.id], "kind": "", "other_kind": "", "reason": WHY}
    response = editor.post(SCHEDULE_URL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a kind above or type one here." in html and f'value="{tool.id}"' in html
    assert not ReadinessAssessment.objects.filter(asset_id=tool.id).exists()


def test_the_register_page_with_the_bulk_forms_runs_a_fixed_number_of_queries(
    cast: Cast, editor: Client
) -> None:
    for i in range(5):
        make_asset(cast.org, f"Q-{i}")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = editor.get("/o/skyline-mro/", {"q": "Q"})
        assert page.status_code == 200 and "Act on several assets" in page.content.decode()
        return len(queries)

    few = count()
    for i in range(5, 60):
        make_asset(cast.org, f"Q-{i}")
    # The bulk forms reuse the filter's members and responsibilities: as many as a viewer's.
    assert count() == few == 8


@pytest.mark.parametrize("url", [URL, CUSTODY_URL, SCHEDULE_URL])
def test_a_bad_filter_is_refused_and_a_get_goes_back_to_the_list(
    cast: Cast, editor: Client, url: str
) -> None:
    tool = make_asset(cast.org, "TW-1")
    mark = audit_mark(cast.org)
    data = {
        "scope": "filter",
        "filter-status": "lost",  # not a status
        "to_status": "inactive",
        "to_member": cast.editor.id,
        "other_kind": "inspection",
        "reason": WHY,
    }
    refused = editor.post(url, data)
    assert refused.status_code == 400
    assert "the list&#x27;s filter is not valid" in refused.content.decode()
    assert audit_since(cast.org, mark) == [] and _statuses([tool.id]) == {"active"}
    back = editor.get(url)
    assert back.status_code == 302 and back["Location"] == "/o/skyline-mro/"
