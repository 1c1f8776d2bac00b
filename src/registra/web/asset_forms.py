"""The asset write forms: create and edit (the asset's fields, its snapshot as structured fields
with specifications as name/value rows, its classification from the organization's levels),
change status, decommission.

A form parses what the person typed. The services check the rules (required fields, lengths,
keys) and their refusals come back next to these fields through ``SERVICE_FIELDS`` and
``registra.web.errors``. An edit sends only what the person changed, so a field nobody
touched keeps its stored value (and its type) and the audit event lists only real changes."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from django import forms

from registra.assets.choices import ASSET_TRANSITIONS, AssetStatus
from registra.assets.models import Asset, CustodyAssignment
from registra.assets.services import CREATABLE_STATUSES
from registra.core.timefmt import api_format, now
from registra.organizations.models import ResponsibilityAssignment
from registra.web.forms import ReasonField

SPEC_BLANK_ROWS = 3
SPEC_MAX_ROWS = 60
SEVERITIES = ("low", "moderate", "high", "critical")
KEEP_LEVEL = "current"

# The services' field names (their ValidationFailed issue paths) -> the forms' fields.
SERVICE_FIELDS = {
    "assetKey": "asset_key",
    "assetKind": "asset_kind",
    "displayName": "display_name",
    "description": "description",
    "sourceKind": "source_kind",
    "status": "status",
    "custodianResponsibilityId": "custodian",
    "commissionedAt": "commissioned_at",
    "disposalAuthorization": "disposal_authorization",
    "decommissionedAt": "decommissioned_at",
    "reason": "reason",
}
# Form field -> the services' keyword, for the asset's own columns.
_COLUMNS = {
    "asset_key": "asset_key",
    "status": "status",
    "asset_kind": "asset_kind",
    "display_name": "display_name",
    "description": "description",
    "source_kind": "source_kind",
    "custodian": "custodian_responsibility_id",
    "commissioned_at": "commissioned_at",
}
# Form field -> key in the asset snapshot and in its acquisition (the keys demo.plan writes).
_SNAPSHOT_KEYS = {
    "manufacturer": "manufacturer",
    "model": "model",
    "serial_number": "serialNumber",
    "location": "location",
}
_ACQUISITION_KEYS = {
    "acquisition_date": "date",
    "supplier": "supplier",
    "purchase_order": "purchaseOrder",
    "cost_eur": "costEur",
}


class LocalDateTimeField(forms.DateTimeField):
    """A date and time in the organization's zone (the page runs in it), to the minute."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def has_changed(self, initial: Any, data: Any) -> bool:
        # The input shows minutes: a stored time with seconds is unchanged when left alone.
        if isinstance(initial, datetime):
            initial = initial.replace(second=0, microsecond=0)
        return super().has_changed(initial, data)


def _text(label: str, *, max_length: int | None = None, rows: int = 0) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows}) if rows else None
    return forms.CharField(label=label, required=False, max_length=max_length, widget=widget)


class ReasonForm(forms.Form):
    """Every mutation's reason."""

    reason = ReasonField()


class SpecificationRow(forms.Form):
    """One name/value row of the asset's specifications."""

    key = forms.CharField(label="Name", required=False, max_length=100)
    value = forms.CharField(label="Value", required=False, max_length=1000)


class BaseSpecificationRows(forms.BaseFormSet):  # type: ignore[type-arg]
    """The specifications as rows; an empty row is no specification."""

    noun = "specification"

    def clean(self) -> None:
        seen: set[str] = set()
        for row in self.forms:
            key = row.cleaned_data.get("key", "")
            value = row.cleaned_data.get("value", "")
            if value and not key:
                row.add_error("key", f"A {self.noun} needs a name.")
            elif key and not value:
                row.add_error("value", "Give a value, or clear the name to remove this row.")
            elif key and key in seen:
                row.add_error("key", f"“{key}” is named twice.")
            seen.add(key)

    def values(self, before: Mapping[str, Any]) -> dict[str, Any]:
        """The rows as a mapping; a value shown unchanged keeps its stored type."""
        out: dict[str, Any] = {}
        for row in self.forms:
            key, value = row.cleaned_data.get("key"), row.cleaned_data.get("value")
            if key:
                old = before.get(key)
                out[key] = old if old is not None and _shown(old) == value else value
        return out


SpecificationRows = forms.formset_factory(
    SpecificationRow,
    formset=BaseSpecificationRows,
    extra=SPEC_BLANK_ROWS,
    max_num=SPEC_MAX_ROWS,
    absolute_max=SPEC_MAX_ROWS,
    validate_max=True,
)


def _choices(form: forms.Form, name: str, choices: list[tuple[str, str]]) -> None:
    cast(forms.ChoiceField, form.fields[name]).choices = choices


def _shown(value: Any) -> str:
    """A snapshot value as a text input shows it."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A cleaned form value as JSON can hold it."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _merge(base: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``updates`` applied; an empty value (or mapping) removes its key."""
    out = dict(base)
    for key, value in updates.items():
        if value is None or value in ("", {}):
            out.pop(key, None)
        else:
            out[key] = _plain(value)
    return out


class AssetForm(ReasonForm):
    """Create (``asset=None``) or edit an asset. Editing shows no asset key (immutable) and no
    status (changed by its own transition page)."""

    asset_key = _text("Asset key")
    asset_kind = _text("Kind")
    display_name = _text("Name")
    description = _text("Description", rows=4)
    status = forms.ChoiceField(
        label="Status", choices=[(s, s) for s in CREATABLE_STATUSES], initial=AssetStatus.PLANNED
    )
    source_kind = forms.CharField(label="Source", required=False, initial="manual")
    custodian = forms.ChoiceField(label="Custodian responsibility", required=False)
    commissioned_at = LocalDateTimeField(label="Commissioned at", required=False)
    manufacturer = _text("Manufacturer", max_length=200)
    model = _text("Model", max_length=200)
    serial_number = _text("Serial number", max_length=200)
    location = _text("Location", max_length=200)
    acquisition_date = forms.DateField(
        label="Acquired on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    supplier = _text("Supplier", max_length=200)
    purchase_order = _text("Purchase order", max_length=200)
    cost_eur = forms.DecimalField(
        label="Cost (EUR)", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    classification = forms.ChoiceField(label="Classification level", required=False)
    criticality = forms.ChoiceField(label="Criticality", required=False)
    regulatory_class = _text("Regulatory class", max_length=200)

    field_order = ("asset_key", "asset_kind", "display_name", "description", "status")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        asset: Asset | None,
        responsibilities: Sequence[ResponsibilityAssignment],
        levels: Sequence[Mapping[str, Any]],
    ) -> None:
        self.asset = asset
        super().__init__(data, initial=_initial(asset) if asset else None)
        if asset is not None:
            del self.fields["asset_key"], self.fields["status"]
        custodians = [(ra.id, f"{ra.title} ({ra.responsibility_key})") for ra in responsibilities]
        _choices(self, "custodian", [("", "None"), *custodians])
        self.levels = {str(level["label"]): dict(level) for level in levels}
        _choices(self, "classification", self._level_choices())
        _choices(self, "criticality", self._criticality_choices())
        specs = self._before("asset_snapshot").get("specifications") or {}
        rows = [{"key": k, "value": _shown(v)} for k, v in specs.items()]
        self.specifications = cast(
            BaseSpecificationRows, SpecificationRows(data, prefix="spec", initial=rows)
        )

    def is_valid(self) -> bool:
        rows_valid = self.specifications.is_valid()  # both, so every error shows at once
        return super().is_valid() and rows_valid

    def clean_description(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; the register stores LF.
        return str(self.cleaned_data["description"]).replace("\r\n", "\n")

    def create_spec(self) -> dict[str, Any]:
        """``asset_create``'s keyword arguments (besides organization, actor and reason)."""
        return self._values(set(self.fields), rows_changed=True)

    def changes(self) -> dict[str, Any]:
        """``asset_update``'s changes: only the fields the person changed."""
        return self._values(set(self.changed_data), rows_changed=self.specifications.has_changed())

    def _values(self, changed: Collection[str], *, rows_changed: bool) -> dict[str, Any]:
        d = self.cleaned_data
        out = {k: d[name] for name, k in _COLUMNS.items() if name in changed and name in d}
        if "custodian_responsibility_id" in out:
            out["custodian_responsibility_id"] = out["custodian_responsibility_id"] or None
        for name, value in (
            ("asset_snapshot", self._asset_snapshot(changed, rows_changed)),
            ("classification_snapshot", self._classification_snapshot(changed)),
        ):
            if self.asset is None or value != self._before(name):
                out[name] = value
        return out

    def _before(self, snapshot: str) -> dict[str, Any]:
        return dict(getattr(self.asset, snapshot) or {}) if self.asset else {}

    def _asset_snapshot(self, changed: Collection[str], rows_changed: bool) -> dict[str, Any]:
        d, before = self.cleaned_data, self._before("asset_snapshot")
        snapshot = _merge(before, {k: d[n] for n, k in _SNAPSHOT_KEYS.items() if n in changed})
        acquisition = _merge(
            before.get("acquisition") or {},
            {k: d[n] for n, k in _ACQUISITION_KEYS.items() if n in changed},
        )
        specs = before.get("specifications") or {}
        if rows_changed:
            specs = self.specifications.values(specs)
        return _merge(snapshot, {"acquisition": acquisition, "specifications": specs})

    def _classification_snapshot(self, changed: Collection[str]) -> dict[str, Any]:
        d = self.cleaned_data
        updates: dict[str, Any] = {}
        if "classification" in changed and d["classification"] != KEEP_LEVEL:
            level = self.levels.get(d["classification"])
            updates = {"level": level, "classifiedAt": api_format(now()) if level else None}
        for name, key in (("criticality", "criticality"), ("regulatory_class", "regulatoryClass")):
            if name in changed:
                updates[key] = d[name]
        return _merge(self._before("classification_snapshot"), updates)

    def _level_choices(self) -> list[tuple[str, str]]:
        choices = [("", "None")]
        current = self._before("classification_snapshot").get("level")
        if current:
            choices.append((KEEP_LEVEL, f"{current.get('label', 'Unnamed level')} (current)"))
        for label, level in self.levels.items():
            choices.append((label, f"{label} (rank {level.get('rank')}, {level.get('severity')})"))
        return choices

    def _criticality_choices(self) -> list[tuple[str, str]]:
        values = list(SEVERITIES)
        current = self._before("classification_snapshot").get("criticality")
        if current and current not in values:  # recorded elsewhere: keep it selectable
            values.append(str(current))
        return [("", "Not set"), *((v, v) for v in values)]


def _initial(asset: Asset) -> dict[str, Any]:
    """The edit form's fields as the asset holds them."""
    snapshot = asset.asset_snapshot or {}
    acquisition = snapshot.get("acquisition") or {}
    classification = asset.classification_snapshot or {}
    initial: dict[str, Any] = {
        name: getattr(asset, column) for name, column in _COLUMNS.items() if name != "custodian"
    }
    initial["custodian"] = asset.custodian_responsibility_id or ""
    initial.update({n: snapshot.get(k) for n, k in _SNAPSHOT_KEYS.items()})
    initial.update({n: acquisition.get(k) for n, k in _ACQUISITION_KEYS.items()})
    initial["classification"] = KEEP_LEVEL if classification.get("level") else ""
    initial["criticality"] = classification.get("criticality") or ""
    initial["regulatory_class"] = classification.get("regulatoryClass") or ""
    return initial


class StatusForm(ReasonForm):
    """The moves the asset's status allows, except decommissioning (its own page: it needs a
    disposal authorization)."""

    status = forms.ChoiceField(label="New status")

    def __init__(self, data: Mapping[str, Any] | None = None, *, asset: Asset) -> None:
        super().__init__(data)
        _choices(self, "status", [(s, s) for s in next_statuses(asset)])


def next_statuses(asset: Asset) -> list[str]:
    allowed = ASSET_TRANSITIONS[asset.status] - {AssetStatus.DECOMMISSIONED}
    return sorted(str(s) for s in allowed)


class DecommissionForm(ReasonForm):
    """The disposal authorization and when; ``custody_shown`` names the custody assignments the
    page listed, so a change since then is caught before it is confirmed."""

    disposal_authorization = forms.CharField(
        label="Disposal authorization",
        required=False,
        help_text="The reference of the document that authorizes the disposal.",
    )
    decommissioned_at = LocalDateTimeField(
        label="Decommissioned at",
        required=False,
        help_text="Empty: now. An earlier time may not precede a custody assignment it ends.",
    )
    custody_shown = forms.CharField(required=False, widget=forms.HiddenInput)

    def custody_unchanged(self, custody: Sequence[CustodyAssignment]) -> bool:
        return self.cleaned_data["custody_shown"] == custody_ids(custody)


def custody_ids(custody: Sequence[CustodyAssignment]) -> str:
    return " ".join(c.id for c in custody)
