"""The API's errors as exceptions, one class per error id (SPEC section 4, "Errors")."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class RegistraError(Exception):
    """An API call that failed: the HTTP ``status`` (None when no answer came), the API's
    ``error`` id, its ``message``, the ``request_id`` the server logged it under, and the
    ``issues`` of a validation error (each ``{"path": [...], "message": ...}``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str = "",
        request_id: str | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.request_id = request_id
        self.issues = issues or []

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status} {self.error or 'error'}")
            parts[-1] += f", request {self.request_id})" if self.request_id else ")"
        return " ".join(parts)


class ValidationError(RegistraError):
    """400 ``validation``: a filter or parameter the API refused; ``issues`` say which."""


class InvalidCursorError(RegistraError):
    """400 ``invalid_cursor``: a cursor that is expired, tampered with or for other filters."""


class AuthenticationError(RegistraError):
    """401 ``unauthenticated``: wrong credentials, or a token that expired or was revoked."""


class PermissionDeniedError(RegistraError):
    """403 ``forbidden``: the service account lacks the scope this call needs."""


class NotFoundError(RegistraError):
    """404 ``not_found``: no such record in the service account's organization."""


class MethodNotAllowedError(RegistraError):
    """405 ``method_not_allowed``."""


class PayloadTooLargeError(RegistraError):
    """413 ``payload_too_large``."""


class RateLimitedError(RegistraError):
    """429 ``rate_limited``, still so after every retry; ``retry_after`` is the server's
    ``Retry-After`` in seconds (None if it sent none)."""

    retry_after: float | None = None


class ServerError(RegistraError):
    """A 5xx answer (``internal``), still so after every retry."""


class UnavailableError(ServerError):
    """503 ``unavailable``: the server's database or counter store is down."""


class ConnectionFailedError(RegistraError):
    """No answer at all (refused connection, timeout, broken stream), after every retry."""


_BY_ERROR: dict[str, type[RegistraError]] = {
    "validation": ValidationError,
    "invalid_cursor": InvalidCursorError,
    "unauthenticated": AuthenticationError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "payload_too_large": PayloadTooLargeError,
    "rate_limited": RateLimitedError,
    "internal": ServerError,
    "unavailable": UnavailableError,
}


def error_from_reply(status: int, headers: Mapping[str, str], body: bytes) -> RegistraError:
    """The exception for an error answer: by the envelope's error id, else by the status (a
    proxy's HTML 502 is a ``ServerError`` too)."""
    envelope: Any = None
    with contextlib.suppress(ValueError):
        envelope = json.loads(body)
    if not isinstance(envelope, dict):
        envelope = {}
    error = str(envelope.get("error") or "")
    cls = _BY_ERROR.get(error)
    if cls is None:
        cls = ServerError if status >= 500 else RegistraError
    message = str(envelope.get("message") or f"the server answered HTTP {status}")
    issues = envelope.get("issues")
    exc = cls(
        message,
        status=status,
        error=error,
        request_id=envelope.get("requestId") or headers.get("x-request-id"),
        issues=issues if isinstance(issues, list) else None,
    )
    if isinstance(exc, RateLimitedError):
        exc.retry_after = retry_after(headers)
    return exc


def retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (a number of seconds or an HTTP date), None if absent."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
