"""Organizations, members, responsibilities, service accounts and tokens (SPEC section 2).

Each test checks what the service returns, the rows it leaves, and the audit events it wrote,
and each rule has its refused case, which must change nothing and audit nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings

from registra.core.audit import verify_chain
from registra.core.errors import (
    Conflict,
    NotFound,
    Unauthenticated,
    Unprocessable,
    ValidationFailed,
)
from registra.core.models import AuditEvent
from registra.core.timefmt import api_format, now
from registra.organizations import credentials, services
from registra.organizations.credentials import check_secret
from registra.organizations.models import (
    AccessToken,
    Member,
    Organization,
    ResponsibilityAssignment,
    ServiceAccount,
)
from tests.cast import OPERATOR_ID, operator
from tests.cast import audit_mark as _mark
from tests.cast import audit_since as _since
from tests.cast import issue_paths as _issues

REASON = "Requested by the quality manager"
CLIENT_ADDRESS = "192.0.2.10"


# --- organizations ---------------------------------------------------------------------------


def test_organization_create(db):
    org = services.organization_create(
        actor=operator(),
        reason=REASON,
        slug="northwind-aero",
        name="Northwind Aero",
        timezone="America/Chicago",
        locale="en-GB",
        readiness_requirements={"calibrated-tool": ["inspection", "calibration", "calibration"]},
    )

    assert org.id.startswith("org_")
    stored = Organization.objects.get(id=org.id)
    assert (stored.slug, stored.name, stored.timezone, stored.locale, stored.status) == (
        "northwind-aero",
        "Northwind Aero",
        "America/Chicago",
        "en-GB",
        "active",
    )
    assert stored.readiness_requirements == {"calibrated-tool": ["calibration", "inspection"]}
    [event] = _since(org, 0)
    assert (event.action, event.actor_id, event.reason) == (
        "organization.created",
        OPERATOR_ID,
        REASON,
    )
    assert (event.subject_type, event.subject_id) == ("organization", org.id)
    assert event.diff["before"] is None
    assert event.diff["after"]["slug"] == "northwind-aero"
    assert event.diff["after"]["readinessRequirements"] == {
        "calibrated-tool": ["calibration", "inspection"]
    }
    assert verify_chain(org.id).ok


@pytest.mark.parametrize("slug", ["a", "7", "a1", "0-b", "skyline-mro-2", "a--b", "a" * 63])
def test_organization_create_accepts_valid_slugs(db, slug):
    org = services.organization_create(actor=operator(), reason=REASON, slug=slug, name="Valid")

    assert Organization.objects.get(id=org.id).slug == slug
    assert _since(org, 0)[0].action == "organization.created"


@pytest.mark.parametrize(
    "slug",
    ["", "-abc", "abc-", "-", "Skyline", "sky_line", "sky line", "sky.line", "äbc", "a" * 64, None],
)
def test_organization_create_refuses_invalid_slugs(db, slug):
    with pytest.raises(ValidationFailed) as exc:
        services.organization_create(actor=operator(), reason=REASON, slug=slug, name="Invalid")

    assert _issues(exc) == [["slug"]]
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_create_refuses_a_duplicate_slug(cast):
    orgs, events = Organization.objects.count(), AuditEvent.objects.count()

    with pytest.raises(Conflict, match="skyline-mro"):
        services.organization_create(
            actor=operator(), reason=REASON, slug="skyline-mro", name="Skyline Again"
        )

    assert Organization.objects.count() == orgs
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("name", {"name": ""}),
        ("name", {"name": "n" * 201}),
        ("timezone", {"timezone": "Mars/Olympus_Mons"}),
        ("locale", {"locale": "e"}),
        ("reason", {"reason": "too short"}),
        ("readinessRequirements", {"readiness_requirements": {"calibrated-tool": "calibration"}}),
        ("readinessRequirements", {"readiness_requirements": {"calibrated-tool": [""]}}),
        ("readinessRequirements", {"readiness_requirements": ["calibration"]}),
    ],
)
def test_organization_create_names_the_invalid_field(db, field, overrides):
    kwargs = {"actor": operator(), "reason": REASON, "slug": "northwind", "name": "Northwind"}
    kwargs.update(overrides)

    with pytest.raises(ValidationFailed) as exc:
        services.organization_create(**kwargs)

    assert _issues(exc) == [[field]]
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_organization_set_readiness_requirements(cast):
    mark = _mark(cast.org)

    org = services.organization_set_readiness_requirements(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        requirements={"calibrated-tool": ["calibration"], "vehicle": ["inspection"]},
    )

    expected = {"calibrated-tool": ["calibration"], "vehicle": ["inspection"]}
    assert org.readiness_requirements == expected
    assert Organization.objects.get(id=cast.org.id).readiness_requirements == expected
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "organization.readiness-requirements-changed",
        cast.admin.id,
        REASON,
    )
    assert event.diff["before"] == {"readinessRequirements": {"calibrated-tool": ["calibration"]}}
    assert event.diff["after"] == {"readinessRequirements": expected}

    with pytest.raises(ValidationFailed):
        services.organization_set_readiness_requirements(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            requirements={"vehicle": "x"},
        )
    assert Organization.objects.get(id=cast.org.id).readiness_requirements == expected
    assert len(_since(cast.org, mark)) == 1


# --- reasons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["x" * 10, "x" * 1000, "  ten chars!  "])
def test_a_reason_of_10_to_1000_characters_is_accepted(cast, reason):
    mark = _mark(cast.org)

    services.member_invite(
        organization=cast.org,
        actor=operator(cast.org),
        reason=reason,
        email="new@example.test",
        role="viewer",
    )

    assert _since(cast.org, mark)[0].reason == reason.strip()


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "must be at least 10 characters"),
        ("x" * 9, "must be at least 10 characters"),
        ("   short    ", "must be at least 10 characters"),
        ("x" * 1001, "must be at most 1000 characters"),
        (None, "must be a string"),
    ],
)
def test_a_missing_short_or_long_reason_is_refused(cast, reason, message):
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        services.member_invite(
            organization=cast.org,
            actor=operator(cast.org),
            reason=reason,
            email="new@example.test",
            role="viewer",
        )

    assert exc.value.issues == [{"path": ["reason"], "message": message}]
    assert not Member.objects.filter(email="new@example.test").exists()
    assert _since(cast.org, mark) == []


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


def _invite(cast, email="new.admin@example.test", role="admin", full_name=""):
    return services.member_invite(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        email=email,
        role=role,
        full_name=full_name,
    )


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


# --- responsibilities ------------------------------------------------------------------------


def test_responsibility_assign_creates_then_reassigns(cast):
    mark = _mark(cast.org)

    ra = services.responsibility_assign(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        responsibility_key="toolbox-A.custodian",
        title="Custodian of toolbox A",
        holder_id=cast.technician.id,
    )

    assert ra.id.startswith("ra_")
    stored = ResponsibilityAssignment.objects.get(id=ra.id)
    assert (stored.organization_id, stored.responsibility_key, stored.holder_id) == (
        cast.org.id,
        "toolbox-A.custodian",
        cast.technician.id,
    )
    [created] = _since(cast.org, mark)
    assert (created.action, created.actor_id, created.reason, created.subject_id) == (
        "responsibility.assigned",
        cast.admin.id,
        REASON,
        ra.id,
    )
    assert created.diff["before"] is None
    assert created.diff["after"] == {
        "responsibilityKey": "toolbox-A.custodian",
        "title": "Custodian of toolbox A",
        "description": "",
        "holderId": cast.technician.id,
    }

    again = services.responsibility_assign(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        responsibility_key="toolbox-A.custodian",
        title="Custodian of toolbox A",
        holder_id=cast.editor.id,
    )

    assert again.id == ra.id
    assert ResponsibilityAssignment.objects.filter(organization=cast.org).count() == 1
    assert ResponsibilityAssignment.objects.get(id=ra.id).holder_id == cast.editor.id
    reassigned = _since(cast.org, mark)[1]
    assert reassigned.diff["before"]["holderId"] == cast.technician.id
    assert reassigned.diff["after"]["holderId"] == cast.editor.id


def test_responsibility_assign_without_a_holder(cast):
    ra = services.responsibility_assign(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        responsibility_key="hangar-2",
        title="Hangar 2 tools",
        holder_id=None,
    )

    assert ResponsibilityAssignment.objects.get(id=ra.id).holder_id is None


def test_responsibility_assign_refuses_an_outsider_or_inactive_holder(cast):
    invitation = _invite(cast, role="viewer")
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.responsibility_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            responsibility_key="toolbox-A",
            title="Toolbox A",
            holder_id=cast.outsider.id,
        )
    with pytest.raises(Unprocessable, match="active member"):
        services.responsibility_assign(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            responsibility_key="toolbox-A",
            title="Toolbox A",
            holder_id=invitation.member.id,
        )

    assert not ResponsibilityAssignment.objects.exists()
    assert _since(cast.org, mark) == []


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("responsibilityKey", {"responsibility_key": "-toolbox"}),
        ("responsibilityKey", {"responsibility_key": "tool box"}),
        ("title", {"title": ""}),
        ("description", {"description": "d" * 4001}),
    ],
)
def test_responsibility_assign_names_the_invalid_field(cast, field, overrides):
    kwargs = {"responsibility_key": "toolbox-A", "title": "Toolbox A", "holder_id": None}
    kwargs.update(overrides)

    with pytest.raises(ValidationFailed) as exc:
        services.responsibility_assign(
            organization=cast.org, actor=operator(cast.org), reason=REASON, **kwargs
        )

    assert _issues(exc) == [[field]]
    assert not ResponsibilityAssignment.objects.exists()


# --- service accounts ------------------------------------------------------------------------


def _account(cast, **kwargs):
    spec = {"name": "CMMS nightly", "scopes": "assets:read"}
    spec.update(kwargs)
    return services.service_account_create(
        organization=cast.org, actor=cast.actor(cast.admin), reason=REASON, **spec
    )


def test_service_account_create(cast):
    mark = _mark(cast.org)
    expires = now() + timedelta(days=90)

    issued = _account(
        cast,
        scopes=["organization:read", "assets:read", "assets:read"],
        contact_email="ops@example.test",
        expires_at=expires,
    )

    sa = ServiceAccount.objects.get(id=issued.account.id)
    assert sa.id.startswith("svc_")
    assert (sa.organization_id, sa.name, sa.contact_email, sa.status) == (
        cast.org.id,
        "CMMS nightly",
        "ops@example.test",
        "active",
    )
    assert sa.scopes == ["assets:read", "organization:read"]
    assert sa.expires_at == expires
    # Only a keyed hash of the secret is kept.
    assert issued.secret.startswith("rsec_")
    assert issued.secret not in sa.secret_hash
    assert sa.secret_hash == credentials.secret_hash(issued.secret)
    assert sa.secret_hash.startswith("hmac-sha256$")
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.created",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert event.diff == {
        "before": None,
        "after": {
            "name": "CMMS nightly",
            "contactEmail": "ops@example.test",
            "scopes": ["assets:read", "organization:read"],
            "status": "active",
            "expiresAt": api_format(expires),
        },
    }
    assert issued.secret not in str(event.diff)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("scopes", {"scopes": ""}),
        ("scopes", {"scopes": []}),
        ("scopes", {"scopes": "assets:read assets:write"}),
        ("name", {"name": ""}),
        ("contactEmail", {"contact_email": "ops at example"}),
        ("expiresAt", {"expires_at": (now() + timedelta(days=1)).replace(tzinfo=None)}),
        ("expiresAt", {"expires_at": now() - timedelta(minutes=1)}),
    ],
)
def test_service_account_create_names_the_invalid_field(cast, field, overrides):
    accounts = ServiceAccount.objects.count()
    mark = _mark(cast.org)

    with pytest.raises(ValidationFailed) as exc:
        _account(cast, **overrides)

    assert _issues(exc) == [[field]]
    assert ServiceAccount.objects.count() == accounts
    assert _since(cast.org, mark) == []


def _token(issued) -> services.IssuedToken:
    return services.token_issue(
        client_address=CLIENT_ADDRESS, client_id=issued.account.id, client_secret=issued.secret
    )


def test_service_account_rotate_secret(cast):
    issued = _account(cast)
    _token(issued)
    _token(issued)
    mark = _mark(cast.org)

    rotated = services.service_account_rotate_secret(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert rotated.account.id == issued.account.id
    assert rotated.secret != issued.secret
    sa = ServiceAccount.objects.get(id=issued.account.id)
    assert check_secret(rotated.secret, sa.secret_hash).ok
    assert not check_secret(issued.secret, sa.secret_hash).ok
    assert sa.secret_rotated_at is not None
    assert not AccessToken.objects.filter(service_account=sa).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.secret-rotated",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert event.diff == {"before": None, "after": None, "tokensRevoked": 2}
    assert rotated.secret not in str(event.diff)
    # The old secret stops working at once; the new one works.
    with pytest.raises(Unauthenticated):
        _token(issued)
    assert _token(rotated).access_token


def test_service_account_rotate_secret_refuses_foreign_and_deleted_accounts(cast):
    mark = _mark(cast.org)

    with pytest.raises(NotFound):
        services.service_account_rotate_secret(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=cast.other_reader.account.id,
        )
    other = ServiceAccount.objects.get(id=cast.other_reader.account.id)
    assert check_secret(cast.other_reader.secret, other.secret_hash).ok

    issued = _account(cast)
    services.service_account_delete(
        organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=issued.account.id
    )
    with pytest.raises(NotFound):
        services.service_account_rotate_secret(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.created",
        "service-account.deleted",
    ]


def test_service_account_disable_and_enable(cast):
    issued = _account(cast)
    _token(issued)
    mark = _mark(cast.org)

    disabled = services.service_account_disable(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert disabled.status == "disabled"
    assert ServiceAccount.objects.get(id=issued.account.id).status == "disabled"
    assert not AccessToken.objects.filter(service_account_id=issued.account.id).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "service-account.disabled",
        cast.admin.id,
        REASON,
    )
    assert event.diff["before"]["status"] == "active"
    assert event.diff["after"]["status"] == "disabled"
    assert event.diff["tokensRevoked"] == 1
    with pytest.raises(Unauthenticated):
        _token(issued)
    with pytest.raises(Unprocessable, match="already disabled"):
        services.service_account_disable(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.disabled",
        "token.grant-failed",
    ]

    enabled = services.service_account_enable(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert enabled.status == "active"
    assert ServiceAccount.objects.get(id=issued.account.id).status == "active"
    event = _since(cast.org, mark)[2]
    assert event.action == "service-account.enabled"
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == ("disabled", "active")
    assert event.diff["tokensRevoked"] == 0
    # Enabling keeps the secret.
    assert _token(issued).access_token
    with pytest.raises(Unprocessable, match="already active"):
        services.service_account_enable(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            account_id=issued.account.id,
        )


def test_service_account_delete(cast):
    issued = _account(cast)
    _token(issued)
    mark = _mark(cast.org)

    deleted = services.service_account_delete(
        organization=cast.org,
        actor=cast.actor(cast.admin),
        reason=REASON,
        account_id=issued.account.id,
    )

    assert deleted.status == "deleted"
    sa = ServiceAccount.objects.get(id=issued.account.id)  # the row stays for the audit trail
    assert sa.status == "deleted"
    assert not check_secret(issued.secret, sa.secret_hash).ok
    assert not AccessToken.objects.filter(service_account=sa).exists()
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason, event.subject_id) == (
        "service-account.deleted",
        cast.admin.id,
        REASON,
        sa.id,
    )
    assert (event.diff["before"]["status"], event.diff["after"]["status"]) == ("active", "deleted")
    assert event.diff["tokensRevoked"] == 1
    with pytest.raises(Unauthenticated):
        _token(issued)
    for service in (
        services.service_account_delete,
        services.service_account_enable,
        services.service_account_disable,
    ):
        with pytest.raises(NotFound):
            service(
                organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=sa.id
            )
    assert ServiceAccount.objects.get(id=sa.id).status == "deleted"
    assert [e.action for e in _since(cast.org, mark)] == [
        "service-account.deleted",
        "token.grant-failed",
    ]


def test_service_account_status_changes_refuse_another_organizations_account(cast):
    other_id = cast.other_reader.account.id
    mark = _mark(cast.org)

    for service in (services.service_account_disable, services.service_account_delete):
        with pytest.raises(NotFound):
            service(
                organization=cast.org, actor=operator(cast.org), reason=REASON, account_id=other_id
            )

    assert ServiceAccount.objects.get(id=other_id).status == "active"
    assert _since(cast.org, mark) == []


# --- tokens ----------------------------------------------------------------------------------


def test_token_issue(cast):
    mark = _mark(cast.org)
    before = now()

    token = services.token_issue(
        client_address=CLIENT_ADDRESS,
        client_id=cast.reader.account.id,
        client_secret=cast.reader.secret,
    )

    assert token.access_token.startswith("rtok_")
    assert (token.expires_in, token.scopes) == (900, ["assets:read"])
    row = AccessToken.objects.get(token_hash=credentials.token_hash(token.access_token))
    assert row.token_hash == credentials.token_hash(token.access_token)
    assert not AccessToken.objects.filter(token_hash=token.access_token).exists()
    assert (row.organization_id, row.service_account_id, row.scopes) == (
        cast.org.id,
        cast.reader.account.id,
        ["assets:read"],
    )
    assert row.expires_at - row.created_at == timedelta(seconds=900)
    assert ServiceAccount.objects.get(id=cast.reader.account.id).last_used_at >= before
    [event] = _since(cast.org, mark)
    assert (event.action, event.actor_type, event.actor_id, event.reason) == (
        "token.issued",
        "service-account",
        cast.reader.account.id,
        "Client credentials grant",
    )
    assert (event.subject_type, event.subject_id) == ("access-token", row.id)
    assert event.diff == {
        "before": None,
        "after": None,
        "scopes": ["assets:read"],
        "expiresAt": api_format(row.expires_at),
        "clientAddress": CLIENT_ADDRESS,
    }
    assert token.access_token not in str(event.diff)


def test_token_issue_is_capped_by_the_account_expiry(cast):
    issued = _account(cast, expires_at=now() + timedelta(seconds=120))

    token = _token(issued)

    assert 0 < token.expires_in <= 120
    row = AccessToken.objects.get(service_account_id=issued.account.id)
    assert row.expires_at == ServiceAccount.objects.get(id=issued.account.id).expires_at


def _refused(cast, client_id, secret, failure=None):
    """Refused with 401; a real account's organization records why (``failure``)."""
    live, mark = AccessToken.objects.count(), _mark(cast.org)
    with pytest.raises(Unauthenticated, match="invalid client credentials"):
        services.token_issue(
            client_address=CLIENT_ADDRESS, client_id=client_id, client_secret=secret
        )
    assert AccessToken.objects.count() == live
    expected = [("token.grant-failed", failure)] if failure else []
    assert [(e.action, e.diff["failure"]) for e in _since(cast.org, mark)] == expected


def test_token_issue_refuses_a_wrong_or_missing_secret(cast):
    for secret in ("rsec_wrong", "", None, cast.org_reader.secret):  # bound to its own account
        _refused(cast, cast.reader.account.id, secret, "wrong-secret")
    assert ServiceAccount.objects.get(id=cast.reader.account.id).last_used_at is None


def test_token_issue_refuses_an_unknown_client(cast):
    _refused(cast, "svc_01HZZZZZZZZZZZZZZZZZZZZZZZ", cast.reader.secret)
    _refused(cast, "", cast.reader.secret)


def test_token_issue_refuses_a_disabled_account(cast):
    services.service_account_disable(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, cast.reader.secret, "disabled")


def test_token_issue_refuses_a_deleted_account(cast):
    services.service_account_delete(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, cast.reader.secret, "deleted")


def test_token_issue_refuses_an_expired_account(cast):
    issued = _account(cast, expires_at=now() + timedelta(hours=1))
    assert _token(issued).access_token
    ServiceAccount.objects.filter(id=issued.account.id).update(expires_at=now())

    _refused(cast, issued.account.id, issued.secret, "expired")


def test_token_issue_refuses_an_account_of_a_suspended_organization(cast):
    Organization.objects.filter(id=cast.org.id).update(status="suspended")

    _refused(cast, cast.reader.account.id, cast.reader.secret, "organization-suspended")
    # The other organization is unaffected.
    token = services.token_issue(
        client_address=CLIENT_ADDRESS,
        client_id=cast.other_reader.account.id,
        client_secret=cast.other_reader.secret,
    )
    assert AccessToken.objects.get(
        token_hash=credentials.token_hash(token.access_token)
    ).organization_id == (cast.other_org.id)


def test_token_issue_refuses_the_secret_from_before_a_rotation(cast):
    old_secret = cast.reader.secret
    rotated = services.service_account_rotate_secret(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )

    _refused(cast, cast.reader.account.id, old_secret, "wrong-secret")
    assert services.token_issue(
        client_address=CLIENT_ADDRESS, client_id=rotated.account.id, client_secret=rotated.secret
    )


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
