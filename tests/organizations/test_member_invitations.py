"""Invitations (issue 8): re-send (a new link, the old one dead), cancel, inviting a cancelled
address again, what accepting says about a used, expired, cancelled, replaced or unknown link,
Django's password validators, editing the external employee id, and the audit events."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from registra.core.errors import Conflict, Forbidden, Unprocessable, ValidationFailed
from registra.core.timefmt import now
from registra.organizations import services
from registra.organizations.models import Member
from registra.organizations.services import InvitationRefused
from tests.cast import REASON, Cast, audit_mark, audit_since, issue_paths, operator

pytestmark = pytest.mark.django_db
GOOD_PASSWORD = "tarmac lantern orbit 42"


def _invite(cast: Cast, email: str = "nina@example.test", **kw: str) -> services.Invitation:
    return services.member_invite(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        email=email,
        role=kw.pop("role", "editor"),
        **kw,
    )


def _accept(token: str, password: str = GOOD_PASSWORD, full_name: str = "Nina Ng") -> Member:
    return services.member_accept_invitation(token=token, password=password, full_name=full_name)


def _refusal(token: str) -> InvitationRefused:
    with pytest.raises(InvitationRefused) as exc:
        _accept(token)
    return exc.value


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- re-send ---------------------------------------------------------------------------------


def test_resend_issues_a_new_link_and_the_old_one_stops_working(cast: Cast) -> None:
    first = _invite(cast)
    Member.objects.filter(id=first.member.id).update(invitation_expires_at=now() + timedelta(1))
    mark = audit_mark(cast.org)

    second = services.member_invitation_resend(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        member_id=first.member.id,
    )

    stored = Member.objects.get(id=first.member.id)
    assert second.token != first.token
    assert stored.invitation_token_hash == _hash(second.token)  # only the hash is kept
    assert second.token not in str(Member.objects.filter(id=stored.id).values().first())
    assert stored.invitation_expires_at > now() + timedelta(days=6)
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.subject_id, event.actor_id) == (
        "member.invitation-resent",
        stored.id,
        cast.admin.id,
    )
    assert set(event.diff["after"]) == {"invitationExpiresAt"}
    assert second.token not in str(event.diff)

    refused = _refusal(first.token)
    assert refused.outcome == "replaced"
    assert "newer invitation" in refused.message
    assert _accept(second.token).status == "active"


def test_resend_refuses_a_member_who_has_joined(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    with pytest.raises(Unprocessable, match="only a pending invitation"):
        services.member_invitation_resend(
            organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.viewer.id
        )
    assert audit_since(cast.org, mark) == []


def test_an_editor_may_not_resend(cast: Cast) -> None:
    before = Member.objects.get(id=cast.pending.id).invitation_token_hash
    with pytest.raises(Forbidden):
        services.member_invitation_resend(
            organization=cast.org,
            actor=cast.actor(cast.editor),
            reason=REASON,
            member_id=cast.pending.id,
        )
    assert Member.objects.get(id=cast.pending.id).invitation_token_hash == before


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_ends_the_invitation_and_its_link_says_so(cast: Cast) -> None:
    invitation = _invite(cast)
    mark = audit_mark(cast.org)

    services.member_invitation_cancel(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        member_id=invitation.member.id,
    )

    stored = Member.objects.get(id=invitation.member.id)
    assert (stored.status, stored.invitation_token_hash) == ("revoked", "")
    (event,) = audit_since(cast.org, mark)
    assert event.action == "member.invitation-cancelled"
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == (
        "pending",
        "revoked",
    )
    refused = _refusal(invitation.token)
    assert refused.outcome == "cancelled"
    assert "Skyline MRO" in refused.message
    assert Member.objects.get(id=stored.id).status == "revoked"


def test_cancel_refuses_an_active_member(cast: Cast) -> None:
    with pytest.raises(Unprocessable, match="only a pending invitation"):
        services.member_invitation_cancel(
            organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.editor.id
        )
    assert Member.objects.get(id=cast.editor.id).status == "active"


def test_a_cancelled_address_can_be_invited_again(cast: Cast) -> None:
    first = _invite(cast, role="viewer")
    services.member_invitation_cancel(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=first.member.id
    )
    mark = audit_mark(cast.org)

    again = _invite(cast, role="auditor", full_name="Nina N.")

    assert again.member.id == first.member.id
    stored = Member.objects.get(id=first.member.id)
    assert (stored.status, stored.role, stored.full_name) == ("pending", "auditor", "Nina N.")
    (event,) = audit_since(cast.org, mark)
    assert event.action == "member.invited"
    assert event.diff["before"]["status"] == "revoked"
    assert _refusal(first.token).outcome == "replaced"
    assert _accept(again.token).status == "active"


def test_an_invited_or_active_address_is_still_a_conflict(cast: Cast) -> None:
    with pytest.raises(Conflict):
        _invite(cast, email=cast.pending.email)
    with pytest.raises(Conflict):
        _invite(cast, email=cast.editor.email.upper())


# --- accepting: what happened to the link ----------------------------------------------------


def test_a_used_link_says_sign_in(cast: Cast) -> None:
    invitation = _invite(cast)
    _accept(invitation.token)
    mark = audit_mark(cast.org)

    refused = _refusal(invitation.token)

    assert refused.outcome == "used"
    assert "already been used" in refused.message and "sign in" in refused.message
    assert refused.code == "not_found"
    assert audit_since(cast.org, mark) == []


def test_an_expired_link_says_ask_an_admin(cast: Cast) -> None:
    invitation = _invite(cast)
    Member.objects.filter(id=invitation.member.id).update(
        invitation_expires_at=now() - timedelta(seconds=1)
    )

    refused = _refusal(invitation.token)

    assert refused.outcome == "expired"
    assert "ask an admin of Skyline MRO to send a new one" in refused.message
    assert Member.objects.get(id=invitation.member.id).status == "pending"


@pytest.mark.parametrize("token", ["", "nonsense", "user_01ABC.forged:signature"])
def test_an_unknown_or_forged_link_names_nobody(cast: Cast, token: str) -> None:
    refused = _refusal(token)
    assert refused.outcome == "unknown"
    assert "not valid" in refused.message
    assert "Skyline" not in refused.message


def test_a_revoked_members_old_link_reads_cancelled(cast: Cast) -> None:
    invitation = _invite(cast)
    _accept(invitation.token)
    services.member_revoke(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=invitation.member.id,
    )
    assert _refusal(invitation.token).outcome == "cancelled"


def test_the_outcomes_have_distinct_messages(cast: Cast) -> None:
    used, expired, cancelled, replaced = (_invite(cast, f"p{i}@example.test") for i in range(4))
    _accept(used.token)
    Member.objects.filter(id=expired.member.id).update(invitation_expires_at=now())
    services.member_invitation_cancel(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=cancelled.member.id,
    )
    services.member_invitation_resend(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=replaced.member.id
    )
    tokens = [used.token, expired.token, cancelled.token, replaced.token, "unknown"]

    refusals = [_refusal(t) for t in tokens]

    assert [r.outcome for r in refusals] == ["used", "expired", "cancelled", "replaced", "unknown"]
    assert len({r.message for r in refusals}) == 5


def test_invitation_for_token_reads_the_pending_member(cast: Cast) -> None:
    invitation = _invite(cast, full_name="Nina Ng")
    member = services.invitation_for_token(invitation.token)
    assert (member.id, member.organization.slug) == (invitation.member.id, "skyline-mro")


# --- password rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short one", "too short"),
        ("123456789012345", "entirely numeric"),
        ("qwertyuiop12", "too common"),
        ("nina.ng@example.test", "too similar"),
    ],
)
def test_accepting_applies_djangos_password_validators(cast: Cast, password: str, rule: str):
    invitation = _invite(cast, email="nina.ng@example.test")
    mark = audit_mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _accept(invitation.token, password=password)

    assert issue_paths(exc) == [["password"]]
    assert rule in exc.value.message
    stored = Member.objects.get(id=invitation.member.id)
    assert (stored.status, stored.has_usable_password()) == ("pending", False)
    assert audit_since(cast.org, mark) == []


def test_accepting_reports_the_name_and_the_password_at_once(cast: Cast) -> None:
    invitation = _invite(cast)
    with pytest.raises(ValidationFailed) as exc:
        _accept(invitation.token, password="short", full_name="  ")
    assert issue_paths(exc) == [["fullName"], ["password"]]


def test_accepting_sets_the_password_and_records_the_join(cast: Cast) -> None:
    invitation = _invite(cast)
    mark = audit_mark(cast.org)

    member = _accept(invitation.token, full_name="Nina Ng")

    stored = Member.objects.get(id=member.id)
    assert stored.check_password(GOOD_PASSWORD)
    assert (stored.status, stored.full_name, stored.invitation_token_hash) == (
        "active",
        "Nina Ng",
        "",
    )
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.actor_id) == ("member.joined", member.id)
    assert GOOD_PASSWORD not in str(event.diff)


def test_set_password_applies_the_validators_too(cast: Cast) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.member_set_password(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.viewer.id,
            password="qwertyuiop12",
        )
    assert issue_paths(exc) == [["password"]]
    assert "too common" in exc.value.message
    assert not Member.objects.get(id=cast.viewer.id).has_usable_password()


# --- external employee id --------------------------------------------------------------------


def test_member_update_changes_the_external_id_and_name(cast: Cast) -> None:
    mark = audit_mark(cast.org)

    services.member_update(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        member_id=cast.technician.id,
        external_employee_id=" SKY-777 ",
        full_name="Tess T. Technician",
    )

    stored = Member.objects.get(id=cast.technician.id)
    assert (stored.external_employee_id, stored.full_name) == ("SKY-777", "Tess T. Technician")
    (event,) = audit_since(cast.org, mark)
    assert event.action == "member.updated"
    assert event.diff == {
        "before": {"externalEmployeeId": "SKY-004", "fullName": "Tess Technician"},
        "after": {"externalEmployeeId": "SKY-777", "fullName": "Tess T. Technician"},
    }


def test_member_update_refuses_an_id_another_member_has(cast: Cast) -> None:
    mark = audit_mark(cast.org)
    with pytest.raises(ValidationFailed) as exc:
        services.member_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.technician.id,
            external_employee_id=cast.editor.external_employee_id,
        )
    assert issue_paths(exc) == [["externalEmployeeId"]]
    assert cast.editor.email in exc.value.message
    assert Member.objects.get(id=cast.technician.id).external_employee_id == "SKY-004"
    assert audit_since(cast.org, mark) == []


def test_member_update_refuses_no_change(cast: Cast) -> None:
    with pytest.raises(Unprocessable, match="nothing to change"):
        services.member_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.technician.id,
            external_employee_id=cast.technician.external_employee_id,
        )


def test_member_update_is_scoped_to_the_organization(cast: Cast) -> None:
    from registra.core.errors import NotFound

    with pytest.raises(NotFound):
        services.member_update(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.outsider.id,
            external_employee_id="X-1",
        )
    assert Member.objects.get(id=cast.outsider.id).external_employee_id == "HARBOR-000"


def test_the_database_refuses_two_members_with_one_external_employee_id(cast: Cast) -> None:
    """What the service checks first, the database holds too (two admins saving at once):
    revoked members and empty ids aside."""
    taken = cast.editor.external_employee_id
    assert taken
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(id=cast.viewer.id).update(external_employee_id=taken)
    Member.objects.filter(id=cast.revoked.id).update(external_employee_id=taken)  # revoked
    Member.objects.filter(id__in=[cast.viewer.id, cast.auditor.id]).update(external_employee_id="")
    # Another organization may use the same id.
    Member.objects.filter(id=cast.outsider.id).update(external_employee_id=taken)
    assert Member.objects.filter(external_employee_id=taken).count() == 3
