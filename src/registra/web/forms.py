"""Web UI forms: signing in, the register list's query (search, filters, sort, position),
the asset page's as-of moment, and the reason every mutation asks for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.core import signing
from django.http import HttpRequest
from django.utils import timezone

from registra.assets.choices import AssetStatus
from registra.assets.selectors import (
    READINESS_FILTERS,
    REGISTER_SORTS,
    RegisterFilter,
    RegisterSort,
)
from registra.organizations.models import Member

SIGN_IN_REFUSED = "Email or password is not correct."
_CURSOR_SALT = "registra.web.register"
_TIME_SORTS = {"created", "updated"}


class SignInForm(forms.Form):
    """Email and password (``LoginView``'s form: ``get_user`` after validation). The refusal
    never says whether the address has an account."""

    email = forms.EmailField(label="Email", max_length=254)
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        self.request = request
        self.member: Member | None = None
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update(autocomplete="email", autofocus=True)
        self.fields["password"].widget.attrs.update(autocomplete="current-password")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        member = authenticate(self.request, email=data["email"], password=data["password"])
        if member is None:
            raise forms.ValidationError(SIGN_IN_REFUSED, code="invalid_login")
        self.member = member  # type: ignore[assignment]
        return data

    def get_user(self) -> Member:
        assert self.member is not None
        return self.member


class ReasonField(forms.CharField):
    """Why, for the audit log: every mutation's form has one (10-1000 characters)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label="Reason",
            min_length=10,
            max_length=1000,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="Why, for the audit log (10-1000 characters).",
            **kwargs,
        )


def _sort_choices() -> list[tuple[str, str]]:
    return [(c, c) for name in REGISTER_SORTS for c in (name, f"-{name}")]


# The query parameters of the register's filter (its form's fields but sort and position).
FILTER_FIELDS = ("q", "status", "kind", "source", "readiness", "holder", "custodian")


class RegisterQuery(forms.Form):
    """The register list's whole state, as the URL carries it."""

    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *AssetStatus.choices]
    )
    kind = forms.CharField(label="Kind", required=False, max_length=64)
    source = forms.CharField(label="Source", required=False, max_length=64)
    readiness = forms.ChoiceField(
        label="Readiness",
        required=False,
        choices=[("", "Any readiness"), *READINESS_FILTERS.items()],
    )
    holder = forms.CharField(label="Holder", required=False, max_length=40)
    custodian = forms.CharField(label="Custodian responsibility", required=False, max_length=40)
    sort = forms.ChoiceField(label="Sort", required=False, choices=_sort_choices())
    after = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def filter(self) -> RegisterFilter:
        d = self.cleaned_data
        return RegisterFilter(
            search=d["q"].strip(),
            status=d["status"],
            kind=d["kind"],
            source=d["source"],
            readiness=d["readiness"],
            holder=d["holder"],
            custodian=d["custodian"],
        )

    def register_sort(self) -> RegisterSort:
        raw = self.cleaned_data["sort"] or "key"
        return RegisterSort(column=raw.lstrip("-"), descending=raw.startswith("-"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                data["position"] = self._position(str(data["after"]).strip())
            except forms.ValidationError as exc:
                self.add_error("after", exc)
        return data

    def position(self) -> tuple[Any, str] | None:
        """The keyset position after which the page starts (None: the first page)."""
        position: tuple[Any, str] | None = self.cleaned_data["position"]
        return position

    def _position(self, raw: str) -> tuple[Any, str] | None:
        """The keyset position of ``after``; a cursor of another filter or sort is refused."""
        if not raw:
            return None
        try:
            binding, value, last_id = signing.loads(raw, salt=_CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise forms.ValidationError(
                "this page link is not valid: start again from page 1"
            ) from None
        if binding != self._binding():
            raise forms.ValidationError("this page link belongs to another search or sort")
        if self.register_sort().column in _TIME_SORTS:
            value = datetime.fromisoformat(value)
        return value, str(last_id)

    def next_cursor(self, position: tuple[Any, str]) -> str:
        value, last_id = position
        if isinstance(value, datetime):
            value = value.isoformat()
        return signing.dumps([self._binding(), value, last_id], salt=_CURSOR_SALT)

    def _binding(self) -> list[str]:
        flt, sort = self.filter(), self.register_sort()
        return [
            flt.search,
            flt.status,
            flt.kind,
            flt.source,
            flt.readiness,
            flt.holder,
            flt.custodian,
            sort.column,
            str(sort.descending),
        ]


class AsOfForm(forms.Form):
    """A past moment for the asset page's as-of view (``?as_of=2026-05-01T10:00``), read in the
    organization's time zone (the page runs in it)."""

    as_of = forms.DateTimeField(
        label="Date and time",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["as_of"].label = f"Date and time ({zone})"

    def clean_as_of(self) -> datetime:
        value: datetime = self.cleaned_data["as_of"]
        if value > timezone.now():
            raise forms.ValidationError("must not be in the future: pick a past date and time")
        return value
