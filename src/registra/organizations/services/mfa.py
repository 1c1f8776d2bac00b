"""Signing in: the record of each sign-in and each refused one, and multi-factor sign-in with an
authenticator app (django-otp's TOTP device: its drift window, replay refusal and throttling of
wrong codes) and one-time recovery codes kept as keyed hashes. Decision 0014."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_totp.models import TOTPDevice

from registra.core import audit, validation
from registra.core.audit import Actor
from registra.core.errors import Conflict, Forbidden, Unprocessable
from registra.core.timefmt import now
from registra.core.validation import field_error
from registra.organizations.choices import MembershipStatus
from registra.organizations.models import Member, Organization, RecoveryCode
from registra.organizations.policy import Permission, actor_for_member, require
from registra.organizations.services.members import _get_member

RECOVERY_CODES = 10
_RECOVERY_SALT = "registra.recovery-code"


def _recovery_hash(code: str) -> str:
    """A recovery code's keyed hash: the code without its dash, lower case, under the
    installation's secret key."""
    plain = code.strip().replace("-", "").replace(" ", "").lower()
    return salted_hmac(_RECOVERY_SALT, plain, algorithm="sha256").hexdigest()


def _own(organization: Organization, actor: Actor, member_id: str) -> Member:
    require(actor, Permission.MANAGE_OWN_ACCOUNT, organization=organization)
    if actor.kind != "member" or actor.id != member_id:
        raise Forbidden("members set up their own authenticator")
    return _get_member(organization, member_id, lock=True)


def _record(member: Member, action: str, reason: str, after: dict[str, object]) -> None:
    audit.record(
        organization_id=member.organization_id,
        actor=actor_for_member(member),
        reason=reason,
        action=action,
        subject_type="member",
        subject_id=member.id,
        before=None,
        after=after,
    )


@transaction.atomic
def mfa_begin_enrolment(*, organization: Organization, actor: Actor, member_id: str) -> TOTPDevice:
    """A new, unconfirmed authenticator for the member (replacing an unconfirmed one): its key
    goes into the app, and a code from the app confirms it (``mfa_confirm_enrolment``)."""
    member = _own(organization, actor, member_id)
    if TOTPDevice.objects.filter(user=member, confirmed=True).exists():
        raise Conflict("an authenticator is already set up: remove it before setting up another")
    TOTPDevice.objects.filter(user=member, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=member, name="Authenticator app", confirmed=False)
    _record(member, "member.mfa-enrolment-started", "Started setting up an authenticator app", {})
    return device


@transaction.atomic
def mfa_confirm_enrolment(
    *, organization: Organization, actor: Actor, member_id: str, code: str
) -> list[str]:
    """Confirm the member's new authenticator with a code from the app; returns the new
    recovery codes (shown once, kept only as keyed hashes)."""
    member = _own(organization, actor, member_id)
    device = TOTPDevice.objects.select_for_update().filter(user=member, confirmed=False).first()
    if device is None:
        raise Unprocessable("no authenticator is being set up: start again")
    digits = validation.text("code", code, min_len=1, max_len=16).replace(" ", "")
    if not (digits.isdigit() and len(digits) == device.digits and device.verify_token(digits)):
        raise field_error("code", "does not match the code the authenticator app shows now")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(member)
    _record(
        member,
        "member.mfa-enrolled",
        "Set up an authenticator app",
        {"authenticator": "totp", "recoveryCodes": len(codes)},
    )
    return codes


def _new_recovery_codes(member: Member) -> list[str]:
    RecoveryCode.objects.filter(member=member).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    at = now()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(member=member, code_hash=_recovery_hash(c), created_at=at) for c in codes
    )
    return codes


@dataclass(frozen=True)
class SecondFactor:
    """The outcome of a code: how it matched (``totp``, ``recovery code``) or None; when wrong
    codes have locked the authenticator, until when."""

    method: str | None
    locked_until: datetime | None = None


def mfa_verify(*, member_id: str, code: str, client_address: str) -> SecondFactor:
    """Check the second factor of a member who has just proved their password: a code from the
    authenticator app or an unused recovery code (used up by this). Recorded in the audit log
    either way; the authenticator's count of wrong codes is kept even when this one is wrong."""
    with transaction.atomic():
        member = Member.objects.select_for_update().filter(id=member_id).first()
        if member is None or member.status != MembershipStatus.ACTIVE:
            return SecondFactor(None)
        device = TOTPDevice.objects.select_for_update().filter(user=member, confirmed=True).first()
        entered = (code or "").strip().replace(" ", "")
        method, locked_until = None, None
        if device is not None and entered.isdigit():
            allowed, details = device.verify_is_allowed()
            if not allowed:
                locked_until = (details or {}).get("locked_until")
            elif device.verify_token(entered):
                method = "totp"
        elif device is not None and entered:
            used = RecoveryCode.objects.select_for_update().filter(
                member=member, code_hash=_recovery_hash(entered), used_at__isnull=True
            )
            if used.update(used_at=now()):
                method = "recovery code"
        if method:
            _record(
                member,
                "member.second-factor-verified",
                f"Signed in with a {method}",
                {"secondFactor": method, "clientAddress": client_address},
            )
        else:
            why = "authenticator locked after wrong codes" if locked_until else "wrong code"
            _record(
                member,
                "member.sign-in-failed",
                f"Sign-in refused: {why}",
                {"step": "second factor", "clientAddress": client_address},
            )
    return SecondFactor(method, locked_until)


@transaction.atomic
def mfa_remove(*, organization: Organization, actor: Actor, reason: str, member_id: str) -> Member:
    """Remove a member's authenticator and recovery codes: the member themself, or an admin for
    someone who lost theirs. Where the organization requires a second factor, the member sets
    up a new one at their next page."""
    if actor.kind == "member" and actor.id == member_id:
        require(actor, Permission.MANAGE_OWN_ACCOUNT, organization=organization)
    else:
        require(actor, Permission.MANAGE_ORGANIZATION, organization=organization)
    reason = validation.reason(reason)
    member = _get_member(organization, member_id, lock=True)
    removed, _ = TOTPDevice.objects.filter(user=member).delete()
    if not removed:
        raise Unprocessable(f"{member.email} has no authenticator set up")
    RecoveryCode.objects.filter(member=member).delete()
    audit.record(
        organization_id=organization.id,
        actor=actor,
        reason=reason,
        action="member.mfa-removed",
        subject_type="member",
        subject_id=member.id,
        before={"authenticator": "totp"},
        after={"authenticator": None},
    )
    return member


# --- the record of signing in --------------------------------------------------------------


@transaction.atomic
def sign_in_record(*, member_ids: list[str], client_address: str) -> None:
    """A person proved the password of these memberships: each one's last sign-in, and an
    audit event in each organization."""
    at = now()
    members = list(Member.objects.select_for_update().filter(id__in=member_ids).order_by("id"))
    Member.objects.filter(id__in=[m.id for m in members]).update(last_login=at)
    for member in members:
        _record(
            member,
            "member.signed-in",
            "Signed in with email and password",
            {"clientAddress": client_address},
        )


@transaction.atomic
def sign_in_failure_record(*, email: str, client_address: str, why: str) -> None:
    """A refused sign-in with this email address: an audit event in each organization where it
    is an active member. An unknown address has no organization's log to go to (the server's
    log line is the record)."""
    members = Member.objects.filter(email=email.strip().lower(), status=MembershipStatus.ACTIVE)
    for member in members.order_by("id"):
        _record(
            member,
            "member.sign-in-failed",
            f"Sign-in refused: {why}",
            {"step": "password", "clientAddress": client_address},
        )
