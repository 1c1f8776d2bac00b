"""``registra service-account rotate | disable | delete``: the operator's commands for an API
identity without the UI. Each acts through its service as the operator job, writes its audit
event, and refuses an unknown organization or client id with a clear message and exit code 2."""

from __future__ import annotations

import orjson
import pytest

from registra.cli import main
from registra.core.errors import Unauthenticated
from registra.core.models import AuditEvent
from registra.organizations.models import AccessToken, ServiceAccount
from registra.organizations.services import token_issue
from tests.cast import Cast, audit_mark, audit_since

pytestmark = pytest.mark.django_db
ORG = "skyline-mro"
UNKNOWN_ID = "svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA"


def _grant(account: ServiceAccount, secret: str) -> str:
    return token_issue(
        client_id=account.id, client_secret=secret, client_address="127.0.0.1"
    ).access_token


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The command's own error lines (the server's JSON log lines share stderr)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("registra")]


def _operator_events(cast: Cast, mark: int) -> list[tuple[str, str, str, str]]:
    return [
        (e.action, e.subject_id, e.actor_id, e.reason)
        for e in audit_since(cast.org, mark)
        if e.actor_id == "system:operator"
    ]


def test_rotate_prints_a_new_secret_and_the_old_one_dies(
    cast: Cast, capsys: pytest.CaptureFixture[str]
) -> None:
    account, old = cast.reader.account, cast.reader.secret
    _grant(account, old)
    mark = audit_mark(cast.org)
    argv = ["service-account", "rotate", "--org", ORG, "--client-id", account.id, "--json"]
    assert main(argv) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert out["clientId"] == account.id and out["clientSecret"] != old
    assert not AccessToken.objects.filter(service_account_id=account.id).exists()
    with pytest.raises(Unauthenticated):
        _grant(account, old)
    assert _grant(account, out["clientSecret"]).startswith("rtok_")
    assert _operator_events(cast, mark) == [
        (
            "service-account.secret-rotated",
            account.id,
            "system:operator",
            "Operator command line: registra service-account rotate",
        )
    ]
    assert AuditEvent.objects.get(action="service-account.secret-rotated").actor_label == (
        "registra service-account rotate"
    )


def test_rotate_prints_the_secret_once_in_text_with_a_given_reason(
    cast: Cast, capsys: pytest.CaptureFixture[str]
) -> None:
    account = cast.reader.account
    reason = "Secret leaked into a CI log on 2026-12-01"
    argv = ["service-account", "rotate", "--org", ORG, "--client-id", account.id]
    assert main([*argv, "--reason", reason]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"client id:     {account.id}"
    secret = lines[1].removeprefix("client secret: ")
    assert secret.startswith("rsec_") and _grant(account, secret)
    assert lines[2:] == [
        "The old secret and its access tokens no longer work.",
        "The new secret is shown only once; store it now.",
    ]
    assert AuditEvent.objects.get(action="service-account.secret-rotated").reason == reason


def test_disable_revokes_tokens_and_refuses_grants(
    cast: Cast, capsys: pytest.CaptureFixture[str]
) -> None:
    account, secret = cast.reader.account, cast.reader.secret
    _grant(account, secret)
    mark = audit_mark(cast.org)
    assert main(["service-account", "disable", "--org", ORG, "--client-id", account.id]) == 0
    assert capsys.readouterr().out == (
        f"disabled service account Drift check ({account.id}); its access tokens are revoked\n"
    )
    assert ServiceAccount.objects.get(id=account.id).status == "disabled"
    assert not AccessToken.objects.filter(service_account_id=account.id).exists()
    with pytest.raises(Unauthenticated):
        _grant(account, secret)
    assert [e[0] for e in _operator_events(cast, mark)] == ["service-account.disabled"]

    # A second time: refused, nothing written.
    mark = audit_mark(cast.org)
    assert main(["service-account", "disable", "--org", ORG, "--client-id", account.id]) == 2
    assert _errors(capsys) == ["registra: error: this service account is already disabled"]
    assert _operator_events(cast, mark) == []


def test_delete_is_a_dry_run_unless_applied(cast: Cast, capsys: pytest.CaptureFixture[str]) -> None:
    account, secret = cast.reader.account, cast.reader.secret
    argv = ["service-account", "delete", "--org", ORG, "--client-id", account.id]
    mark = audit_mark(cast.org)
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"would delete service account Drift check ({account.id}) for good",
        "dry run: nothing was deleted; add --apply to delete it",
    ]
    assert ServiceAccount.objects.get(id=account.id).status == "active"
    assert audit_since(cast.org, mark) == []

    assert main([*argv, "--apply"]) == 0
    assert capsys.readouterr().out == (
        f"deleted service account Drift check ({account.id}); its secret and tokens are void\n"
    )
    assert ServiceAccount.objects.get(id=account.id).status == "deleted"
    with pytest.raises(Unauthenticated):
        _grant(account, secret)
    assert [e[0] for e in _operator_events(cast, mark)] == ["service-account.deleted"]

    # Deleted is gone: the dry run and the real one both say so.
    assert main(argv) == 2
    assert main([*argv, "--apply"]) == 2
    assert _errors(capsys) == [f"registra: error: service account {account.id} not found"] * 2


@pytest.mark.parametrize("command", ["rotate", "disable", "delete"])
def test_unknown_organization_and_client_id_exit_2_naming_them(
    cast: Cast, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    extra = ["--apply"] if command == "delete" else []
    mark, other_mark = audit_mark(cast.org), audit_mark(cast.other_org)
    base = ["service-account", command]
    assert main([*base, "--org", "nope", "--client-id", cast.reader.account.id, *extra]) == 2
    assert _errors(capsys) == ["registra: error: organization 'nope' not found"]
    assert main([*base, "--org", ORG, "--client-id", UNKNOWN_ID, *extra]) == 2
    assert _errors(capsys) == [f"registra: error: service account {UNKNOWN_ID} not found"]
    # Another organization's account is not found either: the org comes from --org.
    foreign = cast.other_reader.account
    assert main([*base, "--org", ORG, "--client-id", foreign.id, *extra]) == 2
    assert _errors(capsys) == [f"registra: error: service account {foreign.id} not found"]
    assert ServiceAccount.objects.get(id=foreign.id).status == "active"
    assert audit_since(cast.org, mark) == audit_since(cast.other_org, other_mark) == []


@pytest.mark.parametrize("command", ["rotate", "disable", "delete"])
def test_missing_flags_are_a_usage_error(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["service-account", command, "--org", ORG])
    assert exc.value.code == 2
    assert "the following arguments are required: --client-id" in capsys.readouterr().err
