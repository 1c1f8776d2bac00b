"""Small input checks that raise ``ValidationFailed`` naming the field and the rule."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from registra.core.errors import ValidationFailed, field_error

REASON_MIN, REASON_MAX = 10, 1000
# Record keys (assetKey, assignment, assessment and responsibility keys): SPEC section 3.
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
KEY_RULE = "must start with a letter or digit and use only A-Z a-z 0-9 . _ : -"


def text(field: str, value: object, *, min_len: int, max_len: int) -> str:
    """A string of min_len..max_len characters (after stripping surrounding whitespace)."""
    if not isinstance(value, str):
        raise field_error(field, "must be a string")
    value = value.strip()
    if len(value) < min_len:
        rule = "is required" if min_len == 1 else f"must be at least {min_len} characters"
        raise field_error(field, rule)
    if len(value) > max_len:
        raise field_error(field, f"must be at most {max_len} characters")
    return value


def pattern(field: str, value: object, regex: re.Pattern[str], rule: str, max_len: int) -> str:
    checked = text(field, value, min_len=1, max_len=max_len)
    if not regex.fullmatch(checked):
        raise field_error(field, rule)
    return checked


def choice(field: str, value: object, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if value not in allowed:
        raise field_error(field, f"must be one of: {', '.join(allowed)}")
    return str(value)


def reason(value: object) -> str:
    """Every mutation carries a reason of 10-1000 characters."""
    return text("reason", value, min_len=REASON_MIN, max_len=REASON_MAX)


def aware(field: str, value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise field_error(field, "must include a time zone")
    return value


def timezone_name(field: str, value: object) -> str:
    name = text(field, value, min_len=1, max_len=64)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise field_error(field, "must be an IANA time zone such as Europe/Berlin") from exc
    return name


def merge(errors: list[ValidationFailed]) -> ValidationFailed:
    """One error carrying every field's issue, so a form can show them all at once."""
    issues = [issue for err in errors for issue in (err.issues or [])]
    return ValidationFailed("; ".join(e.message for e in errors), issues=issues)
