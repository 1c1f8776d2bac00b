"""Writes for organizations, members, responsibilities and service accounts. Each service runs
in one transaction, checks its rules and records its audit event itself. Each checks the policy
table (``registra.organizations.policy``) first and refuses with ``forbidden``. Callers import
this package; the modules split it by record type."""

from registra.organizations.services.members import (
    Invitation,
    member_accept_invitation,
    member_bulk_create_active,
    member_change_role,
    member_invite,
    member_revoke,
    member_set_password,
)
from registra.organizations.services.organizations import (
    organization_create,
    organization_set_readiness_requirements,
    responsibility_assign,
)
from registra.organizations.services.service_accounts import (
    IssuedSecret,
    service_account_create,
    service_account_delete,
    service_account_disable,
    service_account_enable,
    service_account_rotate_secret,
)
from registra.organizations.services.tokens import (
    IssuedToken,
    access_token_purge_expired,
    token_issue,
)

__all__ = [
    "Invitation",
    "IssuedSecret",
    "IssuedToken",
    "access_token_purge_expired",
    "member_accept_invitation",
    "member_bulk_create_active",
    "member_change_role",
    "member_invite",
    "member_revoke",
    "member_set_password",
    "organization_create",
    "organization_set_readiness_requirements",
    "responsibility_assign",
    "service_account_create",
    "service_account_delete",
    "service_account_disable",
    "service_account_enable",
    "service_account_rotate_secret",
    "token_issue",
]
