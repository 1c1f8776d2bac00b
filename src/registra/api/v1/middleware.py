"""API v1 edge: bearer token resolution, rate limits with their headers on every response,
and the error envelope for responses the framework makes itself (unknown paths, 405).

The steps are plain functions of header values and the token, shared with the hot path
(``hotpath.py``), so a request is authenticated and counted the same way on either path."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from registra.api.v1 import errors, ratelimit
from registra.core.errors import RateLimited
from registra.organizations.selectors import TokenContext, access_token_resolve

PREFIX = "/api/v1/"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
        # No valid token: count against a per-address read bucket, which also slows
        # credential guessing on the token endpoint.
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
    """Runs only for ``/api/v1/`` paths; everything else passes straight through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        raw = bearer_token(request.headers.get("Authorization", ""))
        ctx = access_token_resolve(raw) if raw else None
        request.api_token = ctx  # type: ignore[attr-defined]
        address = request.META.get("REMOTE_ADDR") or "unknown"
        bucket = count(ctx, address=address, method=request.method or "GET")
        refused = refusal(bucket)
        if refused is not None:
            response = errors.from_exception(request, refused)
        else:
            response = self._envelope(request, self.get_response(request))
        for name, value in rate_headers(bucket).items():
            response[name] = value
        if not response.streaming and not response.has_header("Content-Length"):
            # Responses made here (429, the envelopes) don't pass CommonMiddleware, which
            # sets it on the others: every API response says its length.
            response["Content-Length"] = str(len(response.content))
        return response

    @staticmethod
    def _envelope(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        replaced = errors.default_for_status(request, response.status_code)
        if "Allow" in response:
            replaced["Allow"] = response["Allow"]
        return replaced
