"""Shared pieces of the organization services: input patterns and the invitation-token hash."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
INVITATION_TTL = timedelta(days=7)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
