"""``POST /api/v1/auth/token``: the client-credentials grant."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, QueryDict
from ninja import Router

from registra.api.v1.errors import json_response
from registra.api.v1.schemas import ErrorOut, TokenOut
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
                    "client_id": {"type": "string", "examples": ["svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA"]},
                    "client_secret": {"type": "string"},
                },
            }
        }
    },
}


def _body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type == "application/x-www-form-urlencoded":
        return QueryDict(request.body).dict()
    try:
        body = orjson.loads(request.body or b"")
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


@router.post(
    "/auth/token",
    response={200: TokenOut, **{s: ErrorOut for s in (400, 401, 429, 500)}},
    openapi_extra={"requestBody": TOKEN_REQUEST},
    summary="Get an access token (client credentials)",
    auth=None,
)
def issue_token(request: HttpRequest) -> HttpResponse:
    """Exchange a service account's client id and secret for a 900-second bearer token."""
    client_id, client_secret = _require(_body(request))
    issued = token_issue(
        client_id=client_id,
        client_secret=client_secret,
        client_address=request.META.get("REMOTE_ADDR", ""),
    )
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
