"""Bulk status change from the register list: the selected rows or the whole filter, one reason,
one event per asset, all or nothing; hidden from and refused to those who may not write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from registra.assets.models import Asset
from registra.organizations.models import Member
from tests.cast import Cast, audit_mark, audit_since, make_asset

pytestmark = pytest.mark.django_db
URL = "/o/skyline-mro/bulk/status"
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
    assert page.count('form="bulk"') == 25 and "Change the status of several assets" in page
    mark = audit_mark(cast.org)
    data = {
        "scope": "selected",
        "asset": [a.id for a in assets],
        "to_status": "inactive",
        "reason": WHY,
        "q": "H3",
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
    data = {"scope": "filter", "kind": "ground-power", "to_status": "inactive", "reason": WHY}
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
    assert "Nothing was changed." in html
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
    assert 'form="bulk"' not in page and "Change the status of several assets" not in page
    mark = audit_mark(cast.org)
    data = {"scope": "selected", "asset": [asset.id], "to_status": "inactive", "reason": WHY}
    assert client.post(URL, data).status_code == 403
    assert _statuses([asset.id]) == {"active"} and audit_since(cast.org, mark) == []
