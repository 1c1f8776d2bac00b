"""Record ids: ``<prefix>_<ULID>`` (26 Crockford base32 characters)."""

from __future__ import annotations

import re

from ulid import ULID

PREFIXES = {
    "org": "organization",
    "user": "member user",
    "inv": "invitation",
    "ra": "responsibility assignment",
    "clvl": "classification level",
    "svc": "service account",
    "tok": "access token",
    "rc": "recovery code",
    "asset": "asset",
    "ascust": "custody assignment",
    "asrdy": "readiness assessment",
    "evt": "audit event",
    "improf": "import profile",
    "imprun": "import run",
    "req": "request",
}

_ID_RE = re.compile(r"^([a-z]+)_([0-9A-HJKMNP-TV-Z]{26})$")


def new_id(prefix: str) -> str:
    """A new id for a record of the given kind, ordered by creation time."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    return f"{prefix}_{ULID()}"


def is_id(value: str, prefix: str) -> bool:
    """True when ``value`` is a well-formed id with the given prefix."""
    m = _ID_RE.match(value)
    return m is not None and m.group(1) == prefix
