"""Shared pieces of the organization services: input patterns, the invitation-token hash, and
the password rules."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from registra.core.errors import field_error
from registra.organizations.models import Member

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
INVITATION_TTL = timedelta(days=7)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_password(member: Member, password: object) -> str:
    """``password`` if Django's validators (``AUTH_PASSWORD_VALIDATORS``) accept it for
    ``member``; otherwise ``ValidationFailed`` naming the field ``password``."""
    if not isinstance(password, str) or not password:
        raise field_error("password", "is required")
    if len(password) > 256:
        raise field_error("password", "must be at most 256 characters")
    try:
        validate_password(password, user=member)
    except ValidationError as exc:
        raise field_error("password", " ".join(exc.messages)) from None
    return password
