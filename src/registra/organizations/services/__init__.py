"""Writes for organizations, members, responsibilities and service accounts. Each service runs
in one transaction, checks its rules and records its audit event itself. Each checks the policy
table (``registra.organizations.policy``) first and refuses with ``forbidden``. Callers import
this package; the modules split it by record type."""

from registra.organizations.services.classification import (
    classification_level_create,
    classification_level_remove,
    classification_level_update,
)
from registra.organizations.services.invitations import (
    Invitation,
    InvitationRefused,
    invitation_for_token,
    member_accept_invitation,
    member_invitation_cancel,
    member_invitation_resend,
    member_invite,
)
from registra.organizations.services.members import (
    member_bulk_create_active,
    member_change_role,
    member_revoke,
    member_set_password,
    member_update,
)
from registra.organizations.services.mfa import (
    SecondFactor,
    mfa_begin_enrolment,
    mfa_confirm_enrolment,
    mfa_remove,
    mfa_verify,
    sign_in_failure_record,
    sign_in_record,
)
from registra.organizations.services.organizations import (
    organization_create,
    organization_update_settings,
    responsibility_assign,
    responsibility_create,
    responsibility_end,
    responsibility_reassign,
)
from registra.organizations.services.service_accounts import (
    IssuedSecret,
    service_account_create,
    service_account_delete,
    service_account_disable,
    service_account_enable,
    service_account_rotate_secret,
    service_account_update,
)
from registra.organizations.services.tokens import (
    IssuedToken,
    access_token_purge_expired,
    token_issue,
)

__all__ = [
    "Invitation",
    "InvitationRefused",
    "IssuedSecret",
    "IssuedToken",
    "SecondFactor",
    "access_token_purge_expired",
    "classification_level_create",
    "classification_level_remove",
    "classification_level_update",
    "invitation_for_token",
    "member_accept_invitation",
    "member_bulk_create_active",
    "member_change_role",
    "member_invitation_cancel",
    "member_invitation_resend",
    "member_invite",
    "member_revoke",
    "member_set_password",
    "member_update",
    "mfa_begin_enrolment",
    "mfa_confirm_enrolment",
    "mfa_remove",
    "mfa_verify",
    "organization_create",
    "organization_update_settings",
    "responsibility_assign",
    "responsibility_create",
    "responsibility_end",
    "responsibility_reassign",
    "service_account_create",
    "service_account_delete",
    "service_account_disable",
    "service_account_enable",
    "service_account_rotate_secret",
    "service_account_update",
    "sign_in_failure_record",
    "sign_in_record",
    "token_issue",
]
