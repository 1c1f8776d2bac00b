"""``/api/v1/organization``: the token's own organization."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from registra.api.v1 import readers
from registra.api.v1.auth import BearerScope
from registra.api.v1.errors import json_response
from registra.api.v1.records import ORGANIZATION, OrganizationOneOut
from registra.api.v1.schemas import errors_out
from registra.organizations.selectors import TokenContext

router = Router(tags=["organization"], auth=BearerScope("organization:read"))


@router.get(
    "/organization",
    response={200: OrganizationOneOut, **errors_out(400, 401, 403, 429)},
    summary="Get the organization of the token",
)
def get_organization(request: HttpRequest) -> HttpResponse:
    ctx: TokenContext = request.auth  # type: ignore[attr-defined]  # set by BearerScope
    row = readers.organization(ctx.organization_id)
    return json_response({"organization": readers.as_records(ORGANIZATION, [row])[0]})
