"""CSV that a spreadsheet will not run as formulas: every export (the register, the audit log,
an import's error report) writes its cells through ``safe_cell``, and streams its rows through
``csv_chunks``."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone

from registra_client import formula_safe

# Rows per piece of a streamed CSV: large enough that the response's per-piece cost vanishes,
# small enough to keep memory flat.
CHUNK_ROWS = 2000


def safe_cell(value: Any, zone: tzinfo | None = None) -> str:
    """The text of one cell: timestamps (aware) in ``zone`` (default the current time zone),
    ISO 8601 to the second; nothing for None; a leading apostrophe before text a spreadsheet
    would treat as a formula (the client's ``formula_safe``: one rule for every CSV)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone or timezone.get_current_timezone()).isoformat("T", "seconds")
    text = value if type(value) is str else str(value)
    return formula_safe(text)


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], zone: tzinfo | None = None
) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows`` (cells through ``safe_cell``, timestamps in
    ``zone``, default the current time zone), ``CHUNK_ROWS`` rows per piece, for a streamed
    response: only one piece is in memory at a time."""
    zone = zone or timezone.get_current_timezone()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    stream = iter(rows)
    while True:
        # Text cells (most of them) need only the formula rule: only the rest call safe_cell.
        writer.writerows(
            [formula_safe(v) if type(v) is str else safe_cell(v, zone) for v in row]
            for row in itertools.islice(stream, CHUNK_ROWS)
        )
        piece = buffer.getvalue()
        if not piece:
            return
        yield piece
        buffer.seek(0)
        buffer.truncate()
