"""Evidence files of readiness assessments: checked (size, type by name *and* leading bytes),
stored through Django's storage API under a content-addressed key, and described for the
assessment's evidence snapshot (decision 0010).

A file is stored before the service that records the assessment runs, under
``<organization id>/<sha256>``: a refused or failed service leaves at most a blob
nobody references, never a reference to a missing file, and the same bytes uploaded again
land on the same key."""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

# Content type -> (file name endings, leading bytes; None: text, checked as UTF-8).
KNOWN_TYPES: dict[str, tuple[tuple[str, ...], bytes | None]] = {
    "application/pdf": ((".pdf",), b"%PDF-"),
    "image/png": ((".png",), b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": ((".jpg", ".jpeg"), b"\xff\xd8\xff"),
    "text/csv": ((".csv",), None),
    "text/plain": ((".txt",), None),
}
TYPE_NAMES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "text/csv": "CSV",
    "text/plain": "plain text",
}
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_HEAD = 8192
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class StoredFile:
    """An evidence file as the assessment's evidence snapshot records it."""

    name: str
    size: int
    content_type: str
    sha256: str
    storage_key: str

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "contentType": self.content_type,
            "sha256": self.sha256,
            "storageKey": self.storage_key,
        }


def allowed_types() -> list[str]:
    return list(settings.REGISTRA_EVIDENCE_TYPES)


def accepted_description() -> str:
    """What the file field accepts, for its help text."""
    kinds = ", ".join(TYPE_NAMES[t] for t in allowed_types())
    return f"{kinds}; at most {filesizeformat(settings.REGISTRA_EVIDENCE_MAX_BYTES)} each."


def check(upload: UploadedFile) -> str:
    """The file's content type, or a ValidationError saying why it is refused."""
    name = PurePath(upload.name or "").name
    limit = settings.REGISTRA_EVIDENCE_MAX_BYTES
    if not upload.size:
        raise forms.ValidationError(f"{name} is empty.")
    if upload.size > limit:
        raise forms.ValidationError(
            f"{name} is {filesizeformat(upload.size)}: "
            f"the limit is {filesizeformat(limit)} per file."
        )
    content_type = _type_by_name(name)
    if content_type is None:
        raise forms.ValidationError(
            f"{name}: only {', '.join(TYPE_NAMES[t] for t in allowed_types())} files are accepted."
        )
    if not _content_matches(content_type, _head(upload)):
        raise forms.ValidationError(
            f"{name} does not contain {TYPE_NAMES[content_type]} data, whatever its name says."
        )
    return content_type


def _type_by_name(name: str) -> str | None:
    ending = PurePath(name.lower()).suffix
    for content_type in allowed_types():
        if ending in KNOWN_TYPES[content_type][0]:
            return content_type
    return None


def _head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(_HEAD)
    upload.seek(0)
    return bytes(head)


def _content_matches(content_type: str, head: bytes) -> bool:
    magic = KNOWN_TYPES[content_type][1]
    if magic is not None:
        return head.startswith(magic)
    if b"\x00" in head or any(head.startswith(m) for _, m in KNOWN_TYPES.values() if m):
        return False
    try:  # the head may end inside a character: decode it as the start of a stream
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def store(organization_id: str, upload: UploadedFile, content_type: str) -> StoredFile:
    """Hash the file while streaming it, then keep it under its content-addressed key."""
    digest, size = hashlib.sha256(), 0
    upload.seek(0)
    for chunk in upload.chunks(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    sha256 = digest.hexdigest()
    key = storage_key(organization_id, sha256)
    if not default_storage.exists(key):
        upload.seek(0)
        saved = default_storage.save(key, upload)
        if saved != key:  # the same bytes arrived at once from another request: keep one
            default_storage.delete(saved)
    name = PurePath(upload.name or "evidence").name
    return StoredFile(name, size, content_type, sha256, key)


def storage_key(organization_id: str, sha256: str) -> str:
    return f"{organization_id}/{sha256}"


def find(evidence_snapshot: dict[str, Any] | None, sha256: str) -> dict[str, Any] | None:
    """The file entry of ``sha256`` in an evidence snapshot, if it lists one."""
    if not SHA256_RE.match(sha256):
        return None
    for entry in (evidence_snapshot or {}).get("files") or []:
        if isinstance(entry, dict) and entry.get("sha256") == sha256 and entry.get("storageKey"):
            return entry
    return None
