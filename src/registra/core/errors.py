"""One error hierarchy with stable codes, mapped to the API envelope and to form errors."""

from __future__ import annotations

from typing import Any


class RegistraError(Exception):
    """Base class: ``code`` is stable and appears in API bodies; ``status`` is the HTTP status."""

    code = "internal"
    status = 500

    def __init__(self, message: str, *, issues: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues


class ValidationFailed(RegistraError):
    """Input broke a rule; ``issues`` name each field (``path``) and the rule (``message``)."""

    code = "validation"
    status = 400


class InvalidCursor(RegistraError):
    """A pagination cursor was tampered with, expired, foreign or issued for other filters."""

    code = "invalid_cursor"
    status = 400


class Unauthenticated(RegistraError):
    code = "unauthenticated"
    status = 401


class Forbidden(RegistraError):
    code = "forbidden"
    status = 403


class NotFound(RegistraError):
    code = "not_found"
    status = 404


class MethodNotAllowed(RegistraError):
    code = "method_not_allowed"
    status = 405


class Conflict(RegistraError):
    """A uniqueness rule would break (duplicate key, second active primary custody...)."""

    code = "conflict"
    status = 409


class Unprocessable(RegistraError):
    """A domain rule refuses the change (illegal status transition, not-ready handoff...)."""

    code = "unprocessable"
    status = 422


class PayloadTooLarge(RegistraError):
    code = "payload_too_large"
    status = 413


class Unavailable(RegistraError):
    """A part the request needs (the database, the shared counter store) is down."""

    code = "unavailable"
    status = 503


class RateLimited(RegistraError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def field_error(field: str, message: str) -> ValidationFailed:
    """A validation error about one field."""
    return ValidationFailed(f"{field}: {message}", issues=[{"path": [field], "message": message}])
