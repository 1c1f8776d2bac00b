"""The CMMS import's profile file forms: a profile file (TOML) to create a profile from, and
the second step of importing one that names an existing profile (replace it). A file's
problems come back by their path in the file (``columns.assetKey: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from registra.web.forms import ReasonField
from registra.web.import_run_forms import size_text
from registra_client import ProfileError, loads_profile, profile_to_dict

PROFILE_FILE_MAX_BYTES = 256 * 1024


def _profile_of(text: str) -> dict[str, Any]:
    """The profile in a TOML file's text, as the service takes it; every problem (by its path
    in the file) as the field's errors."""
    try:
        return profile_to_dict(loads_profile(text))
    except ProfileError as exc:
        problems = [f"{path}: {message}" if path else message for path, message in exc.issues]
        raise forms.ValidationError(problems) from None


class ProfileFileForm(forms.Form):
    """A profile file (TOML) to create a profile from, and why; ``cleaned_data`` holds the
    file's ``text`` and its ``definition``."""

    file = forms.FileField(label="Profile file (TOML)", required=False)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = size_text(PROFILE_FILE_MAX_BYTES)
        self.fields["file"].help_text = f"A .toml file as “Export” downloads it; at most {limit}."
        self.fields["file"].widget.attrs["accept"] = ".toml"

    def clean_file(self) -> str:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError("Choose the profile file (.toml).")
        if Path(upload.name or "").suffix.lower() != ".toml":
            raise forms.ValidationError("A profile file ends in .toml.")
        if (upload.size or 0) > PROFILE_FILE_MAX_BYTES:
            limit = size_text(PROFILE_FILE_MAX_BYTES)
            raise forms.ValidationError(f"A profile file is at most {limit}.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text: is it a TOML file?") from None
        self.cleaned_data["definition"] = _profile_of(text)
        self.cleaned_data["text"] = text
        return text


class ReplaceProfileForm(forms.Form):
    """The second step of importing a file that names an existing profile: replace it. The
    file comes back as text in a hidden field (nothing is uploaded twice), with the reason."""

    text = forms.CharField(widget=forms.HiddenInput, max_length=PROFILE_FILE_MAX_BYTES, strip=False)
    reason = ReasonField()

    def clean_text(self) -> str:
        text = str(self.cleaned_data["text"])
        self.cleaned_data["definition"] = _profile_of(text)
        return text
