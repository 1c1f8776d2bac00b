"""API reader rows -> API records: camelCase names, nulls kept.

The rows come from the readers in ``assets/selectors.py``: the record's values, timestamps
already the API's text, then the raw ``created_at``, which ``zip`` leaves out (it stops at the
last name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def records(rows: Sequence[tuple[Any, ...]], columns: Sequence[tuple[str, str]]) -> list[dict]:
    names = [api for _, api in columns]
    return [dict(zip(names, row)) for row in rows]  # noqa: B905 (see above)
