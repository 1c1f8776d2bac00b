"""Who may do what: the one policy table (SPEC section 2), read by every service, which refuses,
and by the web UI, which hides what the actor may not do.

An actor is bound to one organization and carries what decides its permissions: a member's role
and membership status, a service account's scopes and status, or a system job's name. Build
actors with the constructors below; they refuse nothing, so a pending or revoked member's actor
exists but may do nothing. ``may`` answers a question, ``require`` refuses with ``forbidden``.
"""

from __future__ import annotations

from enum import StrEnum

from registra.core.audit import Actor
from registra.core.errors import Forbidden
from registra.core.timefmt import now
from registra.organizations.choices import (
    MemberRole,
    MembershipStatus,
    Scope,
    ServiceAccountStatus,
)
from registra.organizations.models import Member, Organization, ServiceAccount


class Permission(StrEnum):
    """One row of SPEC section 2's role table, plus the installation's own permission."""

    READ_REGISTER = "read-register"  # assets, custody, readiness, dashboard, exports
    READ_AUDIT = "read-audit"  # read the audit log, verify the chain, export it
    WRITE_REGISTER = "write-register"  # assets, custody, readiness, responsibilities
    RUN_IMPORT = "run-import"  # run and apply a CMMS import with an existing profile
    # import profiles and schedules, classification levels, required assessment kinds
    CONFIGURE_REGISTER = "configure-register"
    # members, invitations, roles, service accounts (and their tokens), organization settings
    MANAGE_ORGANIZATION = "manage-organization"
    # Installation level, not in any role: a new organization has no members yet.
    CREATE_ORGANIZATION = "create-organization"
    # A member's own sign-in security (an authenticator app, recovery codes): every role, for
    # the member themself only (decision 0014).
    MANAGE_OWN_ACCOUNT = "manage-own-account"


P = Permission

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    MemberRole.ADMIN: frozenset(
        {
            P.READ_REGISTER,
            P.READ_AUDIT,
            P.WRITE_REGISTER,
            P.RUN_IMPORT,
            P.CONFIGURE_REGISTER,
            P.MANAGE_ORGANIZATION,
            P.MANAGE_OWN_ACCOUNT,
        }
    ),
    MemberRole.EDITOR: frozenset(
        {P.READ_REGISTER, P.WRITE_REGISTER, P.RUN_IMPORT, P.MANAGE_OWN_ACCOUNT}
    ),
    MemberRole.AUDITOR: frozenset({P.READ_REGISTER, P.READ_AUDIT, P.MANAGE_OWN_ACCOUNT}),
    MemberRole.VIEWER: frozenset({P.READ_REGISTER, P.MANAGE_OWN_ACCOUNT}),
}

# API v1 is read-only: no scope grants a write.
SCOPE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Scope.ASSETS_READ: frozenset({P.READ_REGISTER}),
    Scope.ORGANIZATION_READ: frozenset(),
}

# Named system jobs (decision record 0004). The operator is whoever runs ``registra`` on the
# server: they hold the database credentials anyway, so the command line may do everything.
SYSTEM_JOB_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "operator": frozenset(Permission) - {P.MANAGE_OWN_ACCOUNT},
    "demo-data": frozenset(
        {
            P.CREATE_ORGANIZATION,
            P.READ_REGISTER,
            P.WRITE_REGISTER,
            P.CONFIGURE_REGISTER,
            P.MANAGE_ORGANIZATION,
        }
    ),
    # The nightly CMMS import (SPEC section 6): applies a profile's plan, configures nothing.
    "scheduled-import": frozenset({P.READ_REGISTER, P.WRITE_REGISTER, P.RUN_IMPORT}),
}

_INSTALLATION = frozenset({P.CREATE_ORGANIZATION})

# --- constructors --------------------------------------------------------------------------


def actor_for_member(member: Member) -> Actor:
    """The actor of a member, bound to its organization, whatever its status."""
    return Actor(
        kind="member",
        id=member.id,
        label=member.full_name or member.email,
        organization_id=member.organization_id,
        role=member.role,
        status=member.status,
    )


def actor_for_service_account(account: ServiceAccount) -> Actor:
    """The actor of a service account; an expired account's status reads ``expired``."""
    expired = account.expires_at is not None and account.expires_at <= now()
    return Actor(
        kind="service-account",
        id=account.id,
        label=account.name,
        organization_id=account.organization_id,
        status="expired" if expired else account.status,
        scopes=frozenset(account.scopes),
    )


def actor_for_system_job(
    job: str, *, organization: Organization | None = None, label: str = ""
) -> Actor:
    """A named system job, bound to ``organization`` (None: the installation, which may only
    create organizations). An unknown job name is a programming error, raised at once."""
    if job not in SYSTEM_JOB_PERMISSIONS:
        known = ", ".join(sorted(SYSTEM_JOB_PERMISSIONS))
        raise ValueError(f"unknown system job {job!r}; known jobs: {known}")
    return Actor.system(job, organization_id=organization.id if organization else None, label=label)


# --- queries -------------------------------------------------------------------------------


def permissions(actor: Actor) -> frozenset[Permission]:
    """What the actor may do in its own organization, from the tables above."""
    if actor.kind == "member":
        if actor.status != MembershipStatus.ACTIVE:
            return frozenset()
        return ROLE_PERMISSIONS.get(actor.role, frozenset())
    if actor.kind == "service-account":
        if actor.status != ServiceAccountStatus.ACTIVE:
            return frozenset()
        return frozenset().union(*(SCOPE_PERMISSIONS.get(s, frozenset()) for s in actor.scopes))
    if actor.kind == "system":
        return SYSTEM_JOB_PERMISSIONS.get(actor.job, frozenset())
    return frozenset()


def refusal(
    actor: Actor, permission: Permission, *, organization: Organization | None = None
) -> str | None:
    """Why ``actor`` may not do ``permission`` in ``organization`` (default: its own), or None.

    Installation permissions ignore the organization; every other one needs an actor bound to
    exactly that organization."""
    if permission not in _INSTALLATION:
        if actor.organization_id is None:
            return f"{actor.label or actor.id} is not bound to an organization"
        if organization is not None and organization.id != actor.organization_id:
            return f"{actor.label or actor.id} belongs to another organization"
    if permission not in permissions(actor):
        return f"{actor.label or actor.id} may not {_WHAT[permission]}{_why_none(actor)}"
    return None


def may(actor: Actor, permission: Permission, *, organization: Organization | None = None) -> bool:
    """Whether ``actor`` may do ``permission`` (in ``organization``; default its own)."""
    return refusal(actor, permission, organization=organization) is None


def require(
    actor: Actor, permission: Permission, *, organization: Organization | None = None
) -> None:
    """Raise ``Forbidden`` unless ``actor`` may do ``permission`` in ``organization``."""
    problem = refusal(actor, permission, organization=organization)
    if problem is not None:
        raise Forbidden(problem)


def _why_none(actor: Actor) -> str:
    if actor.kind == "member" and actor.status != MembershipStatus.ACTIVE:
        return f" (membership is {actor.status})"
    if actor.kind == "service-account" and actor.status != ServiceAccountStatus.ACTIVE:
        return f" (service account is {actor.status})"
    if actor.kind == "member":
        return f" (role {actor.role})"
    return ""


_WHAT = {
    P.READ_REGISTER: "read the register",
    P.READ_AUDIT: "read, verify or export the audit log",
    P.WRITE_REGISTER: "change assets, custody, readiness or responsibilities",
    P.RUN_IMPORT: "run or apply an import",
    P.CONFIGURE_REGISTER: (
        "manage import profiles, schedules, classification levels or required kinds"
    ),
    P.MANAGE_ORGANIZATION: (
        "manage members, invitations, roles, service accounts or organization settings"
    ),
    P.CREATE_ORGANIZATION: "create organizations",
    P.MANAGE_OWN_ACCOUNT: "manage a member's own sign-in security",
}
