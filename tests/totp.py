"""The codes an authenticator app shows, for tests that sign in with a second factor.

A code is accepted once, and django-otp remembers the last step it accepted (``last_t``) and
how far the app's clock seemed off (``drift``, -1 when a code was typed just before its step
ended). So the code of "the next step" is reckoned from the device's own state, not from the
test's clock alone: a 30-second step ending mid-test then cannot turn a right code into a
wrong one.
"""

from __future__ import annotations

import time

from django_otp.oath import hotp

STEP = 30  # seconds, django-otp's default and every authenticator app's


def _step_now() -> int:
    return int(time.time()) // STEP


def code_now(key: bytes) -> str:
    """The code an app shows for ``key`` at this moment."""
    return f"{hotp(key, _step_now()):06d}"


def used_code(key: bytes, last_t: int) -> str:
    """The code the device accepted last (a replay of it is refused)."""
    return f"{hotp(key, last_t):06d}"


def next_code(key: bytes, last_t: int, drift: int) -> str:
    """A code the device accepts now: its step is after the last accepted one and at most
    one step from the device's view of the present (its tolerance), even if the present
    moves on to the next step before the server checks it."""
    return f"{hotp(key, max(last_t + 1, _step_now() + drift)):06d}"
