"""``core.sql.stream``: a ``values_list`` queryset's rows exactly as ``iterator()`` gives them,
read on PostgreSQL as one streamed statement, in chunks, that can stop early; on the real test
database."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection
from django.db.models.functions import Lower
from psycopg.pq import TransactionStatus

from registra.assets.models import Asset
from registra.core import sql
from tests.cast import Cast, make_asset

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the streamed statement is PostgreSQL's"
)


@pytest.mark.django_db
def test_stream_gives_the_rows_iterator_gives(cast: Cast) -> None:
    for i in range(5):
        make_asset(
            cast.org,
            f"tool-{i}",
            description=f"Torque wrench {4 - i}",
            asset_snapshot={"serialNumber": f"SN-{i}", "specifications": {"range": "5-60 Nm"}},
        )
    make_asset(cast.other_org, "tool-0")
    assets = Asset.objects.filter(organization=cast.org)
    # A JSON column (converted by the field, from the database's text), timestamps, an
    # annotation-free projection in the queryset's order.
    rows = assets.order_by("description").values_list(
        "asset_key", "asset_snapshot", "created_at", "decommissioned_at"
    )
    streamed = list(sql.stream(rows, chunk_size=2))
    assert streamed == list(rows.iterator(chunk_size=2))
    assert [r[0] for r in streamed] == [f"tool-{i}" for i in (4, 3, 2, 1, 0)]
    assert streamed[0][1] == {"serialNumber": "SN-4", "specifications": {"range": "5-60 Nm"}}
    assert streamed[0][2].utcoffset() is not None
    # DISTINCT ordered by an expression it does not return: the ORM selects the expression too
    # and drops it from each row.
    distinct = assets.distinct().order_by(Lower("description")).values_list("asset_key")
    assert list(sql.stream(distinct)) == list(distinct.iterator()) == [(r[0],) for r in streamed]


@pytest.mark.django_db
def test_stream_of_a_filter_that_matches_nothing_runs_no_query(
    cast: Cast, django_assert_num_queries
) -> None:
    with django_assert_num_queries(0):
        assert list(sql.stream(Asset.objects.filter(id__in=[]).values_list("id"))) == []


@pytest.mark.django_db
def test_stream_is_one_query_and_refuses_what_is_not_tuples(
    cast: Cast, django_assert_num_queries
) -> None:
    make_asset(cast.org, "tool-1")
    with django_assert_num_queries(1):
        assert list(sql.stream(Asset.objects.values_list("asset_key"))) == [("tool-1",)]
    for queryset in (Asset.objects.all(), Asset.objects.values("id")):
        with pytest.raises(TypeError, match="values_list"):
            next(sql.stream(queryset))
    with pytest.raises(TypeError):
        next(sql.stream(Asset.objects.values_list("id", flat=True)))


@on_postgresql
@pytest.mark.django_db
def test_stream_reads_in_chunks_and_may_stop_early(cast: Cast) -> None:
    for i in range(10):
        make_asset(cast.org, f"tool-{i:02d}")
    rows = sql.stream(
        Asset.objects.filter(organization=cast.org).order_by("asset_key").values_list("asset_key"),
        chunk_size=3,
    )
    assert next(rows) == ("tool-00",)
    # The statement's result is still being read: not all of it was fetched at once.
    assert connection.connection.info.transaction_status == TransactionStatus.ACTIVE
    rows.close()  # what a client leaving a download does
    assert connection.connection.info.transaction_status != TransactionStatus.ACTIVE
    assert Asset.objects.filter(organization=cast.org).count() == 10


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_is_the_orms_database_error(cast: Cast) -> None:
    make_asset(cast.org, "tool-1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    # The server ends this connection, as a restart or an administrator would.
    with psycopg.connect(_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        with pytest.raises(OperationalError):
            list(sql.stream(Asset.objects.values_list("asset_key")))
    finally:
        connection.close()
    assert Asset.objects.filter(asset_key="tool-1").exists()  # a new connection reads again


def _dsn() -> str:
    s = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=s["NAME"], user=s["USER"], host=s["HOST"], port=s["PORT"] or None
    )
