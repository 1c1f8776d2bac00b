"""The CMMS import's run forms: a file uploaded to plan it with a profile, and the run page's
plan filter. (Applying and discarding a plan take only a reason: ``ReasonForm``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from registra.imports.choices import ItemKind
from registra.web.forms import ReasonField

MB = 1024 * 1024


def upload_limit_bytes() -> int:
    return int(settings.REGISTRA_IMPORT_MAX_UPLOAD_MB) * MB


def size_text(n: int) -> str:
    """A file size as the forms' help and messages say it ("20 MB", "256 KiB")."""
    return f"{n / MB:.0f} MB" if n >= MB else f"{n / 1024:.0f} KiB"


class RunUploadForm(forms.Form):
    """A CMMS export to plan with a profile (a preview: nothing changes), and why."""

    file = forms.FileField(label="CMMS export file", required=False)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        endings = settings.REGISTRA_IMPORT_EXTENSIONS
        self.fields["file"].help_text = (
            f"{', '.join(endings)}; at most {size_text(upload_limit_bytes())}. The plan is shown "
            "for review: nothing changes in the register until it is applied."
        )
        self.fields["file"].widget.attrs["accept"] = ",".join(endings)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError("Choose the CMMS export file to plan.")
        ending = Path(upload.name or "").suffix.lower()
        if ending not in settings.REGISTRA_IMPORT_EXTENSIONS:
            accepted = ", ".join(settings.REGISTRA_IMPORT_EXTENSIONS)
            shown = ending or "(nothing)"
            raise forms.ValidationError(
                f"A file ending in {shown} is not accepted: use {accepted}."
            )
        if (upload.size or 0) > upload_limit_bytes():
            size, limit = size_text(upload.size or 0), size_text(upload_limit_bytes())
            raise forms.ValidationError(
                f"The file is {size}: at most {limit} "
                "is accepted here (operators run larger files with `registra import run`)."
            )
        return upload


class PlanQuery(forms.Form):
    """The run page's plan filter and position, as the URL carries them."""

    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "All items"), *ItemKind.choices]
    )
    q = forms.CharField(label="Asset key starts with", required=False, max_length=200)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
