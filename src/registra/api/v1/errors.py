"""The API v1 error envelope: ``{"error", "message", "requestId"[, "issues"]}``.

Bodies and headers are built from a request id alone, so the ninja views (through Django
responses) and the hot path (``hotpath.py``, raw ASGI) send the same errors."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse

from registra.core.errors import RateLimited, RegistraError, Unauthenticated

DEFAULT_MESSAGES = {
    400: ("validation", "the request is not valid"),
    401: ("unauthenticated", "a valid bearer token is required"),
    403: ("forbidden", "this token lacks the scope this endpoint needs"),
    404: ("not_found", "no such resource"),
    405: ("method_not_allowed", "API v1 is read-only for this resource; use GET"),
    429: ("rate_limited", "too many requests"),
    500: ("internal", "internal error; quote the request id when reporting it"),
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
