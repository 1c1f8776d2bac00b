"""How credentials are stored: the hash of an access token."""

from __future__ import annotations

import hashlib


def token_hash(raw: str) -> str:
    """The stored form of an access token."""
    return hashlib.sha256(raw.encode()).hexdigest()
