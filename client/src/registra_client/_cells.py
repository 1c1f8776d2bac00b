"""The one rule for text cells a spreadsheet must not run as formulas: the drift check's CSV
and the server's exports (``registra.core.csvcells``) both write their cells through it."""

from __future__ import annotations

# A cell starting with one of these is read as a formula (or smuggles one in after a tab or a
# carriage return) by Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(text: str) -> str:
    """``text`` as a spreadsheet cell that stays text: a leading apostrophe when it starts
    like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return), else unchanged."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
