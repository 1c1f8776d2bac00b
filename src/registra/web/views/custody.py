"""Custody of one asset: assign it to a member, hand it off from the current holder to another
in one step, end an assignment. Handing over a not-ready asset needs an explicit override with
a reason, and the page says why the asset is not ready."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from registra.assets import selectors
from registra.assets import services as asset_services
from registra.assets.choices import AssignmentKind
from registra.core.errors import RegistraError
from registra.organizations import selectors as org_selectors
from registra.organizations.models import Member
from registra.organizations.policy import Permission
from registra.web.asset_forms import ReasonForm
from registra.web.errors import or_404, show_on_form
from registra.web.forms import ReasonField
from registra.web.pages import form_page, organization_page, to_asset

# Service field names -> form fields.
FIELDS = {
    "memberId": "member",
    "assignmentKind": "kind",
    "overrideReason": "override_reason",
    "reason": "reason",
    "endedAt": "reason",
}


class CustodyForm(forms.Form):
    """Assign or hand off: who takes the asset, and why."""

    member = forms.ChoiceField(label="Holder")
    location = forms.CharField(label="Location", required=False, max_length=200)
    condition_notes = forms.CharField(
        label="Condition notes",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reason = ReasonField()
    override_reason = forms.CharField(
        label="Override: why hand over an asset that is not ready",
        min_length=10,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, holders: list[tuple[str, str]], ready: bool, **kw: Any):
        super().__init__(*args, **kw)
        self.fields["member"].choices = [("", "Choose a member"), *holders]  # type: ignore[attr-defined]
        if ready:
            del self.fields["override_reason"]


class AssignForm(CustodyForm):
    kind = forms.ChoiceField(label="Kind of custody", choices=AssignmentKind.choices)
    field_order = ("member", "kind", "location", "condition_notes", "reason")


def holder_choices(members: Sequence[Member], exclude: str | None = None) -> list[tuple[str, str]]:
    """These (active) members as holder choices ("Name (email)"), but ``exclude``."""
    return [(m.id, f"{m.full_name or m.email} ({m.email})") for m in members if m.id != exclude]


def _custody_page(request: HttpRequest, asset_id: str, *, hand_off: bool) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    asset = or_404(selectors.asset_get, org, asset_id)
    current = selectors.active_primary(org, asset.id)
    readiness = selectors.asset_readiness(org, asset, at=timezone.now())
    form_class = CustodyForm if hand_off else AssignForm
    holders = holder_choices(
        org_selectors.active_members(org), exclude=current.subject_resource_id if current else None
    )
    form = form_class(request.POST or None, holders=holders, ready=readiness.is_ready)
    title = "Hand off custody" if hand_off else "Assign custody"
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        common = {
            "organization": org,
            "actor": request.actor,  # type: ignore[attr-defined]
            "reason": d["reason"],
            "asset_id": asset.id,
            "location": d["location"],
            "condition_notes": d["condition_notes"],
            "override_reason": d.get("override_reason") or None,
        }
        try:
            if hand_off:
                asset_services.custody_hand_off(**common, to_member_id=d["member"])
            else:
                asset_services.custody_assign(
                    **common, member_id=d["member"], assignment_kind=d["kind"]
                )
        except RegistraError as exc:
            show_on_form(form, exc, FIELDS)
        else:
            name = dict(holders)[d["member"]]
            verb = "handed off" if hand_off else "assigned"
            messages.success(request, f"{asset.asset_key} {verb} to {name}.")
            return to_asset(request, asset)
    context = {
        "asset": asset,
        "form": form,
        "readiness": readiness,
        "current": current,
        "holder": org_selectors.member_get(org, current.subject_resource_id) if current else None,
        "title": title,
        "hand_off": hand_off,
    }
    return form_page(request, "web/custody_form.html", context)


@organization_page(Permission.WRITE_REGISTER)
def assign(request: HttpRequest, asset_id: str) -> HttpResponse:
    return _custody_page(request, asset_id, hand_off=False)


@organization_page(Permission.WRITE_REGISTER)
def hand_off(request: HttpRequest, asset_id: str) -> HttpResponse:
    return _custody_page(request, asset_id, hand_off=True)


@organization_page(Permission.WRITE_REGISTER)
def end(request: HttpRequest, asset_id: str, custody_id: str) -> HttpResponse:
    org = request.organization  # type: ignore[attr-defined]
    asset = or_404(selectors.asset_get, org, asset_id)
    assignment = or_404(selectors.custody_assignment_get, org, asset.id, custody_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            asset_services.custody_end(
                organization=org,
                actor=request.actor,  # type: ignore[attr-defined]
                reason=form.cleaned_data["reason"],
                assignment_id=assignment.id,
            )
        except RegistraError as exc:
            show_on_form(form, exc, FIELDS)
        else:
            messages.success(request, f"Custody {assignment.assignment_key} ended.")
            return to_asset(request, asset)
    holder = org_selectors.member_get(org, assignment.subject_resource_id)
    context = {"asset": asset, "assignment": assignment, "holder": holder, "form": form}
    return form_page(request, "web/custody_end.html", context)
