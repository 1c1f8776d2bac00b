"""API v1 edge: bearer token resolution, rate limits with their headers on every response,
the error envelope for responses the framework makes itself (unknown paths, 405, a refused
Host) and for a database or Redis that is down (503 ``unavailable``), and one log line per
request with its status, request id and duration."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from registra.api.v1 import errors, ratelimit
from registra.core.errors import RateLimited
from registra.organizations.selectors import TokenContext, access_token_resolve

access_log = logging.getLogger("registra.api.access")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# SPEC section 4: the client-credentials grant, which has its own limits (ratelimit.py). The
# web's service account pages name it too (the web may not import the API).
TOKEN_PATH = "/api/v1/auth/token"


def client_address(request: HttpRequest) -> str:
    """The caller's address, as rate limits and audit events name it."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
        return None
    return value.strip()


def count(ctx: TokenContext | None, *, address: str, method: str) -> ratelimit.Bucket:
    """Count one request; the bucket it leaves with the fewest requests (an exceeded one
    first)."""
    if ctx is None:
        # No valid token: count against a per-address read bucket.
        buckets = ratelimit.count_request(
            token_key=f"anon:{address}", organization_id=None, is_read=True
        )
    else:
        buckets = ratelimit.count_request(
            token_key=ctx.token_id,
            organization_id=ctx.organization_id,
            is_read=method in READ_METHODS,
        )
    return ratelimit.nearest_exhaustion(buckets)


def refusal(bucket: ratelimit.Bucket) -> RateLimited | None:
    """The 429 for a request that exceeded ``bucket``, or None when it may proceed."""
    if not bucket.exceeded:
        return None
    retry = max(1, bucket.reset - int(time.time()))
    return RateLimited(
        f"rate limit of {bucket.limit} requests per minute reached "
        f"({bucket.name} bucket); retry in {retry} s",
        retry_after=retry,
    )


def rate_headers(bucket: ratelimit.Bucket) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(bucket.remaining),
        "X-RateLimit-Reset": str(bucket.reset),
        "X-RateLimit-Bucket": bucket.name,
    }


class ApiV1Middleware:
    """The API's edge in its own chain (``stack.py``): token, count, envelopes, one log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        head = request.method == "HEAD"
        if head:
            # HEAD is GET without the body: same checks, count, headers and Content-Length.
            request.method = "GET"
        try:
            response = self._respond(request)
        except Exception as exc:  # the token lookup or the count failed: no Django page
            response = errors.from_failure(request, exc)
        if not response.streaming and not response.has_header("Content-Length"):
            # Responses made here (429, the envelopes) don't pass CommonMiddleware, which
            # sets it on the others: every API response says its length.
            response["Content-Length"] = str(len(response.content))
        if head:
            response.content = b""
        _log(request, response, started, head=head)
        return response

    def _respond(self, request: HttpRequest) -> HttpResponse:
        unavailable: Exception | None = None
        address = client_address(request)
        if request.path == TOKEN_PATH:
            # The token endpoint counts only against its own buckets: its requests are not the
            # address's reads (a client whose token expired still gets a new one).
            ctx, bucket = None, ratelimit.count_grant_address(address)[0]
        else:
            raw = bearer_token(request.headers.get("Authorization", ""))
            try:
                ctx = access_token_resolve(raw) if raw else None
            except DatabaseError as exc:  # still counted, so the 503 carries the rate headers
                ctx, unavailable = None, exc
            bucket = count(ctx, address=address, method=request.method or "GET")
        request.api_token = ctx  # type: ignore[attr-defined]
        refused = refusal(bucket)
        if unavailable is not None:
            response = errors.from_failure(request, unavailable)
        elif refused is not None:
            response = errors.from_exception(request, refused)
        else:
            response = self._envelope(request, self.get_response(request))
        # A view may have counted its own buckets too (the token endpoint's per client id).
        bucket = ratelimit.nearest_exhaustion([bucket, *getattr(request, "rate_buckets", [])])
        for name, value in rate_headers(bucket).items():
            response[name] = value
        return response

    @staticmethod
    def _envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Django's own error pages (a refused Host, a 405 or 404 from ninja) as envelopes."""
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        replaced = errors.default_for_status(request, response.status_code)
        if "Allow" in response:
            replaced["Allow"] = response["Allow"]
        return replaced


def _log(request: HttpRequest, response: HttpResponse, started: float, *, head: bool) -> None:
    status = response.status_code
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    method = "HEAD" if head else request.method
    access_log.log(
        level,
        "%s %s %s",
        method,
        request.path,
        status,
        extra={
            "method": method,
            "path": request.path,
            "status_code": status,
            "request_id": getattr(request, "request_id", ""),
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
