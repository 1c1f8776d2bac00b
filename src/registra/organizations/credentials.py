"""How client secrets and access tokens are stored: keyed hashes (HMAC-SHA256 with a server key).

Both are high-entropy random values (32 random bytes), so a keyed hash protects them as well as a
slow password hash would, in microseconds instead of 0.3 s of CPU per check (SPEC section 2).
The key is ``REGISTRA_CREDENTIAL_KEY``, or the ``SECRET_KEY`` when that is unset; a copy of the
database without the key cannot test guesses offline. Member passwords, chosen by people, keep
Django's slow password hashers. Decision record 0004.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.utils.crypto import salted_hmac

KEYED_PREFIX = "hmac-sha256$"
# Stored for a deleted account: no keyed hash and no password hash, so nothing matches it.
UNUSABLE_SECRET = "!"
# Compared against when the client id is unknown, so that the check costs the same.
DUMMY_SECRET_HASH = KEYED_PREFIX + "0" * 64


def _keyed(purpose: str, raw: str) -> str:
    key = settings.REGISTRA_CREDENTIAL_KEY or settings.SECRET_KEY
    return salted_hmac(f"registra.{purpose}", raw, secret=key, algorithm="sha256").hexdigest()


def token_hash(raw: str) -> str:
    """The stored form of an access token (64 hex digits, looked up by its unique index)."""
    return _keyed("access-token", raw)


def secret_hash(raw: str) -> str:
    """The stored form of a client secret."""
    return KEYED_PREFIX + _keyed("client-secret", raw)


@dataclass(frozen=True)
class SecretCheck:
    """Whether a secret matched, and whether its stored hash is a legacy one to replace."""

    ok: bool
    upgrade: bool = False


def check_secret(raw: str, stored: str) -> SecretCheck:
    """Compare ``raw`` with a stored hash in constant time.

    Secrets created before decision 0004 are stored as Django password hashes (PBKDF2): they are
    verified once that slow way, and ``upgrade`` tells the caller to store ``secret_hash(raw)``.
    """
    if stored.startswith(KEYED_PREFIX):
        return SecretCheck(hmac.compare_digest(secret_hash(raw), stored))
    ok = check_password(raw, stored)  # False for unusable and unknown hash formats
    return SecretCheck(ok, upgrade=ok)
