"""Signed checkpoints of the audit chain, driven through ``registra audit checkpoint`` and
``registra audit verify --checkpoint``: exit 0 intact, 1 broken or mismatched, 2 unusable input.
Tampering is done as an intruder with database access would: ``update`` and ``delete`` on rows."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.test import override_settings

from registra.cli import main
from registra.core import audit
from registra.core.audit import event_hash, verify_chain
from registra.core.models import AuditChainHead, AuditEvent
from registra.organizations.models import Organization

pytestmark = pytest.mark.django_db

SORTED = orjson.OPT_SORT_KEYS
OTHER_KEY = "another-install-audit-key-" + "x" * 20


def _org(slug: str, service_accounts: int) -> Organization:
    """An organization with 1 + ``service_accounts`` audit events, written by the CLI."""
    assert main(["org", "create", "--slug", slug, "--name", slug.title()]) == 0
    for i in range(service_accounts):
        _service_account(slug, i)
    return Organization.objects.get(slug=slug)


def _service_account(slug: str, i: int) -> None:
    args = ["service-account", "create", "--org", slug, "--name", f"Integration {i}"]
    assert main([*args, "--scopes", "assets:read"]) == 0


def _checkpoint(slug: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    capsys.readouterr()
    assert main(["audit", "checkpoint", "--org", slug]) == 0
    out = capsys.readouterr().out
    path = tmp_path / f"{slug}-checkpoint.json"
    path.write_text(out)
    return path


def _verify(slug: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", "verify", "--org", slug, *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _head(org: Organization) -> AuditChainHead:
    return AuditChainHead.objects.get(organization_id=org.id)


# --- the checkpoint ----------------------------------------------------------------------------


def test_checkpoint_names_the_organization_and_the_head(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 2)

    text = _checkpoint("acme", tmp_path, capsys).read_text()
    body = orjson.loads(text)

    head = _head(org)
    assert set(body) == {
        "version",
        "organizationId",
        "organizationSlug",
        "seq",
        "headHash",
        "createdAt",
        "keyId",
        "signature",
    }
    assert (body["organizationId"], body["organizationSlug"]) == (org.id, "acme")
    assert (body["seq"], body["headHash"]) == (3, head.hash) == (head.seq, head.hash)
    assert body["keyId"] == head.key_id == audit.audit_keys().key_id
    assert body["createdAt"].endswith("Z") and len(body["signature"]) == 64
    # Neither the audit key nor a key derived from it appears in the file.
    keys = audit.audit_keys()
    for secret in (settings.REGISTRA_AUDIT_KEY, keys.chain.hex(), keys.checkpoint.hex()):
        assert secret not in text


def test_checkpoint_then_verify_is_intact(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _org("acme", 2)
    path = _checkpoint("acme", tmp_path, capsys)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 0
    assert "intact: 3 events verified; it holds the checkpoint at sequence 3" in out


def test_checkpoint_from_before_later_honest_events_still_verifies(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 1)
    path = _checkpoint("acme", tmp_path, capsys)
    for i in range(3):
        _service_account("acme", 10 + i)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 0, out
    assert "intact: 5 events verified; it holds the checkpoint at sequence 2" in out
    assert _head(org).seq == 5


def test_checkpoint_of_a_broken_chain_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 2)
    AuditEvent.objects.filter(organization_id=org.id, seq=2).update(reason="Edited afterwards")
    capsys.readouterr()

    assert main(["audit", "checkpoint", "--org", "acme"]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "BROKEN, no checkpoint signed" in captured.err and "edited" in captured.err


def test_checkpoint_of_an_unknown_organization_is_a_usage_error(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["audit", "checkpoint", "--org", "nope"]) == 2
    assert "organization 'nope' not found" in capsys.readouterr().err


# --- what a checkpoint catches that plain verification cannot ---------------------------------


def test_tail_deleted_with_the_head_rolled_back_is_caught_by_the_checkpoint(
    tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 4)
    path = _checkpoint("acme", tmp_path, capsys)
    third = AuditEvent.objects.get(organization_id=org.id, seq=3)
    AuditEvent.objects.filter(organization_id=org.id, seq__gt=3).delete()
    AuditChainHead.objects.filter(organization_id=org.id).update(seq=3, hash=third.hash)

    # Without a checkpoint the shortened chain is consistent: this is why checkpoints exist.
    assert verify_chain(org.id).ok
    code, out = _verify("acme", capsys)
    assert (code, "intact: 3 events verified" in out) == (0, True)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 1
    assert "BROKEN" in out
    assert "ends at sequence 3 but the checkpoint recorded sequence 5" in out
    assert "head rolled back" in out


def test_tail_replaced_after_a_rollback_is_caught_by_the_checkpoint(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 4)
    path = _checkpoint("acme", tmp_path, capsys)
    third = AuditEvent.objects.get(organization_id=org.id, seq=3)
    AuditEvent.objects.filter(organization_id=org.id, seq__gt=3).delete()
    AuditChainHead.objects.filter(organization_id=org.id).update(seq=3, hash=third.hash)
    # The application then goes on writing honest events over the removed ones.
    for i in range(3):
        _service_account("acme", 20 + i)
    assert verify_chain(org.id).ok

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    fifth = AuditEvent.objects.get(organization_id=org.id, seq=5)
    assert code == 1
    assert f"event {fifth.id} (sequence 5) has hash {fifth.hash}" in out
    assert "rewritten after the checkpoint" in out


def test_tail_rewritten_with_the_key_is_caught_by_the_checkpoint(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    # Someone holding the audit key (an insider) re-hashes an edited tail, head included:
    # plain verification cannot see it, the checkpoint taken before can.
    org = _org("acme", 4)
    path = _checkpoint("acme", tmp_path, capsys)
    rows = list(AuditEvent.objects.filter(organization_id=org.id, seq__gte=2).order_by("seq"))
    prev = AuditEvent.objects.get(organization_id=org.id, seq=1).hash
    for row in rows:
        row.reason = "Rewritten by an insider who holds the key"
        row.prev_hash, row.hash = prev, event_hash(prev, row)
        prev = row.hash
        AuditEvent.objects.filter(id=row.id).update(
            reason=row.reason, prev_hash=row.prev_hash, hash=row.hash
        )
    AuditChainHead.objects.filter(organization_id=org.id).update(hash=prev)
    assert verify_chain(org.id).ok

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 1
    assert f"event {rows[-1].id} (sequence 5)" in out and "rewritten after the checkpoint" in out


def test_an_edited_chain_fails_verify_with_a_checkpoint_too(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 2)
    path = _checkpoint("acme", tmp_path, capsys)
    second = AuditEvent.objects.get(organization_id=org.id, seq=2)
    AuditEvent.objects.filter(id=second.id).update(reason="Edited after the checkpoint")

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 1
    assert f"event {second.id} (sequence 2) was edited" in out


# --- unusable checkpoint files: exit 2, naming the problem ------------------------------------


def _tampered(path: Path, **changes: object) -> Path:
    body = orjson.loads(path.read_bytes())
    body.update(changes)
    out = path.with_name("tampered.json")
    out.write_bytes(orjson.dumps(body))
    return out


@pytest.mark.parametrize(
    "changes",
    [
        {"seq": 2},
        {"headHash": "0" * 64},
        {"createdAt": "2020-01-01T00:00:00.000Z"},
        {"organizationSlug": "someone-else"},
        {"signature": "0" * 64},
    ],
    ids=["seq", "headHash", "createdAt", "organizationSlug", "signature"],
)
def test_a_tampered_checkpoint_is_refused(changes, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _org("acme", 2)
    path = _tampered(_checkpoint("acme", tmp_path, capsys), **changes)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 2
    assert f"checkpoint file {path}: the signature does not match" in out


def test_a_checkpoint_forged_with_another_key_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    # A forger who knows the file format but not the audit key pins a shorter chain, signs the
    # fields with a key of his own and keeps the real key id: the signature does not match.
    org = _org("acme", 2)
    forged = orjson.loads(_checkpoint("acme", tmp_path, capsys).read_bytes())
    second = AuditEvent.objects.get(organization_id=org.id, seq=2)
    forged.update(seq=2, headHash=second.hash)
    signed = orjson.dumps({k: v for k, v in forged.items() if k != "signature"}, option=SORTED)
    forged["signature"] = hmac.digest(OTHER_KEY.encode(), signed, "sha256").hex()
    path = tmp_path / "forged.json"
    path.write_bytes(orjson.dumps(forged))

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 2
    assert "the signature does not match: the file was edited or forged" in out


def test_a_checkpoint_of_another_organization_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    other = _org("globex", 2)
    _org("acme", 2)
    path = _checkpoint("globex", tmp_path, capsys)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 2
    assert f"the checkpoint is of organization globex ({other.id})" in out
    assert _verify("globex", capsys, "--checkpoint", str(path))[0] == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2, 3]", "must hold a JSON object"),
        (b'{"seq": 3}', "is not a Registra audit checkpoint (missing version, organizationId"),
    ],
    ids=["bad-json", "not-an-object", "missing-fields"],
)
def test_a_file_that_is_not_a_checkpoint_is_refused(content, problem, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _org("acme", 0)
    path = tmp_path / "checkpoint.json"
    path.write_bytes(content)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))

    assert code == 2
    assert f"checkpoint file {path}: {problem}" in out


def test_a_checkpoint_with_wrong_types_or_extra_fields_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _org("acme", 1)
    path = _checkpoint("acme", tmp_path, capsys)

    code, out = _verify("acme", capsys, "--checkpoint", str(_tampered(path, seq="2")))
    assert (code, "seq must be a JSON integer" in out) == (2, True)
    code, out = _verify("acme", capsys, "--checkpoint", str(_tampered(path, note="mine")))
    assert (code, "(unknown note)" in out) == (2, True)


def test_an_unreadable_checkpoint_file_is_refused(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    _org("acme", 1)
    path = _checkpoint("acme", tmp_path, capsys)
    moved = tmp_path / "elsewhere.json"
    path.rename(moved)

    code, out = _verify("acme", capsys, "--checkpoint", str(path))
    assert code == 2
    assert f"checkpoint file {path}: cannot be read (No such file or directory)" in out

    code, out = _verify("acme", capsys, "--checkpoint", str(tmp_path))
    assert code == 2
    assert f"checkpoint file {tmp_path}: cannot be read" in out


# --- the key ----------------------------------------------------------------------------------


def test_a_wrong_audit_key_fails_clearly(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    org = _org("acme", 2)
    path = _checkpoint("acme", tmp_path, capsys)
    real_id = audit.audit_keys().key_id

    with override_settings(REGISTRA_AUDIT_KEY=OTHER_KEY):
        other_id = audit.audit_keys().key_id
        code, out = _verify("acme", capsys)
        assert code == 1
        assert f"sealed with audit key {real_id} but the configured key is {other_id}" in out
        assert "REGISTRA_AUDIT_KEY is not the key this chain was written with" in out

        code, out = _verify("acme", capsys, "--checkpoint", str(path))
        assert code == 2
        assert f"signed with audit key {real_id} but the configured key is {other_id}" in out

        assert main(["audit", "checkpoint", "--org", "acme"]) == 1

    assert real_id != other_id
    assert _verify("acme", capsys, "--checkpoint", str(path))[0] == 0
    assert _head(org).key_id == real_id


def _registra(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRA_DATA_DIR": str(data_dir)}
    for name in ("DATABASE_URL", "REGISTRA_AUDIT_KEY"):
        env.pop(name, None)
    exe = os.path.join(os.path.dirname(sys.executable), "registra")
    return subprocess.run(
        [exe, *argv], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_lost_generated_key_file_makes_verify_fail_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The embedded setup for real: SQLite and the generated key in the data directory, then the
    # key file removed, as a restore that forgot it would.
    assert _registra(tmp_path, "migrate").returncode == 0
    assert _registra(tmp_path, "org", "create", "--slug", "acme", "--name", "Acme").returncode == 0
    checkpoint = _registra(tmp_path, "audit", "checkpoint", "--org", "acme")
    assert checkpoint.returncode == 0, checkpoint.stderr
    (tmp_path / "checkpoint.json").write_text(checkpoint.stdout)
    old_id = orjson.loads(checkpoint.stdout)["keyId"]
    verify_with_checkpoint = ("audit", "verify", "--org", "acme", "--checkpoint")
    verify_with_checkpoint += (str(tmp_path / "checkpoint.json"),)

    (tmp_path / "audit_key").rename(tmp_path / "audit_key.lost")
    result = _registra(tmp_path, "audit", "verify", "--org", "acme")

    assert result.returncode == 1
    assert (
        f"the chain was sealed with audit key {old_id} but the configured key is" in result.stderr
    )
    result = _registra(tmp_path, *verify_with_checkpoint)
    assert result.returncode == 2
    assert f"it was signed with audit key {old_id} but the configured key is" in result.stderr

    (tmp_path / "audit_key.lost").replace(tmp_path / "audit_key")
    result = _registra(tmp_path, *verify_with_checkpoint)
    assert result.returncode == 0, result.stderr
