"""``POST /api/v1/auth/token``: the client-credentials grant."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from ninja import Router

from registra.api.v1 import ratelimit
from registra.api.v1.errors import json_response
from registra.api.v1.middleware import client_address, refusal
from registra.api.v1.schemas import TokenOut, errors_out
from registra.core.errors import ValidationFailed
from registra.organizations.services import token_issue

router = Router(tags=["auth"])

TOKEN_REQUEST = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["grant_type", "client_id", "client_secret"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {
                        "type": "string",
                        "minLength": 1,
                        "examples": ["svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA"],
                    },
                    "client_secret": {"type": "string", "minLength": 1},
                },
            }
        }
    },
}


def _body(request: HttpRequest) -> dict[str, Any]:
    request.GET  # noqa: B018  # the query-parameter limit holds here too (TooManyFieldsSent)
    raw = request.body  # over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 (errors.failure_parts)
    content_type = request.content_type or ""
    if content_type == "application/x-www-form-urlencoded":
        try:
            return QueryDict(raw).dict()
        except TooManyFieldsSent:
            raise ValidationFailed(
                "the body has too many fields",
                issues=[
                    {
                        "path": ["body"],
                        "message": f"has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields",
                    }
                ],
            ) from None
    try:
        body = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise ValidationFailed(
            "the body must be a JSON object",
            issues=[{"path": ["body"], "message": "must be a JSON object"}],
        ) from None
    if not isinstance(body, dict):
        raise ValidationFailed(
            "the body must be a JSON object",
            issues=[{"path": ["body"], "message": "must be a JSON object"}],
        )
    return body


def _require(body: dict[str, Any]) -> tuple[str, str]:
    issues = [
        {"path": [name], "message": "is required and must be a string"}
        for name in ("grant_type", "client_id", "client_secret")
        if not isinstance(body.get(name), str) or not body.get(name)
    ]
    issues += [
        {"path": [name], "message": "must not contain NUL (U+0000) characters"}
        for name in ("client_id", "client_secret")
        if isinstance(body.get(name), str) and "\x00" in body[name]
    ]
    if not issues and body["grant_type"] != "client_credentials":
        issues.append({"path": ["grant_type"], "message": "must be client_credentials"})
    if issues:
        raise ValidationFailed("the token request is not valid", issues=issues)
    return body["client_id"], body["client_secret"]


def _count_grant(request: HttpRequest, client_id: str) -> None:
    """The token endpoint's limit per client id (429 when reached); ``ApiV1Middleware`` has
    counted the one per address."""
    buckets = ratelimit.count_grant_client(client_id)
    request.rate_buckets = buckets  # type: ignore[attr-defined]  # headers: ApiV1Middleware
    refused = refusal(buckets[0])
    if refused is not None:
        raise refused


@router.post(
    "/auth/token",
    response={200: TokenOut, **errors_out(400, 401, 413, 429)},
    openapi_extra={"requestBody": TOKEN_REQUEST},
    summary="Get an access token (client credentials)",
    auth=None,
)
def issue_token(request: HttpRequest) -> HttpResponse:
    """Exchange a service account's client id and secret for a 900-second bearer token."""
    client_id, client_secret = _require(_body(request))
    address = client_address(request)
    _count_grant(request, client_id)
    issued = token_issue(client_id=client_id, client_secret=client_secret, client_address=address)
    response = json_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
        }
    )
    response["Cache-Control"] = "no-store"
    return response
