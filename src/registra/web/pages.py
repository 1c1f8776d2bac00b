"""What every organization page needs first: the organization of the URL, the session's
membership in it, the role check from the one policy table, and the organization's time zone.

A page of an organization the person has no active membership in is a 404 (it does not say
whether the organization exists); a page the member's role may not see is a 403."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from registra.assets.models import Asset
from registra.core.errors import NotFound
from registra.organizations import selectors as org_selectors
from registra.organizations.choices import OrganizationStatus
from registra.organizations.policy import Permission, actor_for_member, may
from registra.web import second_factor
from registra.web.auth import MEMBERSHIPS

View = Callable[..., HttpResponseBase]


def organization_page(
    permission: Permission, *, second_factor_page: bool = False
) -> Callable[[View], View]:
    """Decorate a view of ``/o/<slug>/...``: it receives ``request.organization``,
    ``request.member`` and ``request.actor``, and runs in the organization's time zone.

    A member whose membership has an authenticator is first sent to give its code, and where
    the organization requires a second factor, a member without one to set one up
    (``second_factor``); the pages doing that pass ``second_factor_page``."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def page(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                organization = org_selectors.organization_get_by_slug(slug)
            except NotFound:
                raise Http404("no such organization") from None
            member = None
            if organization.status == OrganizationStatus.ACTIVE:
                ids = list(request.session.get(MEMBERSHIPS, []))
                member = org_selectors.member_signed_in(organization, ids)
            if member is None:
                raise Http404("no such organization")
            step = second_factor.needed(request, member, organization)
            if step is not None and not second_factor_page:
                target = "web:mfa-verify" if step == second_factor.VERIFY else "web:mfa-enrol"
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse(target, kwargs={'slug': slug})}?{query}")
            actor = actor_for_member(member)
            if not may(actor, permission, organization=organization):
                raise PermissionDenied(f"your role ({member.role}) may not see this page")
            request.organization = organization  # type: ignore[attr-defined]
            request.member = member  # type: ignore[attr-defined]
            request.actor = actor  # type: ignore[attr-defined]
            with timezone.override(organization.zone):
                return view(request, *args, **kwargs)

        return page

    return decorate


def asset_url(request: HttpRequest, asset: Asset) -> str:
    """The asset's page."""
    slug = request.organization.slug  # type: ignore[attr-defined]
    return reverse("web:asset", kwargs={"slug": slug, "asset_id": asset.id})


def form_page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int | None = None
) -> HttpResponse:
    """A write page: 200 when shown, 400 when a POST comes back to it (refused, the form
    holding its errors and everything typed), or ``status`` when the service refused with its
    own (a conflict's 409, an unprocessable request's 422)."""
    if status is None:
        status = 400 if request.method == "POST" else 200
    return render(request, template, context, status=status)


def org_url(request: HttpRequest, name: str, **kwargs: str) -> str:
    """The URL of the page ``web:<name>`` of this request's organization."""
    slug = request.organization.slug  # type: ignore[attr-defined]
    return reverse(f"web:{name}", kwargs={"slug": slug, **kwargs})


def service_args(request: HttpRequest, reason: str) -> dict[str, Any]:
    """What every write of an organization page passes its service first: the organization,
    the signed-in member's actor, and the reason typed."""
    return {
        "organization": request.organization,  # type: ignore[attr-defined]
        "actor": request.actor,  # type: ignore[attr-defined]
        "reason": reason,
    }


def to_asset(request: HttpRequest, asset: Asset) -> HttpResponse:
    """Where a write on ``asset`` goes afterwards: its page."""
    return redirect(asset_url(request, asset))
