"""Signed checkpoints of an audit chain, kept by an auditor outside the database.

A checkpoint names an organization, a sequence number and the hash of the event at that
sequence, with the time it was taken, signed with an HMAC whose key is derived from the audit
key (distinct from the chain key). Verifying a chain against one also proves that the chain
still holds that event with that hash, so a rewritten or truncated tail, head rolled back and
all, is caught. Decision record 0005.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from registra.core.audit import ChainReport, audit_keys, verify_chain
from registra.core.errors import ValidationFailed
from registra.core.models import AuditEvent
from registra.core.timefmt import api_format, now

VERSION = 1
_HASH_RE = re.compile(r"[0-9a-f]{64}")
# Field name -> JSON type, in the order a checkpoint file lists them.
_FIELDS: dict[str, type] = {
    "version": int,
    "organizationId": str,
    "organizationSlug": str,
    "seq": int,
    "headHash": str,
    "createdAt": str,
    "keyId": str,
    "signature": str,
}


class ChainBroken(Exception):
    """The chain does not verify, so no checkpoint of it is signed."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(report.problem)
        self.report = report


@dataclass(frozen=True)
class Checkpoint:
    """A signed (organization, sequence, hash, time) of an audit chain."""

    organization_id: str
    organization_slug: str
    seq: int
    head_hash: str
    created_at: str
    key_id: str
    signature: str

    def _signed_fields(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "organizationId": self.organization_id,
            "organizationSlug": self.organization_slug,
            "seq": self.seq,
            "headHash": self.head_hash,
            "createdAt": self.created_at,
            "keyId": self.key_id,
        }

    def to_json(self) -> str:
        """The checkpoint file's text (the signature covers every other field)."""
        body = {**self._signed_fields(), "signature": self.signature}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()


def _signature(fields: dict[str, Any]) -> str:
    message = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hmac.digest(audit_keys().checkpoint, message, "sha256").hex()


def checkpoint_create(*, organization_id: str, organization_slug: str) -> Checkpoint:
    """Verify the organization's chain and sign a checkpoint of its last event.

    Raises ``ChainBroken`` when the chain does not verify: signing a checkpoint of a tampered
    chain would vouch for the tampering."""
    report = verify_chain(organization_id)
    if not report.ok:
        raise ChainBroken(report)
    if report.checked == 0:
        raise ValidationFailed("the organization has no audit events yet: nothing to checkpoint")
    last = AuditEvent.objects.get(organization_id=organization_id, seq=report.checked)
    unsigned = Checkpoint(
        organization_id=organization_id,
        organization_slug=organization_slug,
        seq=last.seq,
        head_hash=last.hash,
        created_at=api_format(now()) or "",
        key_id=audit_keys().key_id,
        signature="",
    )
    return replace(unsigned, signature=_signature(unsigned._signed_fields()))


def _refused(path: Path, problem: str) -> ValidationFailed:
    return ValidationFailed(f"checkpoint file {path}: {problem}")


def _parse(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _refused(path, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _refused(path, f"is not valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise _refused(path, "must hold a JSON object")
    missing = [name for name in _FIELDS if name not in body]
    unknown = sorted(set(body) - set(_FIELDS))
    details = [
        f"{label} {', '.join(names)}"
        for label, names in (("missing", missing), ("unknown", unknown))
        if names
    ]
    if details:
        raise _refused(path, f"is not a Registra audit checkpoint ({'; '.join(details)})")
    for name, kind in _FIELDS.items():
        if type(body[name]) is not kind:
            raise _refused(path, f"{name} must be a JSON {'integer' if kind is int else 'string'}")
    return body


def checkpoint_load(path: Path) -> Checkpoint:
    """Read and authenticate a checkpoint file; any unusable input is ``ValidationFailed``
    naming the problem (unreadable, not JSON, not a checkpoint, other key, bad signature)."""
    body = _parse(path)
    if body["version"] != VERSION:
        raise _refused(path, f"version {body['version']} is not supported (expected {VERSION})")
    keys = audit_keys()
    if body["keyId"] != keys.key_id:
        raise _refused(
            path,
            f"it was signed with audit key {body['keyId']} but the configured key is "
            f"{keys.key_id}: REGISTRA_AUDIT_KEY is not the key the checkpoint was taken with",
        )
    signed = {name: body[name] for name in _FIELDS if name != "signature"}
    if not hmac.compare_digest(_signature(signed), body["signature"]):
        raise _refused(path, "the signature does not match: the file was edited or forged")
    if body["seq"] < 1 or not _HASH_RE.fullmatch(body["headHash"]):
        raise _refused(path, "seq or headHash is malformed")
    return Checkpoint(
        organization_id=body["organizationId"],
        organization_slug=body["organizationSlug"],
        seq=body["seq"],
        head_hash=body["headHash"],
        created_at=body["createdAt"],
        key_id=body["keyId"],
        signature=body["signature"],
    )


def verify_with_checkpoint(organization_id: str, checkpoint: Checkpoint) -> ChainReport:
    """Verify the chain and that it still holds the checkpoint's event with the checkpoint's
    hash. A checkpoint of another organization is ``ValidationFailed``."""
    if checkpoint.organization_id != organization_id:
        raise ValidationFailed(
            f"the checkpoint is of organization {checkpoint.organization_slug} "
            f"({checkpoint.organization_id}), not of the organization being verified "
            f"({organization_id})"
        )
    return verify_chain(organization_id, contains=(checkpoint.seq, checkpoint.head_hash))
