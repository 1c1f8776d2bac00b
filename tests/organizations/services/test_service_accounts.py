"""Service accounts (SPEC section 2): create, rotate the secret, disable, enable, delete."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registra.core.errors import (
    NotFound,
    Unauthenticated,
    Unprocessable,
    ValidationFailed,
)
from registra.core.timefmt import api_format, now
from registra.organizations import credentials, services
from registra.organizations.credentials import check_secret
from registra.organizations.models import (
    AccessToken,
    ServiceAccount,
)
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues
from tests.cast import operator

REASON = "Requested by the quality manager"
CLIENT_ADDRESS = "192.0.2.10"


# --- service accounts ------------------------------------------------------------------------


def _account(cast, **kwargs):
    spec = {"name": "CMMS nightly", "scopes": "assets:read"}
    spec.update(kwargs)
    return services.service_account_create(
        organization=cast.org, actor=cast.actor(cast.admin), reason=REASON, **spec
    )


def test_service_account_create(cast):
    mark = _mark(cast.org)
    expires = now() + timedelta(days=90)

    issued = _account(
        cast,
        scopes=["organization:read", "assets:read", "assets:read"],
        contact_email="ops@example.test",
        expires_at=expires,
    )

    sa = ServiceAccount.objects.get(id=issued.account.id)
    assert sa.id.startswith("svc_")
    assert (sa.organization_id, sa.name, sa.contact_email, sa.status) == (
        cast.org.id,
        "CMMS nightly",
        "ops@example.test",
        "active",
    )
    assert sa.scopes == ["assets:read", "organization:read"]
    assert sa.expires_at == expires
    # Only a keyed hash of the secret is kept.
    assert issued.secret.startswith("rsec_")
    assert issued.secret not in sa.secret_hash
    assert sa.secret_hash == credentials.secret_hash(issued.secret)
    assert sa.secret_hash.startswith("hmac-sha256$")
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.created",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert event.diff == {
        "before": None,
        "after": {
            "name": "CMMS nightly",
            "contactEmail": "ops@example.test",
            "scopes": ["assets:read", "organization:read"],
            "status": "active",
            "expiresAt": api_format(expires),
        },
    }
    assert issued.secret not in str(event.diff)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("scopes", {"scopes": ""}),
        ("scopes", {"scopes": []}),
        ("scopes", {"scopes": "assets:read assets:write"}),
        ("name", {"name": ""}),
        ("contactEmail", {"contact_email": "ops at example"}),
        ("expiresAt", {"expires_at": (now() + timedelta(days=1)).replace(tzinfo=None)}),
        ("expiresAt", {"expires_at": now() - timedelta(minutes=1)}),
    ],
)
def test_service_account_create_names_the_invalid_field(cast, field, overrides):
    accounts = ServiceAccount.objects.count()
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _account(cast, **overrides)

    assert _issues(exc) == [[field]]
    assert ServiceAccount.objects.count() == accounts
    assert _since(cast.org, mark) == []


def _token(issued) -> services.IssuedToken:
    return services.token_issue(
        client_address=CLIENT_ADDRESS, client_id=issued.account.id, client_secret=issued.secret
    )


def test_service_account_rotate_secret(cast):
    issued = _account(cast)
    _token(issued)
    _token(issued)
    mark = _mark(cast.org)

    rotated = services.service_account_rotate_secret(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert rotated.account.id == issued.account.id
    assert rotated.secret != issued.secret
    sa = ServiceAccount.objects.get(id=issued.account.id)
    assert check_secret(rotated.secret, sa.secret_hash).ok
    assert not check_secret(issued.secret, sa.secret_hash).ok
    assert sa.secret_rotated_at is not None
    assert not AccessToken.objects.filter(service_account=sa).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.secret-rotated",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert event.diff == {"before": None, "after": None, "tokensRevoked": 2}
    assert rotated.secret not in str(event.diff)
    # The old secret stops working at once; the new one works.
    with pytest.raises(Unauthenticated):
        _token(issued)
    assert _token(rotated).access_token


def test_service_account_rotate_secret_refuses_foreign_and_deleted_accounts(cast):
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.service_account_rotate_secret(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=cast.other_reader.account.id,
        )
    other = ServiceAccount.objects.get(id=cast.other_reader.account.id)
    assert check_secret(cast.other_reader.secret, other.secret_hash).ok

    issued = _account(cast)
    services.service_account_delete(
        organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=issued.account.id
    )
    with pytest.raises(NotFound):
        services.service_account_rotate_secret(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.created",
        "service-account.deleted",
    ]


def test_service_account_disable_and_enable(cast):
    issued = _account(cast)
    _token(issued)
    mark = _mark(cast.org)

    disabled = services.service_account_disable(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert disabled.status == "disabled"
    assert ServiceAccount.objects.get(id=issued.account.id).status == "disabled"
    assert not AccessToken.objects.filter(service_account_id=issued.account.id).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "service-account.disabled",
        cast.admin.id,
        REASON,
    )
    assert event.diff["before"]["status"] == "active"
    assert event.diff["after"]["status"] == "disabled"
    assert event.diff["tokensRevoked"] == 1
    with pytest.raises(Unauthenticated):
        _token(issued)
    with pytest.raises(Unprocessable, match="already disabled"):
        services.service_account_disable(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.disabled",
        "token.grant-failed",
    ]

    enabled = services.service_account_enable(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert enabled.status == "active"
    assert ServiceAccount.objects.get(id=issued.account.id).status == "active"
    event = _since(cast.org, mark)[2]
    assert event.action == "service-account.enabled"
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == ("disabled", "active")
    assert event.diff["tokensRevoked"] == 0
    # Enabling keeps the secret.
    assert _token(issued).access_token
    with pytest.raises(Unprocessable, match="already active"):
        services.service_account_enable(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )


def test_service_account_delete(cast):
    issued = _account(cast)
    _token(issued)
    mark = _mark(cast.org)

    deleted = services.service_account_delete(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert deleted.status == "deleted"
    sa = ServiceAccount.objects.get(id=issued.account.id)  # the row stays for the audit trail
    assert sa.status == "deleted"
    assert not check_secret(issued.secret, sa.secret_hash).ok
    assert not AccessToken.objects.filter(service_account=sa).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.deleted",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == ("active", "deleted")
    assert event.diff["tokensRevoked"] == 1
    with pytest.raises(Unauthenticated):
        _token(issued)
    for service in (
        services.service_account_delete,
        services.service_account_enable,
        services.service_account_disable,
    ):
        with pytest.raises(NotFound):
            service(
                organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=sa.id
            )
    assert ServiceAccount.objects.get(id=sa.id).status == "deleted"
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.deleted",
        "token.grant-failed",
    ]


def test_service_account_status_changes_refuse_another_organizations_account(cast):
    other_id = cast.other_reader.account.id
    mark = _mark(cast.org)

    for service in (services.service_account_disable, services.service_account_delete):
        with pytest.raises(NotFound):
            service(
                organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=other_id
            )

    assert ServiceAccount.objects.get(id=other_id).status == "active"
    assert _since(cast.org, mark) == []
