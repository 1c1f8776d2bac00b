"""The operator command ``registra``: the exact commands of the contract."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import orjson
import pytest

from registra.cli import main
from registra.core.models import AuditEvent
from registra.core.timefmt import now
from registra.organizations.credentials import check_secret
from registra.organizations.models import AccessToken, Organization, ServiceAccount

pytestmark = pytest.mark.django_db


def test_org_create_writes_org_and_audit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "create", "--slug", "skyline-mro", "--name", "Skyline MRO"]) == 0
    org = Organization.objects.get(slug="skyline-mro")
    assert org.name == "Skyline MRO" and org.status == "active"
    assert f"created organization skyline-mro ({org.id})" in capsys.readouterr().out
    event = AuditEvent.objects.get(organization_id=org.id)
    assert (event.action, event.actor_type, event.actor_id, event.actor_label) == (
        "organization.created",
        "system",
        "system:operator",
        "registra org create",
    )


def test_org_create_refuses_bad_and_duplicate_slugs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "create", "--slug", "Bad_Slug", "--name", "X"]) == 2
    assert "slug: must be 1-63 characters" in capsys.readouterr().err
    assert main(["org", "create", "--slug", "dup", "--name", "One"]) == 0
    assert main(["org", "create", "--slug", "dup", "--name", "Two"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert Organization.objects.filter(slug="dup").count() == 1


def test_service_account_create_json_prints_working_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["org", "create", "--slug", "acme", "--name", "Acme"])
    capsys.readouterr()
    args = ["service-account", "create", "--org", "acme", "--name", "Drift check"]
    assert main([*args, "--scopes", "assets:read organization:read", "--json"]) == 0
    out = orjson.loads(capsys.readouterr().out)
    assert set(out) == {"clientId", "clientSecret"}
    account = ServiceAccount.objects.get(id=out["clientId"])
    assert account.scopes == ["assets:read", "organization:read"]
    assert check_secret(out["clientSecret"], account.secret_hash).ok
    assert out["clientSecret"] not in account.secret_hash


def test_service_account_create_validates_flags(capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "--slug", "acme", "--name", "Acme"])
    base = ["service-account", "create", "--org", "acme", "--name", "X"]
    assert main([*base, "--scopes", "assets:write"]) == 2
    assert "scopes: unknown scope 'assets:write'" in capsys.readouterr().err
    assert main([*base, "--scopes", "assets:read", "--expires-at", "next tuesday"]) == 2
    assert "--expires-at: must be an ISO 8601 timestamp" in capsys.readouterr().err
    assert main([*base, "--scopes", "assets:read", "--expires-at", "2001-01-01T00:00:00Z"]) == 2
    assert "expiresAt: must be in the future" in capsys.readouterr().err
    assert (
        main(
            ["service-account", "create", "--org", "nope", "--name", "X", "--scopes", "assets:read"]
        )
        == 2
    )
    assert "organization 'nope' not found" in capsys.readouterr().err
    assert not ServiceAccount.objects.exists()


def test_audit_verify_intact_then_broken(capsys: pytest.CaptureFixture[str]) -> None:
    main(["org", "create", "--slug", "acme", "--name", "Acme"])
    main(["service-account", "create", "--org", "acme", "--name", "A", "--scopes", "assets:read"])
    capsys.readouterr()
    assert main(["audit", "verify", "--org", "acme"]) == 0
    assert "intact: 2 events verified" in capsys.readouterr().out
    second = AuditEvent.objects.get(seq=2)
    AuditEvent.objects.filter(pk=second.pk).update(reason="Edited after the fact")
    assert main(["audit", "verify", "--org", "acme"]) == 1
    err = capsys.readouterr().err
    assert "BROKEN" in err and second.id in err and "edited" in err


def _expired_tokens(slug: str) -> None:
    """An organization with one expired access token."""
    main(["org", "create", "--slug", slug, "--name", slug.title()])
    main(["service-account", "create", "--org", slug, "--name", "A", "--scopes", "assets:read"])
    account = ServiceAccount.objects.get(organization__slug=slug)
    AccessToken.objects.create(
        organization_id=account.organization_id,
        service_account=account,
        token_hash=f"expired-{slug}",
        created_at=now() - timedelta(hours=1),
        expires_at=now() - timedelta(minutes=45),
    )


def test_tokens_purge_expired_counts_then_deletes_with_apply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _expired_tokens("acme")
    _expired_tokens("zenith")
    capsys.readouterr()

    assert main(["tokens", "purge-expired"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "acme: 1 expired access tokens to delete",
        "zenith: 1 expired access tokens to delete",
        "dry run: nothing was deleted; add --apply to delete them",
    ]
    assert AccessToken.objects.count() == 2

    assert main(["tokens", "purge-expired", "--org", "zenith", "--apply"]) == 0
    assert capsys.readouterr().out.splitlines() == ["zenith: 1 expired access tokens deleted"]
    assert list(AccessToken.objects.values_list("token_hash", flat=True)) == ["expired-acme"]
    event = AuditEvent.objects.get(action="access-token.expired-purged")
    assert (event.actor_id, event.actor_label) == (
        "system:operator",
        "registra tokens purge-expired",
    )


def test_bad_flag_values_exit_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["serve", "--port", "99999"],
        ["serve", "--workers", "0"],
        ["serve", "--threads", "0"],
        ["demo-data", "--org", "x", "--assets", "many"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "must be a port number 1-65535" in err
    assert "must be at least 1" in err
    assert "must be a whole number" in err


def test_console_script_runs_migrate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "REGISTRA_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    exe = os.path.join(os.path.dirname(sys.executable), "registra")
    result = subprocess.run(
        [exe, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert (tmp_path / "registra.sqlite3").exists()


def test_serve_refuses_more_threads_than_pooled_connections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Refused before anything connects: the URL points at a closed port on purpose.
    env = {
        **os.environ,
        "REGISTRA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:9/none",
        "REGISTRA_DB_POOL_SIZE": "3",
    }
    exe = os.path.join(os.path.dirname(sys.executable), "registra")
    result = subprocess.run(
        [exe, "serve", "--port", "8999", "--threads", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "registra: error: --threads 4 is more than REGISTRA_DB_POOL_SIZE=3: each request thread "
        "needs its own database connection; lower --threads or raise the pool size"
    )
    assert "Registra is starting" not in result.stdout
