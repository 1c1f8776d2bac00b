"""``core.queries``: one row or a 404 (optionally locked), and lookups of the rows whose field
is one of many values, split into chunks the database accepts, on the real test database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registra.assets.models import Asset, AssetReadiness
from registra.core.errors import NotFound
from registra.core.ids import new_id
from registra.core.queries import ARRAY_CHUNK, IN_CHUNK, first_or_404, rows_in
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
    # 2 chunks + 1 value with the real ids at both ends of each chunk: three queries (on SQLite
    # each within its parameter limit, on PostgreSQL one array each), every match returned.
    chunk = ARRAY_CHUNK if connection.vendor == "postgresql" else IN_CHUNK
    wanted = [new_id("asset") for _ in range(2 * chunk + 1)]
    for position, asset in zip((0, chunk - 1, chunk, 2 * chunk), found, strict=True):
        wanted[position] = asset.id
    scoped = Asset.objects.filter(organization=cast.org)
    with django_assert_num_queries(3) as queries:
        ids = set(rows_in(scoped.values_list("id", flat=True), "id", wanted))
    assert ids == {a.id for a in found}
    if connection.vendor == "postgresql":
        assert all("= ANY(" in q["sql"] for q in queries.captured_queries)
    keys = rows_in(scoped.values_list("asset_key", "id"), "asset_key", ["tool-0", "tool-9"])
    assert dict(keys) == {"tool-0": found[0].id}


# Values an array literal must quote, escape or could mistake for a NULL or a separator.
AWKWARD_NAMES = [
    "NULL",
    "null",
    "a,b",
    'say "hi"',
    "back\\slash",
    "{braced}",
    "two  spaces",
    "it's",
    "Ünïcode ✓",
]


@pytest.mark.django_db
def test_rows_in_matches_awkward_values_exactly(cast: Cast) -> None:
    assets = {
        name: make_asset(cast.org, f"tool-{i}", display_name=name)
        for i, name in enumerate(AWKWARD_NAMES)
    }
    make_asset(cast.org, "tool-plain", display_name="a")  # not "a,b": values match exactly
    scoped = Asset.objects.filter(organization=cast.org).values_list("display_name", "id")
    found = dict(rows_in(scoped, "display_name", [*AWKWARD_NAMES, "missing", ""]))
    assert found == {name: a.id for name, a in assets.items()}
    # Through a foreign key too (the custody and readiness selectors' asset_id).
    ids = [a.id for a in assets.values()]
    readiness = AssetReadiness.objects.values_list("asset_id", flat=True)
    assert set(rows_in(readiness, "asset_id", [*ids, "asset_missing"])) == set(ids)


@pytest.mark.django_db
def test_rows_in_with_no_values_runs_no_query(cast: Cast, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert list(rows_in(Asset.objects.filter(organization=cast.org), "id", [])) == []
