"""The API v1 error envelope: ``{"error", "message", "requestId"[, "issues"]}``."""

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


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def error_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    message: str,
    issues: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "requestId": getattr(request, "request_id", ""),
    }
    if issues is not None:
        body["issues"] = issues
    response = json_response(body, status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="registra"'
    return response


def from_exception(request: HttpRequest, exc: RegistraError) -> HttpResponse:
    issues = exc.issues if exc.code == "validation" else None
    if exc.code == "validation" and issues is None:
        issues = []
    response = error_response(
        request, status=exc.status, code=exc.code, message=exc.message, issues=issues
    )
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="registra", error="invalid_token"'
    return response


def default_for_status(request: HttpRequest, status: int) -> HttpResponse:
    code, message = DEFAULT_MESSAGES.get(status, DEFAULT_MESSAGES[500])
    return error_response(
        request,
        status=status if status in DEFAULT_MESSAGES else 500,
        code=code,
        message=message,
        issues=[] if code == "validation" else None,
    )
