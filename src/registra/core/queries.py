"""Two query shapes every selector and service uses: one row or a 404, and lookups of the rows
whose field is one of any number of values (``rows_in``, through the ``any_of`` lookup)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Field, ForeignObject, Lookup, QuerySet, TextField
from django.db.models.sql.compiler import SQLCompiler

from registra.core.errors import NotFound

_Row = TypeVar("_Row")

# Values per query of ``rows_in``. SQLite builds before 3.32 bind at most 999 parameters in one
# statement, and the queryset's own filters need a few of them. PostgreSQL receives the values
# as one array parameter, so its chunk only bounds the statement's size.
IN_CHUNK = 900
ARRAY_CHUNK = 10_000


class AnyOf(Lookup):  # type: ignore[type-arg]
    """``field__any_of=values``: the rows whose field is one of ``values``, as ``__in`` finds
    them. On PostgreSQL it is ``field = ANY(%s)`` with the values as one array: for a few
    thousand values, building and parsing an ``IN (%s, %s, ...)`` list took as long as the
    lookup itself (half of a 2,000-key read of an import's plan). Elsewhere it is that list."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        target = getattr(field, "target_field", field)  # a foreign key's values are its target's
        text = isinstance(target, CharField | TextField)
        prep = field.get_db_prep_value
        # A string is passed as it is to a text column (what its preparation does, in a call).
        values = [
            v if text and type(v) is str else prep(v, connection, prepared=False) for v in self.rhs
        ]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        if not values:  # an empty IN () is not SQL; nothing is one of no values
            return "1 = 0", tuple(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*lhs_params, *values)


# Every field's, and the foreign keys' (a relation's lookups are its own, not a field's).
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def first_or_404(queryset: QuerySet[Any, _Row], what: str, *, lock: bool = False) -> _Row:
    """The first row of ``queryset``, locked ``FOR UPDATE`` when ``lock`` (inside the caller's
    transaction); ``NotFound("<what> not found")`` when there is none. Scope the queryset to
    the organization: a row of another organization is then a 404 like a missing one."""
    row = (queryset.select_for_update() if lock else queryset).first()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def rows_in(queryset: QuerySet[Any, _Row], field: str, values: Iterable[Any]) -> Iterator[_Row]:
    """The rows of ``queryset`` whose ``field`` is one of ``values``, ``IN_CHUNK`` values per
    query (``ARRAY_CHUNK`` on PostgreSQL; a locking queryset locks them all, in the caller's
    transaction)."""
    wanted = list(values)
    chunk = ARRAY_CHUNK if connections[queryset.db].vendor == "postgresql" else IN_CHUNK
    for start in range(0, len(wanted), chunk):
        yield from queryset.filter(**{f"{field}__any_of": wanted[start : start + chunk]})
