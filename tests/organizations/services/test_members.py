"""Members (SPEC section 2): invitations, joining, roles, revocation, bulk creation, and the
last-admin rule under concurrency."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings

from registra.core.audit import verify_chain
from registra.core.errors import (
    Conflict,
    NotFound,
    Unprocessable,
    ValidationFailed,
)
from registra.core.models import AuditEvent
from registra.core.timefmt import now
from registra.organizations import services
from registra.organizations.models import (
    Member,
)
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues
from tests.cast import operator
from tests.organizations.services.helpers import REASON
from tests.organizations.services.helpers import invite as _invite

CLIENT_ADDRESS = "192.0.2.10"


# --- members ---------------------------------------------------------------------------------


def test_member_invite(cast):
    mark = _mark(cast.org)

    invitation = services.member_invite(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        email="  Nina.Inspector@Example.TEST ",
        role="auditor",
        full_name="Nina Inspector",
        external_employee_id="SKY-042",
    )

    member = Member.objects.get(id=invitation.member.id)
    assert (member.organization_id, member.email, member.role, member.status) == (
        cast.org.id,
        "nina.inspector@example.test",
        "auditor",
        "pending",
    )
    assert member.external_employee_id == "SKY-042"
    assert member.invited_by_id == cast.admin.id
    assert not member.has_usable_password()
    # The link token is shown once and stored only as its SHA-256.
    assert member.invitation_token_hash == hashlib.sha256(invitation.token.encode()).hexdigest()
    assert invitation.token not in member.invitation_token_hash
    assert member.invitation_expires_at > now() + timedelta(days=6)
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == ("member.invited", cast.admin.id, REASON)
    assert event.subject_id == member.id
    assert event.diff == {
        "before": None,
        "after": {
            "email": "nina.inspector@example.test",
            "fullName": "Nina Inspector",
            "role": "auditor",
            "status": "pending",
            "externalEmployeeId": "SKY-042",
        },
    }
    assert invitation.token not in str(event.diff)


def test_member_invite_refuses_an_existing_email_in_the_same_organization(cast):
    mark = _mark(cast.org)
    members = Member.objects.count()

    with pytest.raises(Conflict):
        services.member_invite(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            email="SKY.Ada@example.test",
            role="viewer",
        )

    assert Member.objects.count() == members
    assert _since(cast.org, mark) == []


def test_member_invite_allows_the_same_email_in_another_organization(cast):
    invitation = services.member_invite(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        email=cast.admin.email,
        role="viewer",
    )

    assert invitation.member.organization_id == cast.other_org.id
    assert Member.objects.filter(email=cast.admin.email).count() == 2


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("email", {"email": "not-an-email"}),
        ("email", {"email": ""}),
        ("role", {"role": "owner"}),
        ("fullName", {"full_name": "n" * 201}),
        ("externalEmployeeId", {"external_employee_id": "e" * 129}),
    ],
)
def test_member_invite_names_the_invalid_field(cast, field, overrides):
    mark = _mark(cast.org)
    kwargs = {"email": "new@example.test", "role": "viewer"}
    kwargs.update(overrides)

    with pytest.raises(ValidationFailed) as exc:
        services.member_invite(
            organization=cast.org, actor=operator(cast.org), reason=REASON, **kwargs
        )

    assert _issues(exc) == [[field]]
    assert _since(cast.org, mark) == []


def test_member_accept_invitation(cast):
    invitation = _invite(cast, full_name="Nina Inspector")
    mark = _mark(cast.org)

    member = services.member_accept_invitation(
        token=invitation.token, password="correct horse battery", full_name="Nina I. Inspector"
    )

    stored = Member.objects.get(id=invitation.member.id)
    assert member.id == stored.id
    assert (stored.status, stored.full_name) == ("active", "Nina I. Inspector")
    assert stored.check_password("correct horse battery")
    assert stored.invitation_token_hash == ""
    assert stored.invitation_expires_at is None
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_type, event.actor_id) == (
        "member.joined",
        "member",
        member.id,
    )
    assert event.reason == "Accepted the invitation and set a password"
    assert event.diff["before"]["status"] == "pending"
    assert event.diff["after"]["status"] == "active"
    assert event.diff["after"]["fullName"] == "Nina I. Inspector"

    # The link is one-time.
    with pytest.raises(NotFound):
        services.member_accept_invitation(token=invitation.token, password="another long pass")
    assert len(_since(cast.org, mark)) == 1


def test_member_accept_invitation_keeps_the_invited_name(cast):
    invitation = _invite(cast, full_name="Nina Inspector")

    member = services.member_accept_invitation(
        token=invitation.token, password="correct horse battery"
    )

    assert Member.objects.get(id=member.id).full_name == "Nina Inspector"


@pytest.mark.parametrize("token", ["", "not-the-token", None])
def test_member_accept_invitation_refuses_an_unknown_token(cast, token):
    invitation = _invite(cast)
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.member_accept_invitation(token=token, password="correct horse battery")

    assert Member.objects.get(id=invitation.member.id).status == "pending"
    assert _since(cast.org, mark) == []


def test_member_accept_invitation_refuses_an_expired_link(cast):
    invitation = _invite(cast)
    Member.objects.filter(id=invitation.member.id).update(
        invitation_expires_at=now() - timedelta(seconds=1)
    )
    mark = _mark(cast.org)

    with pytest.raises(NotFound, match="expired"):
        services.member_accept_invitation(token=invitation.token, password="correct horse battery")

    assert Member.objects.get(id=invitation.member.id).status == "pending"
    assert _since(cast.org, mark) == []


def test_member_accept_invitation_refuses_a_revoked_invitation(cast):
    invitation = _invite(cast)
    services.member_revoke(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=invitation.member.id,
    )
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.member_accept_invitation(token=invitation.token, password="correct horse battery")

    assert Member.objects.get(id=invitation.member.id).status == "revoked"
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    ("field", "password", "full_name"),
    [("password", "short pass", "Nina"), ("fullName", "correct horse battery", "")],
)
def test_member_accept_invitation_validates_password_and_name(cast, field, password, full_name):
    invitation = _invite(cast)  # invited without a name: accepting must supply one
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.member_accept_invitation(
            token=invitation.token, password=password, full_name=full_name
        )

    assert _issues(exc) == [[field]]
    stored = Member.objects.get(id=invitation.member.id)
    assert stored.status == "pending"
    assert not stored.has_usable_password()
    assert _since(cast.org, mark) == []


def test_member_change_role(cast):
    mark = _mark(cast.org)

    member = services.member_change_role(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        member_id=cast.viewer.id,
        role="editor",
    )

    assert member.role == "editor"
    assert Member.objects.get(id=cast.viewer.id).role == "editor"
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "member.role-changed",
        cast.admin.id,
        REASON,
        cast.viewer.id,
    )
    assert event.diff == {"before": {"role": "viewer"}, "after": {"role": "editor"}}


def test_member_change_role_refuses_to_demote_the_last_active_admin(cast):
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="at least one active admin"):
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.admin.id,
            role="editor",
        )

    assert Member.objects.get(id=cast.admin.id).role == "admin"
    assert _since(cast.org, mark) == []


def test_a_pending_admin_does_not_count_as_the_remaining_admin(cast):
    _invite(cast, role="admin")  # pending: cannot sign in yet

    with pytest.raises(Unprocessable):
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.admin.id,
            role="viewer",
        )

    assert Member.objects.get(id=cast.admin.id).role == "admin"


def test_member_change_role_demotes_an_admin_when_another_active_admin_remains(cast):
    services.member_change_role(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=cast.editor.id,
        role="admin",
    )
    mark = _mark(cast.org)

    member = services.member_change_role(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=cast.admin.id,
        role="auditor",
    )

    assert Member.objects.get(id=member.id).role == "auditor"
    [event] = _since(cast.org, mark)
    assert event.diff == {"before": {"role": "admin"}, "after": {"role": "auditor"}}
    # Now the promoted editor is the last admin.
    with pytest.raises(Unprocessable):
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.editor.id,
            role="viewer",
        )


def test_another_organizations_admin_does_not_count(cast):
    # The outsider is an admin of the other organization, not of this one.
    assert cast.outsider.role == "admin"
    with pytest.raises(Unprocessable):
        services.member_revoke(
            organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.admin.id
        )


def test_member_change_role_refuses_unknown_role_foreign_and_revoked_members(cast):
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.viewer.id,
            role="god",
        )
    assert _issues(exc) == [["role"]]

    with pytest.raises(NotFound):
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.outsider.id,
            role="viewer",
        )
    assert Member.objects.get(id=cast.outsider.id).role == "admin"

    services.member_revoke(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.viewer.id
    )
    after_revoke = _mark(cast.org)
    with pytest.raises(Unprocessable, match="revoked"):
        services.member_change_role(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.viewer.id,
            role="admin",
        )
    assert Member.objects.get(id=cast.viewer.id).role == "viewer"
    assert [e.action for e in _since(cast.org, mark)] == ["member.revoked"]
    assert _mark(cast.org) == after_revoke


def test_member_revoke(cast):
    cast.viewer.set_password("correct horse battery")
    cast.viewer.save()
    mark = _mark(cast.org)

    member = services.member_revoke(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        member_id=cast.viewer.id,
    )

    assert member.status == "revoked"
    stored = Member.objects.get(id=cast.viewer.id)
    assert stored.status == "revoked"
    assert not stored.is_active
    assert not stored.has_usable_password()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "member.revoked",
        cast.admin.id,
        REASON,
        cast.viewer.id,
    )
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == ("active", "revoked")

    with pytest.raises(Unprocessable, match="already revoked"):
        services.member_revoke(
            organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.viewer.id
        )
    assert len(_since(cast.org, mark)) == 1


def test_member_revoke_a_pending_invitation(cast):
    invitation = _invite(cast, role="viewer")

    member = services.member_revoke(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=invitation.member.id,
    )

    stored = Member.objects.get(id=member.id)
    assert (stored.status, stored.invitation_token_hash) == ("revoked", "")


def test_member_revoke_refuses_the_last_active_admin(cast):
    mark = _mark(cast.org)

    with pytest.raises(Unprocessable, match="at least one active admin"):
        services.member_revoke(
            organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.admin.id
        )

    assert Member.objects.get(id=cast.admin.id).status == "active"
    assert _since(cast.org, mark) == []


def test_member_revoke_refuses_a_member_of_another_organization(cast):
    ours, theirs = _mark(cast.org), _mark(cast.other_org)

    with pytest.raises(NotFound):
        services.member_revoke(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            member_id=cast.outsider.id,
        )

    assert Member.objects.get(id=cast.outsider.id).status == "active"
    assert _since(cast.org, ours) == []
    assert _since(cast.other_org, theirs) == []


def test_member_bulk_create_active_refuses_an_existing_email(cast):
    mark = _mark(cast.org)
    members = Member.objects.count()

    with pytest.raises(Conflict):
        services.member_bulk_create_active(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            people=[
                {"email": "fresh@example.test", "role": "viewer"},
                {"email": cast.viewer.email, "role": "viewer"},
            ],
        )

    assert Member.objects.count() == members
    assert _since(cast.org, mark) == []


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="SQLite serializes writers (IMMEDIATE transactions); its in-memory test database "
    "cannot run two transactions from two threads",
)
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(cast):
    # The second admin's change runs while the first one's transaction is still open: it must
    # wait and then see the first change, instead of both passing the last-admin check.
    import threading

    from django.db import connection, transaction

    services.member_change_role(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=cast.editor.id,
        role="admin",
    )
    first_checked, second_done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def demote(member_id: str, name: str, *, hold: bool) -> None:
        try:
            if not hold:
                first_checked.wait(5)
            with transaction.atomic():
                services.member_change_role(
                    organization=cast.org,
                    actor=operator(cast.org),
                    reason=REASON,
                    member_id=member_id,
                    role="viewer",
                )
                if hold:
                    first_checked.set()
                    second_done.wait(2)  # a correct service keeps the second one waiting
            outcome[name] = "demoted"
        except Unprocessable:
            outcome[name] = "refused"
        finally:
            if not hold:
                second_done.set()
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(cast.admin.id, "first"), kwargs={"hold": True}),
        threading.Thread(target=demote, args=(cast.editor.id, "second"), kwargs={"hold": False}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)

    assert outcome == {"first": "demoted", "second": "refused"}
    admins = Member.objects.filter(organization=cast.org, role="admin", status="active")
    assert [m.id for m in admins] == [cast.editor.id]
    actions = [e.action for e in _since(cast.org, 0)]
    assert actions.count("member.role-changed") == 2  # the promotion and one demotion
    assert verify_chain(cast.org.id).ok


def test_member_change_role_to_the_same_role_is_refused_without_an_event(cast):
    mark = AuditEvent.objects.filter(organization_id=cast.org.id).count()
    with pytest.raises(Unprocessable, match="already has the role editor"):
        services.member_change_role(
            organization=cast.org,
            actor=cast.actor(cast.admin),
            reason=REASON,
            member_id=cast.editor.id,
            role="editor",
        )
    cast.editor.refresh_from_db()
    assert cast.editor.role == "editor"
    assert AuditEvent.objects.filter(organization_id=cast.org.id).count() == mark
