"""Two query shapes every selector and service uses: one row or a 404, and ``__in`` lookups
over any number of values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.db.models import QuerySet

from registra.core.errors import NotFound

_Row = TypeVar("_Row")

# Values per ``__in`` query: SQLite builds before 3.32 bind at most 999 parameters in one
# statement, and the queryset's own filters need a few of them.
IN_CHUNK = 900


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
    query (a locking queryset locks them all, in the caller's transaction)."""
    wanted = list(values)
    for start in range(0, len(wanted), IN_CHUNK):
        yield from queryset.filter(**{f"{field}__in": wanted[start : start + IN_CHUNK]})
