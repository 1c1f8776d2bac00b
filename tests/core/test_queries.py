"""``core.queries``: one row or a 404 (optionally locked), and ``__in`` lookups split into
chunks the database accepts, on the real test database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registra.assets.models import Asset
from registra.core.errors import NotFound
from registra.core.ids import new_id
from registra.core.queries import IN_CHUNK, first_or_404, rows_in
from tests.cast import Cast, make_asset


@pytest.mark.django_db
def test_first_or_404_returns_the_row_and_names_what_is_missing(cast: Cast) -> None:
    asset = make_asset(cast.org, "tool-1")
    assert first_or_404(Asset.objects.filter(organization=cast.org, id=asset.id), "asset") == asset
    missing = new_id("asset")
    with pytest.raises(NotFound, match=f"^asset {missing} not found$"):
        first_or_404(Asset.objects.filter(organization=cast.org, id=missing), f"asset {missing}")
    # Another organization's row, through a scoped queryset, is a 404 like a missing one.
    with pytest.raises(NotFound):
        first_or_404(Asset.objects.filter(organization=cast.other_org, id=asset.id), "asset")


@pytest.mark.django_db
def test_first_or_404_locks_only_when_asked(cast: Cast) -> None:
    asset = make_asset(cast.org, "tool-1")
    assets = Asset.objects.filter(organization=cast.org, id=asset.id)
    with CaptureQueriesContext(connection) as plain:
        first_or_404(assets, "asset")
    with CaptureQueriesContext(connection) as locked:
        assert first_or_404(assets, "asset", lock=True) == asset
    assert "FOR UPDATE" not in plain.captured_queries[-1]["sql"]
    if connection.features.has_select_for_update:  # PostgreSQL; SQLite locks the whole file
        assert "FOR UPDATE" in locked.captured_queries[-1]["sql"]


@pytest.mark.django_db
def test_rows_in_finds_matches_in_every_chunk(cast: Cast, django_assert_num_queries) -> None:
    found = [make_asset(cast.org, f"tool-{i}") for i in range(4)]
    make_asset(cast.other_org, "tool-0")  # same key, other organization: never returned
    # 2 * IN_CHUNK + 1 values with the real ids at both ends of each chunk: three queries, each
    # within SQLite's parameter limit, and every match is returned.
    wanted = [new_id("asset") for _ in range(2 * IN_CHUNK + 1)]
    for position, asset in zip((0, IN_CHUNK - 1, IN_CHUNK, 2 * IN_CHUNK), found, strict=True):
        wanted[position] = asset.id
    scoped = Asset.objects.filter(organization=cast.org)
    with django_assert_num_queries(3):
        ids = set(rows_in(scoped.values_list("id", flat=True), "id", wanted))
    assert ids == {a.id for a in found}
    keys = rows_in(scoped.values_list("asset_key", "id"), "asset_key", ["tool-0", "tool-9"])
    assert dict(keys) == {"tool-0": found[0].id}


@pytest.mark.django_db
def test_rows_in_with_no_values_runs_no_query(cast: Cast, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert list(rows_in(Asset.objects.filter(organization=cast.org), "id", [])) == []
