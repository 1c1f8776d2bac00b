"""Shared pieces of the organization services: input patterns and audit actors."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from registra.core.audit import Actor
from registra.organizations.models import (
    Member,
    ServiceAccount,
)

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
INVITATION_TTL = timedelta(days=7)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def actor_for_member(member: Member) -> Actor:
    return Actor(kind="member", id=member.id, label=member.full_name or member.email)


def actor_for_service_account(account: ServiceAccount) -> Actor:
    return Actor(kind="service-account", id=account.id, label=account.name)
