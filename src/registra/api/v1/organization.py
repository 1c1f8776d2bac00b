"""``/api/v1/organization``: the token's own organization."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from registra.api.v1.auth import BearerScope
from registra.api.v1.errors import json_response
from registra.api.v1.schemas import ErrorOut, OrganizationOneOut
from registra.core import db
from registra.organizations.selectors import TokenContext, organization_get

router = Router(tags=["organization"], auth=BearerScope("organization:read"))


@router.get(
    "/organization",
    response={200: OrganizationOneOut, **{s: ErrorOut for s in (401, 403, 429, 500)}},
    summary="Get the organization of the token",
)
def get_organization(request: HttpRequest) -> HttpResponse:
    ctx: TokenContext = request.auth  # type: ignore[attr-defined]  # set by BearerScope
    org = organization_get(ctx.organization_id, using=db.api_reads())
    return json_response(
        {
            "organization": {
                "id": org.id,
                "slug": org.slug,
                "name": org.name,
                "locale": org.locale,
                "timezone": org.timezone,
            }
        }
    )
