"""Access tokens: the client-credentials grant (the one write API v1 makes) and the purge of
expired tokens."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Unauthenticated
from registra.core.timefmt import now
from registra.organizations import credentials
from registra.organizations.choices import OrganizationStatus, ServiceAccountStatus
from registra.organizations.models import AccessToken, Organization, ServiceAccount
from registra.organizations.policy import Permission, actor_for_service_account, require

log = logging.getLogger(__name__)

GRANT_REASON = "Client credentials grant"
# Why a grant for a real service account failed: the ``failure`` of its audit event.
FAILURES = {
    "wrong-secret": "the client secret is wrong",
    "disabled": "the service account is disabled",
    "deleted": "the service account is deleted",
    "expired": "the service account has expired",
    "organization-suspended": "the organization is suspended",
    "organization-provisioning": "the organization is still being provisioned",
}


@dataclass(frozen=True)
class IssuedToken:
    """A new access token (shown once), its lifetime in seconds and its scopes."""

    access_token: str
    expires_in: int
    scopes: list[str]


def token_issue(*, client_id: str, client_secret: str, client_address: str) -> IssuedToken:
    """Client-credentials grant: an opaque token valid for the configured TTL (900 s).

    Authenticated by the credentials themselves, so it takes no actor; ``client_address`` (the
    caller's IP address) goes into the audit event. A refused grant for a real service account
    is recorded in its organization's chain as ``token.grant-failed``, committed although the
    grant fails (so call it outside a transaction); an unknown client id is only logged.
    """
    sa = ServiceAccount.objects.select_related("organization").filter(id=client_id or "").first()
    # The same keyed comparison whether or not the id exists, so timing does not tell.
    check = credentials.check_secret(
        client_secret or "", sa.secret_hash if sa else credentials.DUMMY_SECRET_HASH
    )
    if sa is None:
        log.warning(
            "token grant refused: unknown client id %r from %s", client_id[:64], client_address
        )
        raise Unauthenticated("invalid client credentials")
    at = now()
    failure = _failure(sa, check.ok, at)
    if failure is not None:
        _record_failure(sa, failure, client_address)
        raise Unauthenticated("invalid client credentials")
    with transaction.atomic():
        if check.upgrade:
            _upgrade_secret_hash(sa, client_secret)
        return _issue(sa, at, client_address)


def _failure(sa: ServiceAccount, secret_ok: bool, at: datetime) -> str | None:
    if sa.status == ServiceAccountStatus.DELETED:
        return "deleted"
    if not secret_ok:
        return "wrong-secret"
    if sa.status != ServiceAccountStatus.ACTIVE:
        return "disabled"
    if sa.expires_at is not None and sa.expires_at <= at:
        return "expired"
    if sa.organization.status != OrganizationStatus.ACTIVE:
        return f"organization-{sa.organization.status}"
    return None


def _record_failure(sa: ServiceAccount, failure: str, client_address: str) -> None:
    log.warning(
        "token grant refused for %s (%s) from %s",
        sa.id,
        failure,
        client_address,
        extra={"organization_id": sa.organization_id},
    )
    with transaction.atomic():
        audit.record(
            organization_id=sa.organization_id,
            actor=actor_for_service_account(sa),
            reason=f"{GRANT_REASON} refused: {FAILURES[failure]}",
            action="token.grant-failed",
            subject_type="service-account",
            subject_id=sa.id,
            extra={"failure": failure, "clientAddress": client_address},
        )


def _upgrade_secret_hash(sa: ServiceAccount, secret: str) -> None:
    """Replace a legacy password hash by the keyed hash, unless it changed meanwhile."""
    ServiceAccount.objects.filter(pk=sa.pk, secret_hash=sa.secret_hash).update(
        secret_hash=credentials.secret_hash(secret)
    )


def _issue(sa: ServiceAccount, at: datetime, client_address: str) -> IssuedToken:
    ttl = settings.REGISTRA_TOKEN_TTL_SECONDS
    expires_at = at + timedelta(seconds=ttl)
    if sa.expires_at and sa.expires_at < expires_at:
        expires_at = sa.expires_at
    raw = "rtok_" + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        organization_id=sa.organization_id,
        service_account=sa,
        token_hash=credentials.token_hash(raw),
        scopes=sa.scopes,
        created_at=at,
        expires_at=expires_at,
    )
    ServiceAccount.objects.filter(pk=sa.pk).update(last_used_at=at)
    audit.record(
        organization_id=sa.organization_id,
        actor=actor_for_service_account(sa),
        reason=GRANT_REASON,
        action="token.issued",
        subject_type="access-token",
        subject_id=token.id,
        extra={"scopes": token.scopes, "expiresAt": expires_at, "clientAddress": client_address},
    )
    return IssuedToken(
        access_token=raw,
        expires_in=int((expires_at - at).total_seconds()),
        scopes=list(token.scopes),
    )


@transaction.atomic
def access_token_purge_expired(
    *, organization: Organization, actor: Actor, reason: str, apply: bool = False
) -> int:
    """How many of the organization's access tokens have expired; with ``apply``, delete them
    (one ``access-token.expired-purged`` event with the count). Expired tokens already
    authenticate nothing: this only keeps the table small."""
    require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    expired = AccessToken.objects.filter(organization=organization, expires_at__lte=now())
    if not apply:
        return expired.count()
    purged, _ = expired.delete()
    if purged:
        audit.record(
            organization_id=organization.id,
            actor=actor,
            reason=reason,
            action="access-token.expired-purged",
            subject_type="organization",
            subject_id=organization.id,
            extra={"tokensPurged": purged},
        )
    return purged
