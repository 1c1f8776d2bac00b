"""The asset page (read-only): fields and snapshots, computed readiness with its reasons, custody
and readiness history, the asset's audit trail, and the as-of view of a past moment.

Controls for writes link to the pages of other areas by URL name only, and only while that name
exists, so the page never links to a page that is not there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from registra.assets import selectors
from registra.assets.choices import AssessmentStatus, AssetStatus, AssignmentKind, CustodyStatus
from registra.assets.models import Asset, CustodyAssignment, ReadinessAssessment
from registra.core.errors import NotFound
from registra.core.timefmt import now
from registra.organizations.models import Organization
from registra.organizations.policy import Permission, may
from registra.web import display
from registra.web.forms import AsOfForm
from registra.web.pages import organization_page


def _url(name: str, slug: str, **kwargs: str) -> str:
    """The URL of ``web:<name>`` in this organization."""
    return reverse(f"web:{name}", kwargs={"slug": slug, **kwargs})


@dataclass(frozen=True)
class CustodyRow:
    """A custody assignment as the page shows it: the holder's name and email at the time."""

    assignment: CustodyAssignment
    holder: str
    email: str
    end_url: str | None = None

    @property
    def snapshot(self) -> dict[str, Any]:
        return self.assignment.assignment_snapshot or {}


def _holder(c: CustodyAssignment) -> tuple[str, str]:
    snap = c.assignment_snapshot or {}
    email = str(snap.get("holderEmail") or "")
    return str(snap.get("holderName") or email or c.subject_resource_id), email


def _custody_rows(custody: list[CustodyAssignment], slug: str, writable: bool) -> list[CustodyRow]:
    rows = []
    for c in custody:
        end = None
        if writable and c.status == CustodyStatus.ACTIVE:
            end = _url("custody-end", slug, asset_id=c.asset_id, custody_id=c.id)
        rows.append(CustodyRow(c, *_holder(c), end_url=end))
    return rows


def _controls(asset: Asset, slug: str, writable: bool, held: bool) -> dict[str, str]:
    """Links to the write pages this member may use on this asset (only pages that exist)."""
    if not writable or asset.status == AssetStatus.DECOMMISSIONED:
        return {}
    names = {
        "edit": "asset-edit",
        "status": "asset-status",
        "decommission": "asset-decommission",
        "assign": "custody-assign",
        "schedule": "readiness-schedule",
    }
    if held:
        names["hand_off"] = "custody-hand-off"
    links = {key: _url(name, slug, asset_id=asset.id) for key, name in names.items()}
    return {key: url for key, url in links.items() if url}


@dataclass(frozen=True)
class AssessmentRow:
    """An assessment with its posture and evidence snapshots as labelled entries."""

    assessment: ReadinessAssessment
    posture: list[display.Entry]
    evidence: list[display.Entry]
    actions: dict[str, str]
    files: list[EvidenceLink]


@dataclass(frozen=True)
class EvidenceLink:
    """An evidence file of an assessment, with its download link."""

    name: str
    size: Any
    sha256: str
    url: str


_OPEN = (AssessmentStatus.SCHEDULED, AssessmentStatus.IN_PROGRESS)


def _assessment_actions(r: ReadinessAssessment, slug: str, writable: bool) -> dict[str, str]:
    """Start, complete, cancel: the moves an open assessment allows, for writers."""
    if not writable or r.status not in _OPEN:
        return {}
    names: tuple[str, ...] = ("complete", "cancel")
    if r.status == AssessmentStatus.SCHEDULED:
        names = ("start", *names)
    ids = {"asset_id": r.asset_id, "assessment_id": r.id}
    return {n: _url(f"readiness-{n}", slug, **ids) for n in names}


def _evidence(r: ReadinessAssessment, slug: str) -> tuple[dict[str, Any], list[EvidenceLink]]:
    """The evidence snapshot without its stored files, and those files as download links
    (files recorded without a stored copy, e.g. by an import, stay entries)."""
    evidence = dict(r.evidence_snapshot or {})
    stored = [f for f in evidence.get("files") or [] if isinstance(f, dict) and f.get("storageKey")]
    if not stored:
        return evidence, []
    evidence.pop("files")
    ids = {"asset_id": r.asset_id, "assessment_id": r.id}
    links = [
        EvidenceLink(
            f["name"], f.get("size"), f["sha256"], _url("evidence", slug, **ids, sha256=f["sha256"])
        )
        for f in stored
    ]
    return evidence, links


def _assessment_rows(
    assessments: list[ReadinessAssessment], slug: str, writable: bool
) -> list[AssessmentRow]:
    rows = []
    for r in assessments:
        evidence, files = _evidence(r, slug)
        posture = display.entries(r.posture_snapshot or {})
        actions = _assessment_actions(r, slug, writable)
        rows.append(AssessmentRow(r, posture, display.entries(evidence), actions, files))
    return rows


def _responsibility_names(asset: Asset) -> dict[str, str]:
    ra = asset.custodian_responsibility
    return {ra.id: ra.title} if ra else {}


def _as_of(
    request: HttpRequest, org: Organization, detail: selectors.AssetDetail
) -> dict[str, Any]:
    """The as-of form and, when it names a valid past moment, the asset at that moment."""
    raw = request.GET.get("as_of", "").strip()
    form = AsOfForm({"as_of": raw} if raw else None)
    if not raw or not form.is_valid():
        return {"as_of_form": form, "as_of": None}
    state = selectors.asset_as_of(org, detail, at=form.cleaned_data["as_of"])
    fields = None
    if state.fields is not None:
        names = _responsibility_names(detail.asset)
        fields = display.field_entries(state.fields, responsibilities=names)
    holders = _custody_rows(state.holders, org.slug, writable=False)  # type: ignore[arg-type]
    primary = holders[0] if state.primary is not None else None  # primary comes first
    return {
        "as_of_form": form,
        "as_of": state,
        "as_of_fields": fields,
        "as_of_primary": primary,
        "as_of_others": holders[1:] if primary else holders,
    }


def _fields(detail: selectors.AssetDetail) -> list[tuple[str, display.Value]]:
    """The asset's own fields, labelled as everywhere else on the page."""
    a, label, v = detail.asset, display.FIELD_LABELS, display.as_value
    ra = a.custodian_responsibility
    custodian = ""
    if ra is not None:
        holder = (ra.holder.full_name or ra.holder.email) if ra.holder else "nobody"
        custodian = f"{ra.title} (held by {holder})"
    rows = [
        (label[key], v(value))
        for key, value in (
            ("assetKey", a.asset_key),
            ("displayName", a.display_name),
            ("assetKind", a.asset_kind),
            ("status", a.status),
            ("description", a.description),
            ("sourceKind", a.source_kind),
            ("custodianResponsibilityId", custodian),
            ("commissionedAt", a.commissioned_at),
            ("decommissionedAt", a.decommissioned_at),
        )
    ]
    if a.decommissioned_at:
        rows.append(("Disposal authorization", v(a.disposal_authorization)))
        rows.append(("Decommissioned by", v(_decommissioned_by(detail))))
    rows += [("Registered", v(a.created_at)), ("Last updated", v(a.updated_at)), ("Id", v(a.id))]
    return rows


def _decommissioned_by(detail: selectors.AssetDetail) -> str:
    for event in reversed(detail.events):
        if event.action == "asset.decommissioned":
            return event.actor_label or event.actor_id
    return detail.asset.decommissioned_by_id


@organization_page(Permission.READ_REGISTER)
def asset(request: HttpRequest, asset_id: str) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    try:
        detail = selectors.asset_detail(org, asset_id)
    except NotFound:
        raise Http404("no such asset") from None
    at = now()
    writable = may(request.actor, Permission.WRITE_REGISTER)  # type: ignore[attr-defined]
    a = detail.asset
    held = any(
        c.status == CustodyStatus.ACTIVE and c.assignment_kind == AssignmentKind.PRIMARY
        for c in detail.custody
    )
    as_of = _as_of(request, org, detail)
    context = {
        "asset": a,
        "now": at,
        "readiness": selectors.asset_readiness(org, a, at=at, assessments=detail.assessments),
        "kinds": selectors.asset_kinds_readiness(org, detail, at=at),
        "snapshots": [
            (display.FIELD_LABELS[name], display.snapshot_entries(name, getattr(a, attr)))
            for name, attr in (
                ("assetSnapshot", "asset_snapshot"),
                ("classificationSnapshot", "classification_snapshot"),
                ("sourceRefSnapshot", "source_ref_snapshot"),
            )
        ],
        "custody": _custody_rows(detail.custody, org.slug, writable),
        "assessments": _assessment_rows(detail.assessments, org.slug, writable),
        "trail": [display.event_view(e) for e in reversed(detail.events)],
        "fields": _fields(detail),
        "controls": _controls(a, org.slug, writable, held),
        **as_of,
    }
    status = 400 if as_of["as_of_form"].errors else 200
    return render(request, "web/asset_detail.html", context, status=status)
