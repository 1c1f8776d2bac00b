"""The API's reads of records (``records.py``): hand-written SQL through ``core/sql.fetch``,
timestamps returned as the API's text.

Compiling the ORM's query for a page cost more than running it, and formatting its 800
timestamps in Python was the largest cost of a page (``docs/benchmarks.md``), so PostgreSQL
writes the text itself (``to_char``, milliseconds truncated like ``timefmt.api_format``); on
SQLite the readers format the aware datetimes ``fetch`` returns. A row is the record's values
in its field order, followed by the raw ``created_at`` (an aware datetime) for the keyset
position. Every query is scoped by the organization of the token."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection

from registra.api.v1.records import ASSET, ORGANIZATION, Record
from registra.core import sql
from registra.core.errors import NotFound
from registra.core.timefmt import api_format

# The text of timefmt.api_format: UTC, milliseconds truncated (to_char's MS truncates), "Z".
_PG_API_STAMP = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_OPERATORS = {"": "=", "gt": ">", "ne": "<>"}
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Position:
    """A keyset position: the last row returned (newest-first order by created_at, id)."""

    created_at: datetime
    id: str


def _stamp(column: str) -> str:
    return _PG_API_STAMP.format(column) if connection.vendor == "postgresql" else column


@functools.cache
def _select(record: Record, *, keyset: bool) -> str:
    columns = sql.quoted(record.model, *(f.column for f in record.fields))
    exprs = [_stamp(c) if f.stamp else c for f, c in zip(record.fields, columns, strict=True)]
    if keyset:
        exprs.append(sql.quoted(record.model, "created_at")[0])
    return f"SELECT {', '.join(exprs)} FROM {sql.table(record.model)}"


def _fetch(record: Record, query: str, params: list[Any], *, keyset: bool) -> list[Row]:
    stamps = [i for i, f in enumerate(record.fields) if f.stamp]
    created = (len(record.fields),) if keyset else ()
    if connection.vendor == "postgresql":
        return sql.fetch(query, params, datetimes=created)
    rows = sql.fetch(query, params, datetimes=(*stamps, *created))
    return [_formatted(row, stamps) for row in rows]


def _formatted(row: Row, stamps: list[int]) -> Row:
    values = list(row)
    for i in stamps:
        if values[i] is not None:
            values[i] = api_format(values[i])
    return tuple(values)


@functools.cache
def _page_sql(record: Record, lookups: tuple[str, ...], keyset: bool) -> str:
    created, pk, org = sql.quoted(record.model, "created_at", "id", "organization_id")
    where = [f"{org} = %s"]
    for lookup in lookups:
        name, _, op = lookup.partition("__")
        where.append(f"{sql.quoted(record.model, name)[0]} {_OPERATORS[op]} %s")
    if keyset:
        # The redundant `created_at <= x` lets both databases seek the index before the OR.
        where.append(f"{created} <= %s AND ({created} < %s OR ({created} = %s AND {pk} < %s))")
    return (
        f"{_select(record, keyset=True)} WHERE {' AND '.join(where)}"
        f" ORDER BY {created} DESC, {pk} DESC LIMIT %s"
    )


def page(
    record: Record,
    organization_id: str,
    *,
    filters: dict[str, Any],
    after: Position | None,
    limit: int,
    where: tuple[tuple[str, Any], ...] = (),
) -> list[Row]:
    """One keyset page, newest first (created_at, then id); ``where`` (the list's fixed
    condition) and ``filters`` are equality, ``__gt`` or ``__ne`` lookups on the model's
    fields (``__ne`` on columns that are never NULL: SQL's ``<>`` leaves NULLs out)."""
    conditions = [*where, *filters.items()]
    query = _page_sql(record, tuple(lookup for lookup, _ in conditions), after is not None)
    params = [organization_id, *(value for _, value in conditions)]
    if after is not None:
        params += [after.created_at, after.created_at, after.created_at, after.id]
    return _fetch(record, query, [*params, limit], keyset=True)


@functools.cache
def _one_sql(record: Record) -> str:
    org, pk = sql.quoted(record.model, "organization_id", "id")
    return f"{_select(record, keyset=False)} WHERE {org} = %s AND {pk} = %s"


def asset(organization_id: str, asset_id: str) -> Row:
    """One asset; NotFound when absent or in another organization."""
    rows = _fetch(ASSET, _one_sql(ASSET), [organization_id, asset_id], keyset=False)
    if not rows:
        raise NotFound(f"asset {asset_id} not found")
    return rows[0]


@functools.cache
def _organization_sql() -> str:
    (pk,) = sql.quoted(ORGANIZATION.model, "id")
    return f"{_select(ORGANIZATION, keyset=False)} WHERE {pk} = %s"


def organization(organization_id: str) -> Row:
    """The token's organization."""
    rows = _fetch(ORGANIZATION, _organization_sql(), [organization_id], keyset=False)
    if not rows:
        raise NotFound("organization not found")
    return rows[0]


def as_records(record: Record, rows: list[Row]) -> list[dict[str, Any]]:
    """Rows as API records: the names of the record's fields (``zip`` stops before the
    trailing ``created_at`` of a page row)."""
    names = record.names
    return [dict(zip(names, row)) for row in rows]  # noqa: B905 (see above)
