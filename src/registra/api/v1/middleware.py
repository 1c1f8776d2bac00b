"""API v1 edge: bearer token resolution, rate limits with their headers on every response,
and the error envelope for responses the framework makes itself (unknown paths, 405)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from registra.api.v1 import errors, ratelimit
from registra.organizations.selectors import TokenContext, access_token_resolve

PREFIX = "/api/v1/"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip() or " " in value.strip():
        return None
    return value.strip()


class ApiV1Middleware:
    """Runs only for ``/api/v1/`` paths; everything else passes straight through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        raw = bearer_token(request)
        ctx = access_token_resolve(raw) if raw else None
        request.api_token = ctx  # type: ignore[attr-defined]
        buckets = self._count(request, ctx)
        bucket = ratelimit.nearest_exhaustion(buckets)
        if bucket.exceeded:
            retry = max(1, bucket.reset - int(time.time()))
            response = errors.error_response(
                request,
                status=429,
                code="rate_limited",
                message=f"rate limit of {bucket.limit} requests per minute reached "
                f"({bucket.name} bucket); retry in {retry} s",
            )
            response["Retry-After"] = str(retry)
        else:
            response = self.get_response(request)
            response = self._envelope(request, response)
        response["X-RateLimit-Limit"] = str(bucket.limit)
        response["X-RateLimit-Remaining"] = str(bucket.remaining)
        response["X-RateLimit-Reset"] = str(bucket.reset)
        response["X-RateLimit-Bucket"] = bucket.name
        return response

    @staticmethod
    def _count(request: HttpRequest, ctx: TokenContext | None) -> list[ratelimit.Bucket]:
        if ctx is None:
            # No valid token: count against a per-address read bucket, which also slows
            # credential guessing on the token endpoint.
            address = request.META.get("REMOTE_ADDR", "unknown")
            return ratelimit.count_request(
                token_key=f"anon:{address}", organization_id=None, is_read=True
            )
        return ratelimit.count_request(
            token_key=ctx.token_id,
            organization_id=ctx.organization_id,
            is_read=request.method in READ_METHODS,
        )

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
