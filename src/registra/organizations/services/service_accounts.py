"""Service-account writes: create, update, rotate the secret, disable, enable, delete."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Unprocessable, field_error
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations import credentials
from registra.organizations.choices import (
    ALL_SCOPES,
    ServiceAccountStatus,
)
from registra.organizations.models import (
    AccessToken,
    Organization,
    ServiceAccount,
)
from registra.organizations.policy import Permission, require
from registra.organizations.services._common import EMAIL_RE

# --- service accounts and tokens -----------------------------------------------------------


def _svc_fields(sa: ServiceAccount) -> dict[str, Any]:
    return {
        "name": sa.name,
        "contactEmail": sa.contact_email,
        "scopes": sa.scopes,
        "status": sa.status,
        "expiresAt": sa.expires_at,
    }


def _scopes(value: list[str] | str) -> list[str]:
    items = value.split() if isinstance(value, str) else list(value)
    if not items:
        raise field_error("scopes", f"must name at least one of: {', '.join(sorted(ALL_SCOPES))}")
    unknown = [s for s in items if s not in ALL_SCOPES]
    if unknown:
        raise field_error(
            "scopes", f"unknown scope {unknown[0]!r}; allowed: {', '.join(sorted(ALL_SCOPES))}"
        )
    return sorted(set(items))


def _new_secret() -> str:
    return "rsec_" + secrets.token_urlsafe(32)


def _checked_fields(
    name: str,
    scopes: list[str] | str,
    contact_email: str,
    expires_at: datetime | None,
    current_expiry: datetime | None = None,
) -> dict[str, Any]:
    """The model fields of what a caller gives for an account, checked (create and update).
    An expiry must be in the future unless it is the account's current one (an expired
    account can still be renamed)."""
    if contact_email:
        contact_email = validation.pattern(
            "contactEmail", contact_email, EMAIL_RE, "must be an email address", 254
        )
    validation.aware("expiresAt", expires_at)
    if expires_at is not None and expires_at != current_expiry and expires_at <= now():
        raise field_error("expiresAt", "must be in the future")
    return {
        "name": validation.text("name", name, min_len=1, max_len=200),
        "contact_email": contact_email,
        "scopes": _scopes(scopes),
        "expires_at": expires_at,
    }


@dataclass(frozen=True)
class IssuedSecret:
    """A service account and its client secret, which is shown exactly once."""

    account: ServiceAccount
    secret: str


@transaction.atomic
def service_account_create(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    name: str,
    scopes: list[str] | str,
    contact_email: str = "",
    expires_at: datetime | None = None,
) -> IssuedSecret:
    """Create an API identity; returns the secret once, stores only its keyed hash."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    fields = _checked_fields(name, scopes, contact_email, expires_at)
    secret = _new_secret()
    at = now()
    sa = ServiceAccount(
        organization=organization,
        **fields,
        secret_hash=credentials.secret_hash(secret),
        created_at=at,
        updated_at=at,
    )
    sa.save(force_insert=True)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="service-account.created",
        subject_type="service-account",
        subject_id=sa.id,
        before=None,
        after=_svc_fields(sa),
    )
    return IssuedSecret(account=sa, secret=secret)


def _get_service_account(organization: Organization, account_id: str) -> ServiceAccount:
    accounts = ServiceAccount.objects.filter(organization=organization, id=account_id).exclude(
        status=ServiceAccountStatus.DELETED
    )
    return first_or_404(accounts, f"service account {account_id}", lock=True)


def _revoke_tokens(sa: ServiceAccount) -> int:
    deleted, _ = AccessToken.objects.filter(
        organization_id=sa.organization_id, service_account=sa
    ).delete()
    return deleted


@transaction.atomic
def service_account_rotate_secret(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> IssuedSecret:
    """New secret; the old secret and every token issued with it stop working at once."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    sa = _get_service_account(organization, account_id)
    secret = _new_secret()
    sa.secret_hash = credentials.secret_hash(secret)
    sa.secret_rotated_at = sa.updated_at = now()
    sa.save(update_fields=["secret_hash", "secret_rotated_at", "updated_at"])
    revoked = _revoke_tokens(sa)
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="service-account.secret-rotated",
        subject_type="service-account",
        subject_id=sa.id,
        extra={"tokensRevoked": revoked},
    )
    return IssuedSecret(account=sa, secret=secret)


@transaction.atomic
def service_account_update(
    *,
    organization: Organization,
    actor: Actor,
    reason: str,
    account_id: str,
    name: str,
    scopes: list[str] | str,
    contact_email: str = "",
    expires_at: datetime | None = None,
) -> ServiceAccount:
    """Change an account's name, scopes, contact email and expiry (all of them, as given).

    Access tokens carry the scopes they were issued with, so a change of scopes revokes them:
    the next grant gets the new scopes. A change of expiry needs no revocation (every request
    checks the account's expiry)."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    sa = _get_service_account(organization, account_id)
    fields = _checked_fields(name, scopes, contact_email, expires_at, sa.expires_at)
    before = _svc_fields(sa)
    scopes_changed = fields["scopes"] != sa.scopes
    for field, value in fields.items():
        setattr(sa, field, value)
    if _svc_fields(sa) == before:
        return sa
    sa.updated_at = now()
    sa.save(update_fields=[*fields, "updated_at"])
    revoked = _revoke_tokens(sa) if scopes_changed else 0
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="service-account.updated",
        subject_type="service-account",
        subject_id=sa.id,
        before=before,
        after=_svc_fields(sa),
        extra={"tokensRevoked": revoked},
    )
    return sa


def _set_status(
    organization: Organization,
    actor: Actor,
    reason: str,
    account_id: str,
    status: str,
    action: str,
) -> ServiceAccount:
    reason = validation.reason(reason)
    sa = _get_service_account(organization, account_id)
    if sa.status == status:
        raise Unprocessable(f"this service account is already {status}")
    before = _svc_fields(sa)
    sa.status, sa.updated_at = status, now()
    sa.save(update_fields=["status", "updated_at"])
    revoked = _revoke_tokens(sa) if status != ServiceAccountStatus.ACTIVE else 0
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action=action,
        subject_type="service-account",
        subject_id=sa.id,
        before=before,
        after=_svc_fields(sa),
        extra={"tokensRevoked": revoked},
    )
    return sa


def service_account_disable(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Disable: tokens die at once and no new ones are issued until enabled again."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    with transaction.atomic():
        return _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.DISABLED,
            "service-account.disabled",
        )


def service_account_enable(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Re-enable a disabled account (its secret is unchanged)."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    with transaction.atomic():
        return _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.ACTIVE,
            "service-account.enabled",
        )


def service_account_delete(
    *, organization: Organization, actor: Actor, reason: str, account_id: str
) -> ServiceAccount:
    """Delete for good. The row stays (status ``deleted``) so audit events keep their subject."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    with transaction.atomic():
        sa = _set_status(
            organization,
            actor,
            reason,
            account_id,
            ServiceAccountStatus.DELETED,
            "service-account.deleted",
        )
        sa.secret_hash = credentials.UNUSABLE_SECRET
        sa.save(update_fields=["secret_hash"])
        return sa
