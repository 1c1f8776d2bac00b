"""The register fields a CMMS column may map to, and how a cell's text becomes a field's value."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType

from registra_client._dates import DateParser

TEXT, DATE, NUMBER = "text", "date", "number"
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "assetKey": TEXT,
        "assetKind": TEXT,
        "displayName": TEXT,
        "description": TEXT,
        "status": TEXT,
        "commissionedAt": DATE,
        "manufacturer": TEXT,
        "model": TEXT,
        "serialNumber": TEXT,
        "location": TEXT,
        "externalId": TEXT,
        "acquisition.date": DATE,
        "acquisition.supplier": TEXT,
        "acquisition.purchaseOrder": TEXT,
        "acquisition.costEur": NUMBER,
    }
)
"""Register field -> kind (``text``, ``date``, ``number``) for the fields a column may map to;
besides these, any ``specifications.<Name>`` (text). ``sourceKind`` is a default only."""

KEY = "assetKey"
SPECIFICATIONS = "specifications."
SOURCE_KIND = "sourceKind"
DEFAULT_SOURCE_KIND = "cmms-import"
CUSTODY, CALIBRATION = "custody", "calibration"
STATUSES = ("planned", "active", "inactive")
READINESS_STATES = ("ready", "conditionally-ready", "not-ready", "unknown")
NEVER_DECOMMISSIONS = "the import never decommissions: decommission in the register"
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPING = str.maketrans("", "", " '\u00a0\u202f")  # thousands separators: 1 234,50 / 1'234.50


def field_kind(name: str) -> str | None:
    """The kind of the register field ``name``, or None when no column may map to it."""
    kind = FIELDS.get(name)
    if kind is None and name.startswith(SPECIFICATIONS) and name[len(SPECIFICATIONS) :].strip():
        return TEXT
    return kind


def field_names_help() -> str:
    """The fields a column may map to, for messages."""
    return ", ".join(FIELDS) + ", specifications.<Name>"


def parse_number(text: str) -> float | None:
    """``1234.5``, ``1234,50``, ``1.234,50``, ``1,234.50`` and ``1 234,50`` as a float; None when
    the text is no finite number. One comma alone is a decimal comma (European exports)."""
    s = text.translate(_GROUPING)
    comma, dot = s.rfind(","), s.rfind(".")
    if comma >= 0 and dot >= 0:
        s = s.replace(".", "").replace(",", ".") if comma > dot else s.replace(",", "")
    elif comma >= 0:
        s = s.replace(",", ".") if s.count(",") == 1 else s.replace(",", "")
    if not _NUMBER.fullmatch(s):
        return None
    value = float(s)
    return value if math.isfinite(value) else None


def number_problem(text: str) -> str:
    """The reason a cell is no number."""
    return f"{text!r} is not a number (write it like 1234.5 or 1234,50)"


def status_problem(value: str) -> str | None:
    """Why ``value`` cannot be an imported status (None when it can)."""
    if value in STATUSES:
        return None
    if value == "decommissioned":
        return NEVER_DECOMMISSIONS
    return f"status {value!r} is not one of {', '.join(STATUSES)}"


def typed_value(field: str, text: str, dates: DateParser) -> object:
    """``text`` (stripped, not blank) as the value of ``field``: a ``date``, a float or the
    text. A ``Problem`` when it cannot be (the caller reports it)."""
    kind = field_kind(field)
    if kind == DATE:
        parsed = dates(text)
        return Problem(parsed) if isinstance(parsed, str) else parsed
    if kind == NUMBER:
        number = parse_number(text)
        return Problem(number_problem(text)) if number is None else number
    if field == "status":
        problem = status_problem(text)
        return Problem(problem) if problem else text
    return text


class Problem:
    """Why a cell cannot become a field's value (a converter's result, never a field value)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Problem({self.reason!r})"


REGISTER_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "assetKind": "asset_kind",
        "displayName": "display_name",
        "description": "description",
        "sourceKind": "source_kind",
    }
)
"""Import field -> the asset's attribute, for the fields that are columns of the asset (the
server's model and the API's ``Asset`` record name them alike)."""


def same_value(register: object, cmms: object) -> bool:
    """Whether the register's value and the CMMS's agree, as a reviewer means it: blank
    equals blank, numbers to the cent (a CMMS rounds costs), everything else exactly. The
    import's plan and the drift check both decide with it."""
    if register in (None, "") and cmms in (None, ""):
        return True
    if isinstance(cmms, float) and isinstance(register, int | float):
        return abs(register - cmms) < 0.005
    return bool(register == cmms)


def duplicate_key_reason(first_line: int) -> str:
    """Why a row whose key an earlier row of the file had is not used."""
    return f"duplicate key: also on line {first_line}; the first row is used"
