"""The audit log's query (actor, action, subject, dates, free text, position), as the URL
carries it. Dates are days of the organization's time zone (the page runs in it)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils import timezone

from registra.organizations.selectors import SYSTEM_ACTORS, AuditFilter

# The query parameters of the filter (the form's fields but the position).
AUDIT_FILTER_FIELDS = ("actor", "action", "subject", "since", "until", "q")
_ACTION = RegexValidator(
    r"^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)+$",
    "must be a dotted action id in lower case, such as asset.created",
)
_SUBJECT = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_:.-]*$",
    "must be one record's id, such as asset_01J9Z3K4X5Y6Z7A8B9C0D1E2F3 (letters, digits, _ : . -)",
)


def _day_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "must be a date as YYYY-MM-DD"},
    )


class AuditQuery(forms.Form):
    """The audit log's whole state; ``actors`` are the (id, name) pairs the actor may be."""

    actor = forms.ChoiceField(
        label="Actor",
        required=False,
        error_messages={
            "invalid_choice": "must be one of the listed members, service accounts or system jobs"
        },
    )
    action = forms.CharField(label="Action", required=False, max_length=80, validators=[_ACTION])
    subject = forms.CharField(
        label="Subject id", required=False, max_length=64, validators=[_SUBJECT]
    )
    since = _day_field("From")
    until = _day_field("To")
    q = forms.CharField(label="Search", required=False, max_length=200)
    before = forms.IntegerField(
        required=False,
        min_value=2,
        widget=forms.HiddenInput,
        error_messages={
            "invalid": "this page link is not valid: start again from the newest events",
            "min_value": "this page link is not valid: start again from the newest events",
        },
    )

    def __init__(self, *args: Any, actors: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["actor"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Anyone"), *actors, (SYSTEM_ACTORS, "Any system job")]
        zone = timezone.get_current_timezone_name()
        self.fields["since"].label = f"From ({zone})"
        self.fields["until"].label = f"To ({zone}, inclusive)"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "must be on or after the From date")
        return data

    def filter(self) -> AuditFilter:
        d = self.cleaned_data
        until: date | None = d["until"]
        return AuditFilter(
            actor=d["actor"],
            action=d["action"].strip(),
            subject=d["subject"].strip(),
            since=_start_of(d["since"]),
            until=_start_of(until + timedelta(days=1)) if until else None,
            search=d["q"].strip(),
        )

    def position(self) -> int | None:
        """The sequence number the page starts below (None: the newest events)."""
        before: int | None = self.cleaned_data["before"]
        return before


def _start_of(day: date | None) -> datetime | None:
    """Midnight at the start of ``day`` in the current (the organization's) time zone."""
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
