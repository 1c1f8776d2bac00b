"""Credentials: keyed hashes for client secrets and access tokens, the upgrade of legacy PBKDF2
secrets, failed grants as audit events, and the purge of expired tokens."""

from __future__ import annotations

import hashlib
import importlib
import logging
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.test import override_settings

from registra.core.errors import Forbidden, Unauthenticated
from registra.core.models import AuditEvent
from registra.core.timefmt import api_format, now
from registra.organizations import credentials, services
from registra.organizations.models import AccessToken, Organization, ServiceAccount
from registra.organizations.policy import actor_for_member
from tests.cast import Cast, audit_mark, audit_since, operator

CLIENT_ADDRESS = "198.51.100.7"
REASON = "Nightly housekeeping of credentials"


def _account(cast, **kwargs):
    spec = {"name": "CMMS nightly", "scopes": "assets:read", **kwargs}
    return services.service_account_create(
        organization=cast.org, actor=cast.actor(cast.admin), reason=REASON, **spec
    )


def _grant(creds, secret: str | None = None) -> services.IssuedToken:
    return services.token_issue(
        client_id=creds.account.id,
        client_secret=creds.secret if secret is None else secret,
        client_address=CLIENT_ADDRESS,
    )


# --- keyed hashes ----------------------------------------------------------------------------


def test_secrets_and_tokens_are_stored_as_hashes_keyed_with_the_credential_key(cast):
    token = _grant(cast.reader)
    stored = ServiceAccount.objects.get(id=cast.reader.account.id).secret_hash
    row = AccessToken.objects.get(service_account_id=cast.reader.account.id)

    assert stored.startswith("hmac-sha256$") and cast.reader.secret not in stored
    assert row.token_hash == credentials.token_hash(token.access_token)
    assert row.token_hash != hashlib.sha256(token.access_token.encode()).hexdigest()
    with override_settings(REGISTRA_CREDENTIAL_KEY="another-key-of-at-least-32-characters"):
        # Without the server's key the stored values match nothing.
        assert not credentials.check_secret(cast.reader.secret, stored).ok
        assert credentials.token_hash(token.access_token) != row.token_hash
        with pytest.raises(Unauthenticated):
            _grant(cast.reader)


def test_a_legacy_pbkdf2_secret_grants_once_and_its_hash_is_upgraded(cast):
    legacy = make_password(cast.reader.secret, hasher="pbkdf2_sha256")
    ServiceAccount.objects.filter(id=cast.reader.account.id).update(secret_hash=legacy)

    first = _grant(cast.reader)

    upgraded = ServiceAccount.objects.get(id=cast.reader.account.id).secret_hash
    assert upgraded == credentials.secret_hash(cast.reader.secret) != legacy
    assert credentials.check_secret(cast.reader.secret, upgraded) == credentials.SecretCheck(True)
    second = _grant(cast.reader)  # now through the keyed hash
    assert first.access_token != second.access_token
    assert AccessToken.objects.filter(service_account_id=cast.reader.account.id).count() == 2
    with pytest.raises(Unauthenticated):
        _grant(cast.reader, secret="rsec_wrong")


def test_a_wrong_secret_never_upgrades_a_legacy_hash(cast):
    legacy = make_password(cast.reader.secret, hasher="pbkdf2_sha256")
    ServiceAccount.objects.filter(id=cast.reader.account.id).update(secret_hash=legacy)

    with pytest.raises(Unauthenticated):
        _grant(cast.reader, secret="rsec_wrong")

    assert ServiceAccount.objects.get(id=cast.reader.account.id).secret_hash == legacy


def test_a_deleted_account_keeps_no_usable_secret(cast):
    _delete(cast)

    stored = ServiceAccount.objects.get(id=cast.reader.account.id).secret_hash
    assert stored == credentials.UNUSABLE_SECRET
    assert not credentials.check_secret(cast.reader.secret, stored).ok


def test_the_migration_deletes_the_sha256_access_tokens(cast):
    _grant(cast.reader)
    _grant(cast.other_reader)
    migration = importlib.import_module(
        "registra.organizations.migrations.0002_access_token_keyed_hash"
    )

    migration.delete_sha256_tokens(apps, None)

    assert not AccessToken.objects.exists()


# --- failed grants ---------------------------------------------------------------------------


def _on_reader(service):
    """Setup that runs a service-account service on the cast's reader, as the operator."""

    def run(cast: Cast) -> None:
        service(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=cast.reader.account.id,
        )

    return run


_disable = _on_reader(services.service_account_disable)
_delete = _on_reader(services.service_account_delete)


def _expire(cast: Cast) -> None:
    ServiceAccount.objects.filter(id=cast.reader.account.id).update(
        expires_at=now() - timedelta(minutes=1)
    )


def _suspend(cast: Cast) -> None:
    Organization.objects.filter(id=cast.org.id).update(status="suspended")


@pytest.mark.parametrize(
    ("make_it_fail", "secret", "failure"),
    [
        (lambda cast: None, "rsec_wrong", "wrong-secret"),
        (_disable, None, "disabled"),
        (_delete, None, "deleted"),
        (_expire, None, "expired"),
        (_suspend, None, "organization-suspended"),
    ],
    ids=["wrong-secret", "disabled", "deleted", "expired", "organization-suspended"],
)
def test_a_failed_grant_is_an_audit_event_of_the_accounts_organization(
    cast, make_it_fail, secret, failure
):
    make_it_fail(cast)
    mark, other_mark = audit_mark(cast.org), audit_mark(cast.other_org)

    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        _grant(cast.reader, secret=secret)

    [event] = audit_since(cast.org, mark)
    assert (event.action, event.actor_id, event.subject_type, event.subject_id) == (
        "token.grant-failed",
        cast.reader.account.id,
        "service-account",
        cast.reader.account.id,
    )
    assert event.reason.startswith("Client credentials grant refused: ")
    assert event.diff == {
        "before": None,
        "after": None,
        "failure": failure,
        "clientAddress": CLIENT_ADDRESS,
    }
    assert not AccessToken.objects.filter(service_account_id=cast.reader.account.id).exists()
    assert audit_mark(cast.other_org) == other_mark


@pytest.mark.django_db(transaction=True)
def test_the_failed_grant_event_is_committed_although_the_grant_fails(cast):
    mark = audit_mark(cast.org)
    assert not transaction.get_connection().in_atomic_block  # nothing left to roll back later

    with pytest.raises(Unauthenticated):
        _grant(cast.reader, secret="rsec_wrong")

    assert [e.action for e in audit_since(cast.org, mark)] == ["token.grant-failed"]


def test_an_unknown_client_id_is_logged_and_audits_nothing(cast, caplog):
    count = AuditEvent.objects.count()

    with caplog.at_level(logging.WARNING), pytest.raises(Unauthenticated):
        services.token_issue(
            client_id="svc_01HZZZZZZZZZZZZZZZZZZZZZZZ",
            client_secret="x",
            client_address=CLIENT_ADDRESS,
        )

    assert AuditEvent.objects.count() == count
    unknown = "'svc_01HZZZZZZZZZZZZZZZZZZZZZZZ'"
    assert [r.getMessage() for r in caplog.records] == [
        f"token grant refused: unknown client id {unknown} from {CLIENT_ADDRESS}"
    ]


# --- purging expired tokens ------------------------------------------------------------------


def _tokens(cast: Cast) -> tuple[list[str], list[str]]:
    """Two tokens in ``org`` (one expired) and one expired token in ``other_org``."""
    for creds in (cast.reader, cast.reader, cast.other_reader):
        _grant(creds)
    expired = list(AccessToken.objects.filter(organization=cast.org).values_list("id", flat=True))
    AccessToken.objects.filter(id=expired[0]).update(expires_at=now() - timedelta(seconds=1))
    AccessToken.objects.filter(organization=cast.other_org).update(expires_at=now())
    return [expired[0]], [expired[1]]


def _purge(cast: Cast, **kwargs):
    return services.access_token_purge_expired(
        organization=cast.org,
        actor=kwargs.pop("actor", operator(cast.org)),
        reason=REASON,
        **kwargs,
    )


def test_purge_expired_is_a_dry_run_unless_applied(cast):
    _tokens(cast)
    mark = audit_mark(cast.org)

    assert _purge(cast) == 1

    assert AccessToken.objects.count() == 3
    assert audit_since(cast.org, mark) == []


def test_purge_expired_deletes_only_this_organizations_expired_tokens(cast):
    expired, live = _tokens(cast)
    mark = audit_mark(cast.org)

    assert _purge(cast, apply=True) == 1

    assert not AccessToken.objects.filter(id__in=expired).exists()
    assert (
        list(AccessToken.objects.filter(organization=cast.org).values_list("id", flat=True)) == live
    )
    assert AccessToken.objects.filter(organization=cast.other_org).count() == 1
    [event] = audit_since(cast.org, mark)
    assert (event.action, event.subject_id, event.diff["tokensPurged"]) == (
        "access-token.expired-purged",
        cast.org.id,
        1,
    )
    assert _purge(cast, apply=True) == 0
    assert len(audit_since(cast.org, mark)) == 1  # nothing purged, nothing recorded


def test_purge_expired_is_refused_to_an_editor(cast):
    _tokens(cast)

    with pytest.raises(Forbidden):
        _purge(cast, actor=actor_for_member(cast.editor), apply=True)

    assert AccessToken.objects.count() == 3


# --- the grant ------------------------------------------------------------------------------


def test_token_issue(cast):
    mark = audit_mark(cast.org)
    before = now()

    token = services.token_issue(
        client_address=CLIENT_ADDRESS,
        client_id=cast.reader.account.id,
        client_secret=cast.reader.secret,
    )

    assert token.access_token.startswith("rtok_")
    assert (token.expires_in, token.scopes) == (900, ["assets:read"])
    row = AccessToken.objects.get(token_hash=credentials.token_hash(token.access_token))
    assert row.token_hash == credentials.token_hash(token.access_token)
    assert not AccessToken.objects.filter(token_hash=token.access_token).exists()
    assert (row.organization_id, row.service_account_id, row.scopes) == (
        cast.org.id,
        cast.reader.account.id,
        ["assets:read"],
    )
    assert row.expires_at - row.created_at == timedelta(seconds=900)
    assert ServiceAccount.objects.get(id=cast.reader.account.id).last_used_at >= before
    [event] = audit_since(cast.org, mark)
    assert (event.action, event.actor_type, event.actor_id, event.reason) == (
        "token.issued",
        "service-account",
        cast.reader.account.id,
        "Client credentials grant",
    )
    assert (event.subject_type, event.subject_id) == ("access-token", row.id)
    assert event.diff == {
        "before": None,
        "after": None,
        "scopes": ["assets:read"],
        "expiresAt": api_format(row.expires_at),
        "clientAddress": CLIENT_ADDRESS,
    }
    assert token.access_token not in str(event.diff)


def test_token_issue_is_capped_by_the_account_expiry(cast):
    issued = _account(cast, expires_at=now() + timedelta(seconds=120))

    token = _grant(issued)

    assert 0 < token.expires_in <= 120
    row = AccessToken.objects.get(service_account_id=issued.account.id)
    assert row.expires_at == ServiceAccount.objects.get(id=issued.account.id).expires_at


def _refused(cast, client_id, secret, failure=None):
    """Refused with 401; a real account's organization records why (``failure``)."""
    live, mark = AccessToken.objects.count(), audit_mark(cast.org)
    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        services.token_issue(
            client_address=CLIENT_ADDRESS, client_id=client_id, client_secret=secret
        )
    assert AccessToken.objects.count() == live
    expected = [("token.grant-failed", failure)] if failure else []
    assert [(e.action, e.diff["failure"]) for e in audit_since(cast.org, mark)] == expected


def test_token_issue_refuses_a_wrong_or_missing_secret(cast):
    for secret in ("rsec_wrong", "", None, cast.org_reader.secret):  # bound to its own account
        _refused(cast, cast.reader.account.id, secret, "wrong-secret")
    assert ServiceAccount.objects.get(id=cast.reader.account.id).last_used_at is None


def test_token_issue_refuses_an_unknown_client(cast):
    _refused(cast, "svc_01HZZZZZZZZZZZZZZZZZZZZZZZ", cast.reader.secret)
    _refused(cast, "", cast.reader.secret)


def test_token_issue_refuses_a_disabled_account(cast):
    services.service_account_disable(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, cast.reader.secret, "disabled")


def test_token_issue_refuses_a_deleted_account(cast):
    services.service_account_delete(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, cast.reader.secret, "deleted")


def test_token_issue_refuses_an_expired_account(cast):
    issued = _account(cast, expires_at=now() + timedelta(hours=1))
    assert _grant(issued).access_token
    ServiceAccount.objects.filter(id=issued.account.id).update(expires_at=now())

    _refused(cast, issued.account.id, issued.secret, "expired")


def test_token_issue_refuses_an_account_of_a_suspended_organization(cast):
    Organization.objects.filter(id=cast.org.id).update(status="suspended")

    _refused(cast, cast.reader.account.id, cast.reader.secret, "organization-suspended")
    # The other organization is unaffected.
    token = services.token_issue(
        client_address=CLIENT_ADDRESS,
        client_id=cast.other_reader.account.id,
        client_secret=cast.other_reader.secret,
    )
    assert AccessToken.objects.get(
        token_hash=credentials.token_hash(token.access_token)
    ).organization_id == (cast.other_org.id)


def test_token_issue_refuses_the_secret_from_before_a_rotation(cast):
    old_secret = cast.reader.secret
    rotated = services.service_account_rotate_secret(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, old_secret, "wrong-secret")
    assert services.token_issue(
        client_address=CLIENT_ADDRESS, client_id=rotated.account.id, client_secret=rotated.secret
    )
