"""Access tokens: the client-credentials grant (the one write API v1 makes)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction

from registra.core import audit
from registra.core.errors import Unauthenticated
from registra.core.timefmt import now
from registra.organizations.choices import OrganizationStatus, ServiceAccountStatus
from registra.organizations.credentials import token_hash
from registra.organizations.models import AccessToken, ServiceAccount
from registra.organizations.policy import actor_for_service_account


@dataclass(frozen=True)
class IssuedToken:
    """A new access token (shown once), its lifetime in seconds and its scopes."""

    access_token: str
    expires_in: int
    scopes: list[str]


# A fixed hash to compare against when the client id is unknown, so timing does not tell.
_DUMMY_HASH = make_password("registra-dummy-secret")


@transaction.atomic
def token_issue(*, client_id: str, client_secret: str, client_address: str) -> IssuedToken:
    """Client-credentials grant: an opaque token valid for the configured TTL (900 s).

    Authenticated by the credentials themselves, so it takes no actor; ``client_address`` (the
    caller's IP address) goes into the audit event."""
    sa = ServiceAccount.objects.select_related("organization").filter(id=client_id or "").first()
    secret_ok = check_password(client_secret or "", sa.secret_hash if sa else _DUMMY_HASH)
    if sa is None or not secret_ok:
        raise Unauthenticated("invalid client credentials")
    at = now()
    if sa.status != ServiceAccountStatus.ACTIVE or (sa.expires_at and sa.expires_at <= at):
        raise Unauthenticated("invalid client credentials")
    if sa.organization.status != OrganizationStatus.ACTIVE:
        raise Unauthenticated("invalid client credentials")
    ttl = settings.REGISTRA_TOKEN_TTL_SECONDS
    expires_at = at + timedelta(seconds=ttl)
    if sa.expires_at and sa.expires_at < expires_at:
        expires_at = sa.expires_at
    raw = "rtok_" + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        organization_id=sa.organization_id,
        service_account=sa,
        token_hash=token_hash(raw),
        scopes=sa.scopes,
        created_at=at,
        expires_at=expires_at,
    )
    ServiceAccount.objects.filter(pk=sa.pk).update(last_used_at=at)
    audit.record(
        organization_id=sa.organization_id,
        actor=actor_for_service_account(sa),
        reason="Client credentials grant",
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
