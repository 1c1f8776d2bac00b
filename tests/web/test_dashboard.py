"""The readiness dashboard: overdue and due-soon counts by kind and by holder, each linking to
the register list filtered to exactly those assets; a chart; pinned query count."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.organizations.models import Member
from tests.cast import REASON, Cast, calibrate, calibrated_overdue, make_asset, operator

pytestmark = pytest.mark.django_db
ROW_KEY = re.compile(r'<td class="key"><a href="[^"]+">([^<]+)</a></td>')


@pytest.fixture
def viewer(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.viewer)


def _register(cast: Cast) -> None:
    overdue = make_asset(cast.org, "TW-OVER")
    calibrated_overdue(cast.org, overdue, days_ago=10)
    soon = make_asset(cast.org, "TW-SOON")
    calibrate(cast.org, soon, days_valid=10)
    calibrate(cast.org, make_asset(cast.org, "TW-OK"), days_valid=300)
    make_asset(cast.org, "TW-NEVER")
    make_asset(cast.org, "GPU-1", asset_kind="ground-power")
    make_asset(cast.org, "TW-OLD", status="inactive")
    for asset in (overdue, soon):
        asset_services.custody_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            asset_id=asset.id,
            member_id=cast.technician.id,
            override_reason="Checked out for the dashboard test" if asset is overdue else None,
        )


def _cells(html: str, label: str) -> list[str]:
    row = re.search(rf'<th scope="row">{label}</th>(.*?)</tr>', html, re.S)
    assert row, label
    return re.findall(r"<td>(?:<a [^>]*>)?(\d+)", row.group(1))


def test_counts_by_kind_and_by_holder(cast: Cast, viewer: Client) -> None:
    _register(cast)
    html = viewer.get("/o/skyline-mro/dashboard").content.decode()
    # active, not ready, overdue, due soon
    assert _cells(html, "calibrated-tool") == ["4", "2", "1", "1"]
    assert _cells(html, "ground-power") == ["1", "0", "0", "0"]
    assert _cells(html, "Tess Technician") == ["2", "1", "1", "1"]
    assert '<svg class="chart" role="img"' in html and '<title id="chart-title">' in html


def test_every_number_opens_the_register_filtered_to_those_assets(
    cast: Cast, viewer: Client
) -> None:
    _register(cast)
    html = viewer.get("/o/skyline-mro/dashboard").content.decode()
    links = dict(
        (m.group(2), m.group(1).replace("&amp;", "&"))
        for m in re.finditer(
            r'<a href="(/o/skyline-mro/\?[^"]+)"><span class="n">\d+</span> ([a-z ]+)</a>', html
        )
    )
    keys = lambda url: ROW_KEY.findall(viewer.get(url).content.decode())  # noqa: E731
    assert keys(links["overdue"]) == ["TW-OVER"]
    assert keys(links["due soon"]) == ["TW-SOON"]
    assert keys(links["not ready"]) == ["TW-NEVER", "TW-OVER"]  # active ones, as counted
    holder = re.search(r'href="(/o/skyline-mro/\?holder=[^"]+readiness=overdue)"', html)
    assert holder and keys(holder.group(1).replace("&amp;", "&")) == ["TW-OVER"]


def test_the_dashboard_runs_a_fixed_number_of_queries(cast: Cast, viewer: Client) -> None:
    _register(cast)
    with CaptureQueriesContext(connection) as queries:
        assert viewer.get("/o/skyline-mro/dashboard").status_code == 200
    # session, member, organization, membership, the counts (by kind and holder in one), the
    # members' names, the import profiles and the import runs waiting for review
    assert len(queries) == 8
