"""The audit log for auditors and admins: the filtered list (keyset pages, newest first, the
whole state in the URL, each event's before/after as a field diff), its CSV export, the chain's
verification and a signed checkpoint to keep outside the database. All reads: nothing here is
audited one by one (SPEC section 3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registra.core.audit import ChainReport, verify_chain
from registra.core.checkpoints import ChainBroken, checkpoint_create
from registra.core.csvcells import csv_chunks
from registra.core.errors import ValidationFailed
from registra.organizations import selectors
from registra.organizations.models import Organization
from registra.organizations.policy import Permission
from registra.web import display
from registra.web.audit_forms import AUDIT_FILTER_FIELDS, AuditQuery
from registra.web.pages import organization_page

PAGE_SIZE = 50
EXPORT_HEADER = (
    "seq",
    "id",
    "occurredAt",
    "actorType",
    "actorId",
    "actorLabel",
    "action",
    "subjectType",
    "subjectId",
    "reason",
    "diff",
    "prevHash",
    "hash",
)


def _query(request: HttpRequest) -> AuditQuery | HttpResponse:
    """The valid query of the URL, or the log page naming each refused field and its rule
    (400), with everything typed kept in the form."""
    org = request.organization  # type: ignore[attr-defined]
    form = AuditQuery(request.GET, actors=selectors.audit_actors(org))
    if form.is_valid():
        return form
    problems = [
        (form.fields[name].label or "Page link" if name in form.fields else "Query", message)
        for name, messages in form.errors.items()
        for message in messages
    ]
    context = {**_choices(org), "form": form, "invalid": True, "problems": problems}
    return render(request, "web/audit/log.html", context, status=400)


def _choices(org: Organization) -> dict[str, Any]:
    return {"nav": "audit", "actions": selectors.audit_actions(org)}


def _state(form: AuditQuery, **changes: Any) -> str:
    """The query string of the log's current state with ``changes`` (empty values dropped)."""
    data = {k: form.cleaned_data.get(k) or "" for k in AUDIT_FILTER_FIELDS}
    data.update(changes)
    return urlencode({k: v for k, v in data.items() if v})


@require_GET
@organization_page(Permission.READ_AUDIT)
def log(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    form = _query(request)
    if isinstance(form, HttpResponse):
        return form
    events, next_before = selectors.audit_page(
        org, form.filter(), before=form.position(), limit=PAGE_SIZE
    )
    context = {
        **_choices(org),
        "form": form,
        "events": [display.event_view(e) for e in events],
        "state": _state(form),
        "next_query": _state(form, before=next_before) if next_before else "",
        "first_query": _state(form) if form.position() else None,
    }
    return render(request, "web/audit/log.html", context)


@require_GET
@organization_page(Permission.READ_AUDIT)
def export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every event of the current filter (not only the page shown) as CSV, newest first,
    streamed; times in the organization's zone, cells formula-safe."""
    org = request.organization  # type: ignore[attr-defined]
    form = _query(request)
    if isinstance(form, HttpResponse):
        return form
    rows = selectors.audit_export_rows(org, form.filter())
    # The response is consumed after the view returns: the organization's zone goes along.
    lines = csv_chunks(EXPORT_HEADER, rows, timezone.get_current_timezone())
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{org.slug}-audit-{stamp}.csv"'
    return response


def _report_context(org: Organization, report: ChainReport) -> dict[str, Any]:
    """What the verify page says of a report: the last event that verifies and, when the
    chain is broken, the first bad event (None when it is missing, e.g. a deleted tail)."""
    bad = selectors.audit_event_get(org, report.bad_event_id) if report.bad_event_id else None
    last = selectors.audit_event_at(org, report.checked) if report.checked else None
    return {"report": report, "last": last, "bad": display.event_view(bad) if bad else None}


@require_http_methods(["GET", "POST"])
@organization_page(Permission.READ_AUDIT)
def verify(request: HttpRequest) -> HttpResponse:
    """GET: what verifying does, and the button; POST: verify the chain now, and say so."""
    org = request.organization  # type: ignore[attr-defined]
    context: dict[str, Any] = {"nav": "audit"}
    if request.method == "POST":
        context.update(_report_context(org, verify_chain(org.id)))
    return render(request, "web/audit/verify.html", context)


@require_POST
@organization_page(Permission.READ_AUDIT)
def checkpoint(request: HttpRequest) -> HttpResponse:
    """A signed checkpoint of the chain's last event, as a file; refused (409, on the verify
    page) when the chain does not verify or holds no event yet."""
    org = request.organization  # type: ignore[attr-defined]
    try:
        signed = checkpoint_create(organization_id=org.id, organization_slug=org.slug)
    except ChainBroken as exc:
        context = {
            "nav": "audit",
            "refused": "No checkpoint was signed: the chain does not verify.",
        }
        context.update(_report_context(org, exc.report))
        return render(request, "web/audit/verify.html", context, status=409)
    except ValidationFailed as exc:
        context = {"nav": "audit", "refused": f"No checkpoint was signed: {exc.message}."}
        return render(request, "web/audit/verify.html", context, status=409)
    response = HttpResponse(signed.to_json() + "\n", content_type="application/json")
    name = f"{org.slug}-audit-checkpoint-{signed.seq}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
