"""The readiness dashboard: overdue and due-soon assets by asset kind and by holder, with a
server-rendered chart; every number links to the register list filtered to those assets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from registra.assets import selectors
from registra.assets.selectors import ReadinessCounts
from registra.organizations import selectors as org_selectors
from registra.organizations.policy import Permission
from registra.web.pages import organization_page
from registra.web.views import import_profiles  # --- imports (issue 9) ---

# Chart geometry (SVG user units).
BAR_AREA, ROW_HEIGHT, LABEL_WIDTH = 360, 26, 210


@dataclass(frozen=True)
class Row:
    """One dashboard row: a label, its counts, and the register links of each count."""

    label: str
    counts: ReadinessCounts
    links: dict[str, str]


def _links(base: str, **filters: str) -> dict[str, str]:
    """The register list's URL for each count (keys as the counts' names): the dashboard
    counts active assets, so each link filters to active ones too."""
    return {
        name.replace(
            "-", "_"
        ): f"{base}?{urlencode({**filters, 'status': 'active', 'readiness': name})}"
        for name in ("not-ready", "overdue", "due-soon")
    }


def _chart(rows: list[Row]) -> dict[str, Any]:
    """Bars of overdue and due-soon assets per row, scaled to the largest count."""
    top = max([r.counts.overdue + r.counts.due_soon for r in rows] or [0]) or 1
    bars = []
    for i, r in enumerate(rows):
        overdue = BAR_AREA * r.counts.overdue / top
        soon = BAR_AREA * r.counts.due_soon / top
        bars.append(
            {
                "y": i * ROW_HEIGHT,
                "label": r.label,
                "overdue": round(overdue, 1),
                "soon_x": round(LABEL_WIDTH + overdue, 1),
                "soon": round(soon, 1),
                "counts": r.counts,
            }
        )
    return {
        "bars": bars,
        "height": max(len(rows), 1) * ROW_HEIGHT + 30,
        "width": LABEL_WIDTH + BAR_AREA + 60,
        "label_width": LABEL_WIDTH,
        "legend_y": max(len(rows), 1) * ROW_HEIGHT + 12,
    }


@organization_page(Permission.READ_REGISTER)
def dashboard(request: HttpRequest) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    at = timezone.now()
    base = reverse("web:register", kwargs={"slug": org.slug})
    by_kind, by_holder = selectors.readiness_dashboard(org, at=at)
    kinds = [Row(c.key, c, _links(base, kind=c.key)) for c in by_kind]
    names = {m.id: m.full_name or m.email for m in org_selectors.member_list(org)}
    holders = [Row(names.get(c.key, c.key), c, _links(base, holder=c.key)) for c in by_holder]
    totals = ReadinessCounts(
        key="all",
        active=sum(r.counts.active for r in kinds),
        not_ready=sum(r.counts.not_ready for r in kinds),
        overdue=sum(r.counts.overdue for r in kinds),
        due_soon=sum(r.counts.due_soon for r in kinds),
    )
    context = {
        "nav": "dashboard",
        "totals": totals,
        "total_links": _links(base),
        "kinds": kinds,
        "holders": holders,
        "chart": _chart(kinds),
        "window": org.due_soon_days,
        "at": at,
        **import_profiles.dashboard_panels(org),  # --- imports (issue 9) ---
    }
    return render(request, "web/dashboard.html", context)
