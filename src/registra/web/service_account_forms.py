"""The service-account form: create and edit (name, scopes, expiry, contact email, and the
reason). The rotate, disable, enable and delete pages ask for a reason only.

The form parses what the person typed; the service checks the rules (a name, at least one known
scope, an email address, an expiry in the future) and its refusals come back next to these
fields through ``SERVICE_FIELDS``."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils import timezone

from registra.organizations.choices import Scope
from registra.organizations.models import ServiceAccount
from registra.web.asset_forms import LocalDateTimeField, ReasonForm
from registra.web.forms import ReasonField

# The services' field names (their ValidationFailed issue paths) -> the form's fields.
SERVICE_FIELDS = {
    "name": "name",
    "scopes": "scopes",
    "contactEmail": "contact_email",
    "expiresAt": "expires_at",
    "reason": "reason",
}
SCOPE_CHOICES = [
    (Scope.ASSETS_READ.value, "assets:read: read the register (assets, custody, readiness)"),
    (Scope.ORGANIZATION_READ.value, "organization:read: read the organization's name and settings"),
]


class SubmissionField(forms.CharField):
    """A random id of the page the form was shown on, so that the view can tell a form sent
    twice (a reload of the secret's page re-sends the POST) from a new one."""

    def __init__(self) -> None:
        super().__init__(required=False, max_length=64, widget=forms.HiddenInput)

    def fresh(self) -> None:
        self.initial = secrets.token_urlsafe(16)


class ServiceAccountForm(forms.Form):
    """An API identity (new or edited) and why."""

    name = forms.CharField(
        label="Name",
        required=False,
        help_text="What uses it, e.g. “Nightly drift check”.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        required=False,
        choices=SCOPE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    expires_at = LocalDateTimeField(label="Expires", required=False)
    contact_email = forms.CharField(
        label="Contact email",
        required=False,
        help_text="Who to ask before rotating or disabling it.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    reason = ReasonField()
    submission = SubmissionField()

    def __init__(self, *args: Any, account: ServiceAccount | None = None, **kwargs: Any) -> None:
        if account is not None:
            kwargs["initial"] = {
                "name": account.name,
                "scopes": list(account.scopes),
                "expires_at": account.expires_at,
                "contact_email": account.contact_email,
            }
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["expires_at"].label = f"Expires ({zone})"
        self.fields["expires_at"].help_text = "Optional: leave empty for no expiry."
        if not self.is_bound:
            self.fields["submission"].fresh()  # type: ignore[attr-defined]

    def changed(self) -> bool:
        """Whether anything but the reason differs from the account shown."""
        return any(name not in {"reason", "submission"} for name in self.changed_data)

    def spec(self) -> dict[str, Any]:
        """The service's keywords from what was typed."""
        d = self.cleaned_data
        # The input shows minutes: an expiry left alone keeps its stored value.
        expires_at = d["expires_at"]
        if "expires_at" not in self.changed_data:
            expires_at = self.initial.get("expires_at", expires_at)
        return {
            "name": d["name"].strip(),
            "scopes": list(d["scopes"]),
            "expires_at": expires_at,
            "contact_email": d["contact_email"].strip(),
        }


class AccountActionForm(ReasonForm):
    """Rotate, disable, enable or delete: the reason, and the page's submission id."""

    submission = SubmissionField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.fields["submission"].fresh()  # type: ignore[attr-defined]
