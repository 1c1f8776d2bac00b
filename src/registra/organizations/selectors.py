"""Reads for organizations, members, responsibilities, credentials and the audit log."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django_otp.plugins.otp_totp.models import TOTPDevice

from registra.core import db, sql
from registra.core.models import AuditEvent
from registra.core.queries import first_or_404
from registra.core.timefmt import now
from registra.organizations.choices import (
    MembershipStatus,
    OrganizationStatus,
    ServiceAccountStatus,
)
from registra.organizations.credentials import token_hash
from registra.organizations.models import (
    AccessToken,
    ClassificationLevel,
    Member,
    Organization,
    RecoveryCode,
    ResponsibilityAssignment,
    ServiceAccount,
)


def organization_get_by_slug(slug: str) -> Organization:
    return first_or_404(Organization.objects.filter(slug=slug), f"organization {slug!r}")


def organization_list() -> list[Organization]:
    """Every organization, by slug: for operator commands that visit each one in turn."""
    return list(Organization.objects.order_by("slug"))


def organization_get(organization_id: str) -> Organization:
    return first_or_404(Organization.objects.filter(id=organization_id), "organization")


def member_list(organization: Organization) -> list[Member]:
    return list(Member.objects.filter(organization=organization).order_by("email"))


def active_members(organization: Organization) -> list[Member]:
    """The members who may hold custody, by name."""
    members = Member.objects.filter(organization=organization, status=MembershipStatus.ACTIVE)
    return list(members.order_by("full_name", "email"))


def member_get(organization: Organization, member_id: str) -> Member:
    members = Member.objects.filter(organization=organization, id=member_id)
    return first_or_404(members, f"member {member_id}")


def memberships_for_sign_in(email: str) -> list[Member]:
    """The active memberships of an email address in active organizations, with their
    organization, by organization name. Like the token lookup, this read is not scoped by an
    organization: signing in is how the organization is found."""
    members = Member.objects.select_related("organization").filter(
        email__iexact=email.strip(),
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return list(members.order_by("organization__name", "organization__slug"))


def member_signed_in(organization: Organization, member_ids: list[str]) -> Member | None:
    """Which of the session's memberships belongs to ``organization``, while it is active
    (read on every page, so a revoked member is out at once)."""
    members = Member.objects.filter(
        organization=organization, id__in=member_ids, status=MembershipStatus.ACTIVE
    )
    return members.first()


def signed_in_organizations(member_ids: list[str]) -> list[Organization]:
    """The active organizations of a session's active memberships, by name (the picker)."""
    members = Member.objects.select_related("organization").filter(
        id__in=member_ids,
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return sorted((m.organization for m in members), key=lambda o: (o.name, o.slug))


def active_member(member_id: str) -> Member | None:
    """A signed-in session's member, while its membership and organization are active."""
    members = Member.objects.select_related("organization").filter(
        id=member_id,
        status=MembershipStatus.ACTIVE,
        organization__status=OrganizationStatus.ACTIVE,
    )
    return members.first()


def responsibility_list(organization: Organization) -> list[ResponsibilityAssignment]:
    return list(
        ResponsibilityAssignment.objects.filter(organization=organization).order_by(
            "responsibility_key"
        )
    )


def responsibility_get(
    organization: Organization, responsibility_id: str
) -> ResponsibilityAssignment:
    """One of the organization's responsibilities, with its holder."""
    found = ResponsibilityAssignment.objects.select_related("holder").filter(
        organization=organization, id=responsibility_id
    )
    return first_or_404(found, f"responsibility {responsibility_id}")


def responsibilities_with_holders(organization: Organization) -> list[ResponsibilityAssignment]:
    """The responsibilities page's list: every responsibility with its holder, by key."""
    found = ResponsibilityAssignment.objects.select_related("holder")
    return list(found.filter(organization=organization).order_by("responsibility_key"))


def classification_level_list(organization: Organization) -> list[ClassificationLevel]:
    """The organization's classification levels, highest rank first."""
    levels = ClassificationLevel.objects.filter(organization=organization)
    return list(levels.order_by("-rank", "label"))


def classification_level_get(organization: Organization, level_id: str) -> ClassificationLevel:
    found = ClassificationLevel.objects.filter(organization=organization, id=level_id)
    return first_or_404(found, f"classification level {level_id}")


def classification_levels(organization: Organization) -> list[dict[str, Any]]:
    """The organization's classification levels (label, rank, severity), highest rank first,
    for copying into an asset's classification snapshot (a copy: a level changed or removed
    later leaves the assets classified with it as they were)."""
    return [
        {"label": level.label, "rank": level.rank, "severity": level.severity}
        for level in classification_level_list(organization)
    ]


def service_account_list(organization: Organization) -> list[ServiceAccount]:
    return list(
        ServiceAccount.objects.filter(organization=organization)
        .exclude(status=ServiceAccountStatus.DELETED)
        .order_by("name")
    )


def service_account_get(organization: Organization, account_id: str) -> ServiceAccount:
    """One of the organization's service accounts (a deleted one is not found)."""
    accounts = ServiceAccount.objects.filter(organization=organization, id=account_id).exclude(
        status=ServiceAccountStatus.DELETED
    )
    return first_or_404(accounts, f"service account {account_id}")


@dataclass(frozen=True)
class TokenContext:
    """What an API request may do: its organization, service account, scopes and token."""

    organization_id: str
    service_account_id: str
    token_id: str
    token_hash: str
    scopes: frozenset[str]
    expires_at: datetime


def access_token_resolve(raw_token: str) -> TokenContext | None:
    """The live token for a bearer value, or None (unknown, expired, or its account is dead).

    The organization comes from the token: this is the one read that is not scoped by a caller's
    organization, because it is how the organization is found.
    """
    digest = token_hash(raw_token)
    at = now()
    # Runs on every API request: one lookup by the unique hash in hand-written SQL (see
    # core/sql.py), with the liveness rules checked here. On the primary, never the replica: a
    # token works as soon as it is granted and dies with its account, whatever the lag (0006).
    rows = sql.fetch(_token_sql(), [digest], datetimes=(4, 6), using=db.PRIMARY)
    if not rows:
        return None
    tok_id, org_id, svc_id, scopes, expires_at, svc_status, svc_expires_at, org_status = rows[0]
    if (
        expires_at <= at
        or svc_status != ServiceAccountStatus.ACTIVE
        or org_status != OrganizationStatus.ACTIVE
        or (svc_expires_at is not None and svc_expires_at <= at)
    ):
        return None
    return TokenContext(org_id, svc_id, tok_id, digest, frozenset(_json_list(scopes)), expires_at)


def _json_list(value: Any) -> list[str]:
    # A JSON column arrives as text (Django decodes JSONField values itself).
    return orjson.loads(value) if isinstance(value, str | bytes) else list(value)


@functools.cache
def _token_sql() -> str:
    tok_id, org_id, svc_id, scopes, expires, tok_hash = sql.quoted(
        AccessToken,
        "id",
        "organization_id",
        "service_account_id",
        "scopes",
        "expires_at",
        "token_hash",
    )
    svc_pk, svc_status, svc_expires = sql.quoted(ServiceAccount, "id", "status", "expires_at")
    org_pk, org_status = sql.quoted(Organization, "id", "status")
    token, svc, org = sql.table(AccessToken), sql.table(ServiceAccount), sql.table(Organization)
    return (
        f"SELECT t.{tok_id}, t.{org_id}, t.{svc_id}, t.{scopes}, t.{expires},"
        f" s.{svc_status}, s.{svc_expires}, o.{org_status}"
        f" FROM {token} t JOIN {svc} s ON s.{svc_pk} = t.{svc_id}"
        f" JOIN {org} o ON o.{org_pk} = t.{org_id}"
        f" WHERE t.{tok_hash} = %s"
    )


# --- the audit log ---------------------------------------------------------------------------

# The actor filter's value for every system job (``system:<job>``) at once.
SYSTEM_ACTORS = "system"


@dataclass(frozen=True)
class AuditFilter:
    """Which events the audit log shows (empty means any): an actor id (or ``SYSTEM_ACTORS``),
    an action, a subject id, a time range (``since`` inclusive, ``until`` exclusive) and a free
    text matched in the reason, the actor's name, the action, the subject id and the diff."""

    actor: str = ""
    action: str = ""
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None
    search: str = ""


def audit_events(organization: Organization, flt: AuditFilter) -> QuerySet[AuditEvent]:
    """The organization's events matching the filter, unordered."""
    events = AuditEvent.objects.filter(organization_id=organization.id)
    if flt.actor == SYSTEM_ACTORS:
        events = events.filter(actor_type="system")
    elif flt.actor:
        events = events.filter(actor_id=flt.actor)
    if flt.action:
        events = events.filter(action=flt.action)
    if flt.subject:
        events = events.filter(subject_id=flt.subject)
    if flt.since is not None:
        events = events.filter(occurred_at__gte=flt.since)
    if flt.until is not None:
        events = events.filter(occurred_at__lt=flt.until)
    if flt.search:
        # The diff as the database prints it: on SQLite its stored text, where characters
        # beyond ASCII are escaped, so they match in the other columns only there.
        events = events.annotate(diff_text=Cast("diff", TextField())).filter(
            Q(reason__icontains=flt.search)
            | Q(actor_label__icontains=flt.search)
            | Q(action__icontains=flt.search)
            | Q(subject_id__icontains=flt.search)
            | Q(diff_text__icontains=flt.search)
        )
    return events


def audit_page(
    organization: Organization, flt: AuditFilter, *, before: int | None, limit: int
) -> tuple[list[AuditEvent], int | None]:
    """One keyset page of matching events, newest first, starting below sequence ``before``
    (None: the newest), and the sequence the next page starts below (None at the end)."""
    events = audit_events(organization, flt)
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].seq


AUDIT_EXPORT_COLUMNS = (
    "seq",
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "subject_type",
    "subject_id",
    "reason",
    "diff",
    "prev_hash",
    "hash",
)


def audit_export_rows(organization: Organization, flt: AuditFilter) -> Iterator[tuple[Any, ...]]:
    """Every matching event, newest first, as a tuple of ``AUDIT_EXPORT_COLUMNS`` (the diff as
    JSON text), streamed from the database (``sql.stream``)."""
    rows = audit_events(organization, flt).order_by("-seq").values_list(*AUDIT_EXPORT_COLUMNS)
    diff_at = AUDIT_EXPORT_COLUMNS.index("diff")
    for row in sql.stream(rows):
        diff = orjson.dumps(row[diff_at], option=orjson.OPT_SORT_KEYS).decode()
        yield (*row[:diff_at], diff, *row[diff_at + 1 :])


def audit_actors(organization: Organization) -> list[tuple[str, str]]:
    """(actor id, name) of everyone who may have acted: the members (revoked ones too) and
    the service accounts (deleted ones too), for the audit log's actor filter."""
    members = Member.objects.filter(organization=organization).order_by("full_name", "email")
    accounts = ServiceAccount.objects.filter(organization=organization).order_by("name", "id")
    out = [(m.id, f"{m.full_name or m.email} ({m.email})") for m in members]
    out += [(a.id, f"{a.name} (service account)") for a in accounts]
    return out


def audit_actions(organization: Organization) -> list[str]:
    """The actions in the organization's log, in order: one probe of the index on
    (organization, action, seq) per action (a loose index scan, as ``register_kinds``)."""
    events, (org, action) = (
        sql.table(AuditEvent),
        sql.quoted(AuditEvent, "organization_id", "action"),
    )
    query = f"""
        WITH RECURSIVE actions(a) AS (
            SELECT MIN({action}) FROM {events} WHERE {org} = %s
            UNION ALL
            SELECT (SELECT MIN({action}) FROM {events} WHERE {org} = %s AND {action} > actions.a)
            FROM actions WHERE actions.a IS NOT NULL
        )
        SELECT a FROM actions WHERE a IS NOT NULL
    """
    rows = sql.fetch(query, [organization.id, organization.id], using=db.PRIMARY)
    return [a for (a,) in rows]


def audit_event_at(organization: Organization, seq: int) -> AuditEvent | None:
    """The organization's event at sequence ``seq``, if there is one."""
    return AuditEvent.objects.filter(organization_id=organization.id, seq=seq).first()


def audit_event_get(organization: Organization, event_id: str) -> AuditEvent | None:
    """The organization's event ``event_id``, if there is one."""
    return AuditEvent.objects.filter(organization_id=organization.id, id=event_id).first()


# --- multi-factor sign-in (decision 0014) ----------------------------------------------------


def authenticator(member: Member, *, confirmed: bool = True) -> TOTPDevice | None:
    """The member's authenticator app (django-otp's TOTP device): the one set up, or with
    ``confirmed=False`` the one being set up."""
    return TOTPDevice.objects.filter(user=member, confirmed=confirmed).first()


def with_authenticator(member_ids: list[str]) -> list[str]:
    """Which of these memberships have an authenticator set up (one query)."""
    devices = TOTPDevice.objects.filter(user_id__in=member_ids, confirmed=True)
    return sorted(set(devices.values_list("user_id", flat=True)))


def recovery_codes_left(member: Member) -> int:
    return RecoveryCode.objects.filter(member=member, used_at__isnull=True).count()
