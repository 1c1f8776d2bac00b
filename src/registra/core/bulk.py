"""Fast bulk inserts and updates for the bulk services.

They write what ``QuerySet.bulk_create`` / ``bulk_update`` would (each value is adapted as its
field's ``get_db_prep_save`` does, and the database still enforces every constraint), but
prepare one statement and run it with ``executemany`` instead of compiling SQL value by value,
which dominated large imports and demo loads. No model signals, like ``bulk_create``. Both
must run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
from django.conf import settings
from django.db import connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.json import Jsonb

_Prep = Callable[[Any], Any]


def _preparer(field: models.Field, connection: BaseDatabaseWrapper) -> _Prep:
    """The field's ``get_db_prep_save``, with shortcuts for plain strings (also as foreign
    keys to string ids), ints and aware datetimes (values those fields' own preparation passes
    through unchanged or adapts the same way) and for JSON on SQLite (see ``_sqlite_json``)."""
    generic: _Prep = lambda value: field.get_db_prep_save(value, connection)  # noqa: E731
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    if type(target) in (models.CharField, models.TextField):
        return lambda value: value if type(value) is str else generic(value)
    if type(field) in (models.IntegerField, models.BigIntegerField):
        return lambda value: value if type(value) is int else generic(value)
    if type(field) is models.JSONField and field.encoder is None:
        return _orjson_json(generic, connection.vendor)
    if type(field) is models.DateTimeField:
        adapt = _sqlite_datetime(connection) or connection.ops.adapt_datetimefield_value

        def prep(value: Any) -> Any:
            if type(value) is datetime and value.utcoffset() is not None:
                return adapt(value)
            return generic(value)

        return prep
    return generic


# Anything orjson would serialize differently from the standard library (datetimes,
# dataclasses, subclasses of str/int/dict/list...) raises here and takes Django's own path.
_ORJSON_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _orjson_json(generic: _Prep, vendor: str) -> _Prep:
    """orjson writes the same JSON value as ``json.dumps`` (compact and UTF-8 rather than
    ASCII-escaped; NaN becomes null, which no JSON reader rejects) in a fraction of the time:
    SQLite stores it as text, PostgreSQL receives it as ``jsonb`` already written."""

    empty = "{}" if vendor != "postgresql" else Jsonb("{}", dumps=_written)

    def prep(value: Any) -> Any:
        if type(value) is dict and not value:  # a plan's items are mostly {}: written once
            return empty
        if type(value) is dict or type(value) is list:
            try:
                text = orjson.dumps(value, option=_ORJSON_STRICT).decode()
            except orjson.JSONEncodeError:
                return generic(value)
            return text if vendor != "postgresql" else Jsonb(text, dumps=_written)
        return generic(value)

    return prep


def _written(text: str) -> str:
    return text


def _sqlite_datetime(connection: BaseDatabaseWrapper) -> _Prep | None:
    """SQLite's adapter for aware datetimes (text in the connection's time zone), without its
    per-value settings lookups."""
    if connection.vendor != "sqlite" or not settings.USE_TZ:
        return None
    tz = connection.timezone

    def adapt(value: datetime) -> str:
        if value.tzinfo is tz:  # already in the connection's zone: drop the "+00:00"
            return value.isoformat(" ")[:-6]
        return str(value.astimezone(tz).replace(tzinfo=None))

    return adapt


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("bulk writes must run inside the service's transaction")


def _check(objs: Sequence[models.Model], model: type[models.Model]) -> None:
    _in_transaction()
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"expected {model.__name__} instances, got {type(obj).__name__}")


def insert_many(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """INSERT every row of ``objs`` (primary keys already set, as our ids always are, or
    numbered by the database: those objects keep ``pk`` None)."""
    if not objs:
        return
    _check(objs, model)
    connection = connections["default"]
    # The database computes generated columns and numbers auto-incremented keys itself.
    fields = [
        f
        for f in model._meta.concrete_fields
        if not getattr(f, "generated", False) and not isinstance(f, models.AutoField)
    ]
    read = _reader(fields)
    _insert(connection, model, fields, [read(obj) for obj in objs])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """INSERT ``rows``, each the values of ``field_names`` in that order, as ``insert_many``
    would the same rows as model instances, without building them (a large import's plan
    items; a field left out takes its database default, or NULL)."""
    if not rows:
        return
    _in_transaction()
    fields = [_concrete(model, name) for name in field_names]
    _insert(connections["default"], model, fields, rows)


def _insert(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    fields: list[models.Field],
    values: Sequence[Sequence[Any]],
) -> None:
    """The rows of ``values`` (each in the order of ``fields``), adapted for the database as
    the fields' ``get_db_prep_save`` does: by ``COPY`` on PostgreSQL, else ``executemany``."""
    preps = [_preparer(f, connection) for f in fields]
    rows = [tuple(p(v) for p, v in zip(preps, row, strict=True)) for row in values]
    if connection.vendor == "postgresql":
        _copy(connection, model._meta.db_table, [f.column for f in fields], rows)
        return
    quote = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _copy(
    connection: BaseDatabaseWrapper, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """The rows by ``COPY ... FROM STDIN`` (PostgreSQL): one statement and a stream of rows
    instead of an execution per row; constraints, triggers and indexes apply as for INSERT, and
    an error is the ORM's (``IntegrityError``...)."""
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN".format(quote(table), ", ".join(map(quote, columns)))
    with connection.wrap_database_errors:
        connection.ensure_connection()
        if connection.queries_logged:  # as the ORM's statements are, for the query counts
            connection.queries_log.append({"sql": statement, "time": "0.000"})
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def _reader(fields: list[models.Field]) -> Callable[[models.Model], tuple[Any, ...]]:
    """Reads an object's values as ``bulk_create`` does (``pre_save``), in one C call when
    every field's ``pre_save`` only reads its attribute (no ``auto_now`` and the like)."""
    if len(fields) > 1 and all(_plain(f) for f in fields):
        return attrgetter(*(f.attname for f in fields))
    return lambda obj: tuple(f.pre_save(obj, True) for f in fields)


def _plain(field: models.Field) -> bool:
    if type(field).pre_save is models.Field.pre_save:
        return True
    auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return isinstance(field, models.DateField | models.TimeField) and not auto


def _concrete(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete or field.generated:
        raise ValueError(f"{model.__name__}.{name} is not a column it may write")
    return field


def update_many(
    model: type[models.Model], objs: Sequence[models.Model], field_names: Sequence[str]
) -> None:
    """UPDATE ``field_names`` of every row of ``objs``, matched by primary key (and by
    organization when the model has one, so a row of another tenant is never touched)."""
    if not objs:
        return
    _check(objs, model)
    connection = connections["default"]
    fields = [_concrete(model, name) for name in field_names]
    keys = [_concrete(model, model._meta.pk.name)]  # type: ignore[union-attr]
    if "organization_id" in {f.attname for f in model._meta.concrete_fields}:
        keys.append(_concrete(model, "organization"))
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {}".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        " AND ".join(f"{quote(k.column)} = %s" for k in keys),
    )
    preps = [(f, _preparer(f, connection)) for f in [*fields, *keys]]
    rows = [tuple(prep(getattr(obj, f.attname)) for f, prep in preps) for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@contextmanager
def large_writes(cache_mib: int = 256) -> Iterator[None]:
    """Give SQLite a page cache big enough for index inserts of a large load (its default of
    2 MiB makes every batch re-read and re-write the same index pages); restored afterwards.
    Other databases are left alone."""
    connection = connections["default"]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")
