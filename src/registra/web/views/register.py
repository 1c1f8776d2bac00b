"""The register list (search, filters, sort, keyset pages, all in the URL) and its CSV export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from registra.assets import selectors
from registra.core.csvcells import csv_chunks
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, may
from registra.web.forms import FILTER_FIELDS, RegisterQuery
from registra.web.pages import organization_page
from registra.web.views.bulk import FILTER_PREFIX, bulk_forms

PAGE_SIZE = 50
EXPORT_HEADER = (
    "id",
    "assetKey",
    "displayName",
    "assetKind",
    "status",
    "sourceKind",
    "description",
    "commissionedAt",
    "decommissionedAt",
    "createdAt",
    "updatedAt",
    "readiness",
    "nextDue",
    "readinessReasons",
)
# (sort name, column heading) in the order the table shows them.
HEADINGS = (
    ("key", "Asset key"),
    ("name", "Name"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("source", "Source"),
    ("updated", "Updated"),
)
# Not sortable: computed readiness (shown after the sortable columns).


def _query(request: HttpRequest) -> RegisterQuery | HttpResponse:
    """The valid query of the URL, or the list page with the errors next to the fields (400):
    what the person typed stays in the form."""
    form = RegisterQuery(request.GET)
    if form.is_valid():
        return form
    org = request.organization  # type: ignore[attr-defined]
    context = {"form": form, "rows": [], "invalid": True, **_choices(org)}
    return render(request, "web/register.html", context, status=400)


def _state(form: RegisterQuery, **changes: str) -> str:
    """The query string of the list's current state with ``changes`` (empty values dropped)."""
    data = {k: form.cleaned_data.get(k) or "" for k in (*FILTER_FIELDS, "sort")}
    data.update(changes)
    return urlencode({k: v for k, v in data.items() if v})


def _choices(org: Organization) -> dict[str, Any]:
    """The options of the kind, holder and custodian filters."""
    return {
        "kinds": selectors.register_kinds(org),
        "holders": org_selectors.active_members(org),
        "custodians": org_selectors.responsibility_list(org),
    }


def _headings(form: RegisterQuery) -> list[dict[str, Any]]:
    sort = form.register_sort()
    out = []
    for name, label in HEADINGS:
        active = sort.column == name
        flip = f"-{name}" if active and not sort.descending else name
        direction = ("descending" if sort.descending else "ascending") if active else "none"
        out.append({"label": label, "query": _state(form, sort=flip), "aria_sort": direction})
    return out


@organization_page(Permission.READ_REGISTER)
def register(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    form = _query(request)
    if isinstance(form, HttpResponse):
        return form
    choices = _choices(org)
    writer = may(request.actor, Permission.WRITE_REGISTER, organization=org)  # type: ignore[attr-defined]
    rows, after = selectors.register_page(
        org,
        form.filter(),
        form.register_sort(),
        after=form.position(),
        limit=PAGE_SIZE,
    )
    filter_fields = [
        (f"{FILTER_PREFIX}-{n}", form.cleaned_data[n])
        for n in FILTER_FIELDS
        if form.cleaned_data[n]
    ]
    context = {
        "nav": "register",
        "form": form,
        "filter_fields": filter_fields,
        "rows": rows,
        "headings": _headings(form),
        **choices,
        "bulk": bulk_forms(org, choices["holders"], choices["custodians"]) if writer else None,
        "state": _state(form),
        "next_query": _state(form, after=form.next_cursor(after)) if after else "",
        "first_query": _state(form) if form.position() else None,
    }
    return render(request, "web/register.html", context)


@organization_page(Permission.READ_REGISTER)
def export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The current filter and sort as CSV, streamed; timestamps in the organization's zone."""
    org = request.organization  # type: ignore[attr-defined]
    form = _query(request)
    if isinstance(form, HttpResponse):
        return form
    rows = selectors.register_export_rows(org, form.filter(), form.register_sort())
    # The response is consumed after the view returns: the organization's zone goes along.
    lines = csv_chunks(EXPORT_HEADER, rows, timezone.get_current_timezone())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-register-{stamp}.csv"'
    return response
