"""CSV cells that a spreadsheet will not run as formulas: every export (the register, the audit
log, an import's error report) writes its cells through ``safe_cell``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

# A cell starting with one of these is read as a formula (or smuggles one in after a tab or a
# carriage return) by Excel, LibreOffice and Google Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """The text of one cell: timestamps in the current time zone (ISO 8601), nothing for
    None, and a leading apostrophe before text a spreadsheet would treat as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
