"""Token checks for handlers: the middleware resolved the bearer token; handlers demand a
scope. The organization always comes from the token."""

from __future__ import annotations

from django.http import HttpRequest

from registra.core.errors import Forbidden, Unauthenticated
from registra.organizations.selectors import TokenContext


def require_scope(request: HttpRequest, scope: str) -> TokenContext:
    ctx: TokenContext | None = getattr(request, "api_token", None)
    if ctx is None:
        raise Unauthenticated(
            "a valid bearer token is required: missing, malformed, unknown, expired or revoked"
        )
    if scope not in ctx.scopes:
        raise Forbidden(f"this token lacks the {scope} scope")
    return ctx
