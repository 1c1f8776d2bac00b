"""The readiness forms: schedule an assessment, confirm a start or a cancellation, record the
result with its posture (valid until / next due, measured values as name/value rows,
tolerance, limitations) and its evidence (certificate number, lab, files).

The services check the rules (a performed-at in the future, a valid-until before it) and their
refusals come back next to these fields through ``SERVICE_FIELDS``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict

from registra.assets.choices import ReadinessState
from registra.assets.models import ReadinessAssessment
from registra.core.timefmt import api_format
from registra.organizations.models import ResponsibilityAssignment
from registra.web import evidence
from registra.web.asset_forms import (
    BaseSpecificationRows,
    LocalDateTimeField,
    ReasonForm,
    SpecificationRow,
    _merge,
)

OTHER_KIND = ""
FILES_NOT_KEPT = "Files are not kept after an error: choose them again."

SERVICE_FIELDS = {
    "assessmentKind": "other_kind",
    "performedByResponsibilityId": "performer",
    "readinessState": "result",
    "performedAt": "performed_at",
    "validUntil": "valid_until",
    "reason": "reason",
}


def _performers(
    form: forms.Form, responsibilities: Sequence[ResponsibilityAssignment], empty: str
) -> None:
    choices = [(ra.id, f"{ra.title} ({ra.responsibility_key})") for ra in responsibilities]
    cast(forms.ChoiceField, form.fields["performer"]).choices = [("", empty), *choices]


class ScheduleForm(ReasonForm):
    """Which kind of assessment (one the organization requires of this asset's kind, or any
    other typed in), who performs it, and why."""

    kind = forms.ChoiceField(label="Assessment kind", required=False)
    other_kind = forms.CharField(
        label="Another kind",
        required=False,
        max_length=64,
        help_text="Used when no required kind is chosen above, e.g. inspection.",
    )
    performer = forms.ChoiceField(label="Performed by (responsibility)", required=False)
    field_order: tuple[str, ...] = ("kind", "other_kind", "performer", "reason")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        required_kinds: Sequence[str],
        responsibilities: Sequence[ResponsibilityAssignment],
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        if required_kinds:
            kinds = [(k, k) for k in required_kinds]
            cast(forms.ChoiceField, self.fields["kind"]).choices = [
                *kinds,
                (OTHER_KIND, "Another kind (type it below)"),
            ]
        else:
            del self.fields["kind"]
            self.fields["other_kind"].label = "Assessment kind"
            self.fields["other_kind"].help_text = "For example calibration or inspection."
        _performers(self, responsibilities, "Not named yet")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or str(data.get("other_kind") or "").strip()
        if not kind and "other_kind" not in self.errors:
            self.add_error("other_kind", "Choose a kind above or type one here.")
        data["assessment_kind"] = kind
        return data


class MeasuredValueRows(BaseSpecificationRows):
    """The measured values as name/value rows; an empty row is no value."""

    noun = "measured value"


MeasuredValues = forms.formset_factory(
    SpecificationRow,
    formset=MeasuredValueRows,
    extra=4,
    max_num=60,
    absolute_max=60,
    validate_max=True,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceFilesField(forms.FileField):
    """Any number of evidence files, each checked by ``registra.web.evidence``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[tuple[UploadedFile, str]]:
        uploads = data if isinstance(data, list | tuple) else [data] if data else []
        checked, errors = [], []
        for upload in uploads:
            super().clean(upload, initial)
            try:
                checked.append((upload, evidence.check(upload)))
            except forms.ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise forms.ValidationError([*errors, FILES_NOT_KEPT])
        return checked


def _result_choices() -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in ReadinessState if s != ReadinessState.UNKNOWN]


class CompleteForm(ReasonForm):
    """The result of an assessment: state, when, how long it holds, what was measured, and the
    evidence for it."""

    result = forms.ChoiceField(label="Result (readiness state)", choices=_result_choices)
    performed_at = LocalDateTimeField(label="Performed at")
    performer = forms.ChoiceField(label="Performed by (responsibility)", required=False)
    valid_until = LocalDateTimeField(label="Valid until", required=False)
    next_due = forms.DateField(
        label="Next due", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    tolerance = forms.CharField(label="Tolerance", required=False, max_length=500)
    limitations = forms.CharField(
        label="Limitations",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    certificate_number = forms.CharField(label="Certificate number", required=False, max_length=200)
    lab = forms.CharField(label="Lab", required=False, max_length=200)
    evidence_files = EvidenceFilesField(label="Evidence files", required=False)
    field_order = ("result", "performed_at", "performer", "valid_until", "next_due")

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        files: MultiValueDict[str, UploadedFile] | None = None,
        *,
        assessment: ReadinessAssessment,
        responsibilities: Sequence[ResponsibilityAssignment],
        zone: str,
    ) -> None:
        super().__init__(
            data, files, initial={"performer": assessment.performed_by_responsibility_id}
        )
        self.assessment = assessment
        _performers(self, responsibilities, "Not named")
        for name in ("performed_at", "valid_until"):
            self.fields[name].label = f"{self.fields[name].label} ({zone})"
        self.fields["evidence_files"].help_text = evidence.accepted_description()
        self.fields["performed_at"].help_text = "Not in the future."
        self.fields["valid_until"].help_text = "After the performed-at time; empty: no end."
        self.measured = cast(MeasuredValueRows, MeasuredValues(data, prefix="measured"))

    def is_valid(self) -> bool:
        rows_valid = self.measured.is_valid()  # both, so every error shows at once
        return super().is_valid() and rows_valid

    @property
    def files_not_kept(self) -> str:
        """Files were chosen but the form comes back with other errors: say to choose them
        again (a browser never keeps a file input's selection)."""
        chosen = self.is_bound and self.files and self.files.get("evidence_files")
        return (
            FILES_NOT_KEPT if chosen and self.errors and "evidence_files" not in self.errors else ""
        )

    def posture(self) -> dict[str, Any]:
        d = self.cleaned_data
        values = {
            "validUntil": api_format(d["valid_until"]) if d["valid_until"] else None,
            "nextDue": d["next_due"].isoformat() if d["next_due"] else None,
            "measuredValues": self.measured.values({}),
            "tolerance": d["tolerance"],
            "limitations": str(d["limitations"]).replace("\r\n", "\n"),
        }
        return _merge(self.assessment.posture_snapshot or {}, values)

    def evidence(self, stored: Sequence[evidence.StoredFile]) -> dict[str, Any]:
        d = self.cleaned_data
        before = dict(self.assessment.evidence_snapshot or {})
        files = [*(before.get("files") or []), *(f.snapshot() for f in stored)]
        values = {
            "certificateNumber": d["certificate_number"],
            "lab": d["lab"],
            "files": files or None,
        }
        return _merge(before, values)
