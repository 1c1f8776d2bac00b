"""The API v1 error envelope: ``{"error", "message", "requestId"[, "issues"]}``, and the one
mapping from an exception to it (``failure_parts``): the error hierarchy's codes, 413 for a
body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, 400 for more fields than
``DATA_UPLOAD_MAX_NUMBER_FIELDS``, 503 ``unavailable`` when the database or Redis is down, 500
for anything else (logged, never shown)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from registra.core.errors import (
    PayloadTooLarge,
    RateLimited,
    RegistraError,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)

log = logging.getLogger("registra.api")
# What a part that is down raises: the database (unreachable, or SQLite without its schema)
# and Redis (the shared counters).
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)

DEFAULT_MESSAGES = {
    400: ("validation", "the request is not valid"),
    401: ("unauthenticated", "a valid bearer token is required"),
    403: ("forbidden", "this token lacks the scope this endpoint needs"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "this method is not allowed here; see the Allow header"),
    413: ("payload_too_large", "the request body is over the size limit"),
    429: ("rate_limited", "too many requests"),
    500: ("internal", "internal error; quote the request id when reporting it"),
    503: ("unavailable", "a service Registra needs is unavailable; retry later"),
}
Parts = tuple[int, dict[str, Any], dict[str, str]]  # status, body, extra headers


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def envelope(
    *, status: int, code: str, message: str, request_id: str, issues: list | None = None
) -> Parts:
    body: dict[str, Any] = {"error": code, "message": message, "requestId": request_id}
    if issues is not None:
        body["issues"] = issues
    headers = {"WWW-Authenticate": 'Bearer realm="registra"'} if status == 401 else {}
    return status, body, headers


def exception_parts(exc: RegistraError, request_id: str) -> Parts:
    issues = exc.issues if exc.code == "validation" else None
    if exc.code == "validation" and issues is None:
        issues = []
    status, body, headers = envelope(
        status=exc.status, code=exc.code, message=exc.message, request_id=request_id, issues=issues
    )
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="registra", error="invalid_token"'
    return status, body, headers


def failure_parts(exc: Exception, request_id: str) -> Parts:
    """The envelope for any exception a request ended with."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(
            f"the request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
        )
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = ValidationFailed(
            "too many fields",
            issues=[{"path": ["request"], "message": "has more fields than the limit"}],
        )
    elif isinstance(exc, UNAVAILABLE):
        log.error("API v1 unavailable: %s", type(exc).__name__, extra={"request_id": request_id})
        exc = Unavailable("a service Registra needs is unavailable; retry later")
    if isinstance(exc, RegistraError):
        return exception_parts(exc, request_id)
    log.error("unhandled error in API v1", exc_info=exc, extra={"request_id": request_id})
    return status_parts(500, request_id)


def status_parts(status: int, request_id: str) -> Parts:
    code, message = DEFAULT_MESSAGES.get(status, DEFAULT_MESSAGES[500])
    return envelope(
        status=status if status in DEFAULT_MESSAGES else 500,
        code=code,
        message=message,
        request_id=request_id,
        issues=[] if code == "validation" else None,
    )


def _response(parts: Parts) -> HttpResponse:
    status, body, headers = parts
    response = json_response(body, status)
    for name, value in headers.items():
        response[name] = value
    return response


def _request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    issues: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    return _response(
        envelope(
            status=status,
            code=code,
            message=message,
            request_id=_request_id(request),
            issues=issues,
        )
    )


def from_exception(request: HttpRequest, exc: RegistraError) -> HttpResponse:
    return _response(exception_parts(exc, _request_id(request)))


def default_for_status(request: HttpRequest, status: int) -> HttpResponse:
    return _response(status_parts(status, _request_id(request)))


def from_failure(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _response(failure_parts(exc, _request_id(request)))
