"""Token checks for handlers: the middleware resolved the bearer token; handlers demand a
scope. The organization always comes from the token."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

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


class BearerScope(HttpBearer):
    """Router auth for the register's operations. The middleware already resolved the token;
    this demands the scope before ninja validates any parameter, so 401 and 403 come before
    400 (who may not read learns nothing about the parameters), and it documents the bearer
    scheme in the OpenAPI document."""

    openapi_description = "An access token from POST /api/v1/auth/token (client credentials)."

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> TokenContext:
        ctx = require_scope(request, self.scope)
        # Django's limit on the number of query parameters (DATA_UPLOAD_MAX_NUMBER_FIELDS), for
        # every operation alike, also those that read none: past it, parsing the query string
        # raises TooManyFieldsSent, which the error handler answers as 400 validation.
        request.GET  # noqa: B018
        return ctx

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        raise NotImplementedError("__call__ reads the token the middleware resolved")
