"""Rows from selectors -> API records: camelCase names, ``...000Z`` timestamps, nulls kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def _fmt(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is implemented in C; "+00:00" becomes "Z".
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def records(rows: Sequence[tuple[Any, ...]], columns: Sequence[tuple[str, str]]) -> list[dict]:
    names = [api for _, api in columns]
    stamps = [i for i, (col, _) in enumerate(columns) if col.endswith("_at")]
    out = []
    for row in rows:
        values = list(row)
        for i in stamps:
            v = values[i]
            if v is not None:
                values[i] = _fmt(v)
        out.append(dict(zip(names, values, strict=True)))
    return out
