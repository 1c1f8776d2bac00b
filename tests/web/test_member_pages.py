"""Members and invitations pages (issue 8): admins only (editor, auditor and viewer 403;
another organization 404), every write with a reason and its audit event, bad input 400 naming
the field with everything typed kept, the last admin's role, revoking ends an open session, the
emailed link opens the public accept page, and every way that page refuses a link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from registra.core.timefmt import now
from registra.organizations import services as org_services
from registra.organizations.models import Member, Organization
from tests.cast import REASON, Cast, audit_mark, audit_since, operator
from tests.servers import free_port
from tests.web.conftest import give_password, sign_in

pytestmark = pytest.mark.django_db
BASE = "/o/skyline-mro/members/"
WHY = "Joining the calibration lab team this month"
NEW_PASSWORD = "tarmac lantern orbit 42"


@pytest.fixture
def admin(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.admin)


def _pages(cast: Cast) -> list[str]:
    m, p = cast.viewer.id, cast.pending.id
    return [
        BASE,
        f"{BASE}invite",
        f"{BASE}{p}/resend",
        f"{BASE}{p}/cancel",
        f"{BASE}{m}/role",
        f"{BASE}{m}/revoke",
        f"{BASE}{m}/edit",
    ]


def _link(message: mail.EmailMessage) -> str:
    found = re.search(r"https?://\S+/invitations/\S+", message.body)
    assert found, message.body
    return found.group(0)


def _invite(cast: Cast, email: str = "nina@example.test") -> org_services.Invitation:
    return org_services.member_invite(
        organization=cast.org, actor=operator(cast.org), reason=REASON, email=email, role="editor"
    )


# --- who may see the pages -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "auditor", "viewer"])
def test_other_roles_are_refused_every_page_and_write(cast, signed_in, role):
    client = signed_in(getattr(cast, role))
    mark = audit_mark(cast.org)
    for url in _pages(cast):
        assert client.get(url).status_code == 403, url
    for url in _pages(cast):
        response = client.post(url, {"reason": WHY, "role": "admin", "email": "x@example.test"})
        assert response.status_code == 403, url
    assert audit_since(cast.org, mark) == []
    nav = client.get("/o/skyline-mro/").content.decode()
    assert f'href="{BASE}"' not in nav


def test_another_organizations_admin_gets_404_and_no_session_goes_to_sign_in(cast, client):
    give_password(cast.outsider)
    sign_in(client, cast.outsider.email)
    for url in _pages(cast):
        assert client.get(url).status_code == 404, url
    client.post("/sign-out")
    response = client.get(BASE)
    assert response.status_code == 302 and "/sign-in" in response["Location"]


def test_a_member_of_another_organization_is_a_404_on_our_pages(cast, admin):
    for url in (f"{BASE}{cast.outsider.id}/role", f"{BASE}{cast.outsider.id}/revoke"):
        assert admin.get(url).status_code == 404
    assert admin.post(f"{BASE}{cast.outsider.id}/revoke", {"reason": WHY}).status_code == 404
    assert Member.objects.get(id=cast.outsider.id).status == "active"


# --- the list --------------------------------------------------------------------------------


def test_the_list_shows_members_and_pending_invitations(cast, admin):
    Member.objects.filter(id=cast.editor.id).update(
        last_login=now().replace(year=2026, month=5, day=25, hour=12, minute=0, second=0)
    )
    html = admin.get(BASE).content.decode()

    assert 'aria-current="page">Members</a>' in html
    for m in (cast.admin, cast.editor, cast.viewer, cast.revoked):
        assert m.email in html
    assert "SKY-001" in html  # the editor's external employee id
    assert "2026-05-25 14:00" in html  # 12:00 UTC in Europe/Berlin
    assert "Europe/Berlin" in html
    pending = html.split("Pending invitations", 1)[1]
    assert cast.pending.email in pending and "Re-send" in pending
    assert cast.editor.email not in pending


def test_the_list_query_count_is_pinned(cast, admin):
    admin.get(BASE)  # warm up the session
    with CaptureQueriesContext(connection) as before:
        assert admin.get(BASE).status_code == 200
    for i in range(5):
        _invite(cast, f"more{i}@example.test")
    with CaptureQueriesContext(connection) as after:
        assert admin.get(BASE).status_code == 200
    # The session, its member, the organization, the membership check, the one list query, who
    # has an authenticator app.
    assert len(before) == len(after) == 6, [q["sql"] for q in after.captured_queries]


# --- invite ----------------------------------------------------------------------------------


def test_invite_emails_a_link_that_opens_the_accept_page(cast, admin):
    mark = audit_mark(cast.org)
    response = admin.post(
        f"{BASE}invite",
        {
            "email": "Nina.Ng@Example.test",
            "role": "auditor",
            "full_name": "Nina Ng",
            "external_employee_id": "SKY-088",
            "reason": WHY,
        },
        follow=True,
    )

    assert response.redirect_chain == [(BASE, 302)]
    assert "Invitation sent to nina.ng@example.test" in response.content.decode()
    member = Member.objects.get(organization=cast.org, email="nina.ng@example.test")
    assert (member.status, member.role, member.external_employee_id) == (
        "pending",
        "auditor",
        "SKY-088",
    )
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == ("member.invited", WHY, cast.admin.id)
    (message,) = mail.outbox
    assert message.to == ["nina.ng@example.test"]
    assert "Skyline MRO" in message.subject and "Ada Admin" in message.body
    link = _link(message)
    assert link.startswith("http://testserver/invitations/")

    admin.post("/sign-out")
    page = Client().get(link.removeprefix("http://testserver"))
    assert page.status_code == 200
    assert "Join Skyline MRO" in page.content.decode()
    assert "nina.ng@example.test" in page.content.decode()


def test_an_email_that_cannot_be_sent_keeps_the_invitation_and_says_so(cast, admin):
    # A real SMTP backend aimed at a loopback port nobody listens on: the connection is refused.
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=free_port(),
        EMAIL_USE_TLS=False,
        EMAIL_TIMEOUT=5,
    ):
        response = admin.post(
            f"{BASE}invite",
            {"email": "nina@example.test", "role": "viewer", "reason": WHY},
            follow=True,
        )

    assert response.redirect_chain == [(BASE, 302)]
    assert "its email could not be sent. Re-send it" in response.content.decode()
    assert Member.objects.get(organization=cast.org, email="nina@example.test").status == "pending"


@override_settings(REGISTRA_BASE_URL="https://registra.example.com")
def test_the_link_starts_with_the_base_url_setting(cast, admin):
    admin.post(f"{BASE}invite", {"email": "n@example.test", "role": "viewer", "reason": WHY})
    assert _link(mail.outbox[0]).startswith("https://registra.example.com/invitations/")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "must be an email address"),
        ({"email": "sky.eddie@example.test"}, None, "already a member"),
        ({"reason": "short"}, "reason", "at least 10 characters"),
        ({"role": "owner"}, "role", "Select a valid choice"),
        ({"external_employee_id": "SKY-001"}, "external_employee_id", "already the id of"),
    ],
)
def test_invite_refusals_are_400_keeping_what_was_typed(cast, admin, data, field, message):
    typed = {
        "email": "nina@example.test",
        "role": "auditor",
        "full_name": "Nina Typed-Name",
        "external_employee_id": "",
        "reason": WHY,
        **data,
    }
    members = Member.objects.count()

    response = admin.post(f"{BASE}invite", typed)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Nina Typed-Name" in html and typed["email"] in html
    form = response.context["form"]
    assert field in form.errors if field else form.non_field_errors()
    assert Member.objects.count() == members
    assert mail.outbox == []


# --- resend and cancel -----------------------------------------------------------------------


def test_resend_sends_a_new_link_and_the_old_one_is_explained(cast, admin):
    first = _invite(cast)
    mark = audit_mark(cast.org)

    response = admin.post(f"{BASE}{first.member.id}/resend", {"reason": WHY})

    assert response.status_code == 302
    assert [e.action for e in audit_since(cast.org, mark)] == ["member.invitation-resent"]
    new_link = _link(mail.outbox[0]).removeprefix("http://testserver")
    anonymous = Client()
    old = anonymous.get(f"/invitations/{first.token}")
    assert old.status_code == 410
    assert "A newer invitation replaced this link" in old.content.decode()
    assert anonymous.get(new_link).status_code == 200


def test_resend_and_cancel_refuse_an_active_member(cast, admin):
    for action in ("resend", "cancel"):
        response = admin.post(f"{BASE}{cast.viewer.id}/{action}", {"reason": WHY})
        assert response.status_code == 400
        assert "only a pending invitation" in response.content.decode()
    assert mail.outbox == []


def test_cancel_ends_the_invitation(cast, admin):
    invitation = _invite(cast)
    response = admin.post(f"{BASE}{invitation.member.id}/cancel", {"reason": WHY}, follow=True)

    assert "is cancelled" in response.content.decode()
    assert Member.objects.get(id=invitation.member.id).status == "revoked"
    page = Client().get(f"/invitations/{invitation.token}")
    assert page.status_code == 410
    assert "This invitation was cancelled" in page.content.decode()


# --- role, revoke, edit ----------------------------------------------------------------------


def test_change_role(cast, admin):
    mark = audit_mark(cast.org)
    page = admin.get(f"{BASE}{cast.viewer.id}/role")
    assert page.status_code == 200 and 'value="viewer" selected' in page.content.decode()

    response = admin.post(f"{BASE}{cast.viewer.id}/role", {"role": "editor", "reason": WHY})

    assert response.status_code == 302
    assert Member.objects.get(id=cast.viewer.id).role == "editor"
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.diff["after"]) == ("member.role-changed", {"role": "editor"})


def test_the_last_admin_cannot_lose_the_role(cast, admin):
    response = admin.post(f"{BASE}{cast.admin.id}/role", {"role": "viewer", "reason": WHY})

    assert response.status_code == 400
    assert "the organization must keep at least one active admin" in response.content.decode()
    assert Member.objects.get(id=cast.admin.id).role == "admin"


def test_revoke_ends_the_members_open_session_at_once(cast, admin):
    give_password(cast.editor)
    editor = Client()
    sign_in(editor, cast.editor.email)
    assert editor.get("/o/skyline-mro/").status_code == 200
    mark = audit_mark(cast.org)

    response = admin.post(f"{BASE}{cast.editor.id}/revoke", {"reason": WHY})

    assert response.status_code == 302
    assert Member.objects.get(id=cast.editor.id).status == "revoked"
    assert [e.action for e in audit_since(cast.org, mark)] == ["member.revoked"]
    # Their session no longer signs anybody in: the next page is the sign-in form.
    refused = editor.get("/o/skyline-mro/")
    assert refused.status_code == 302 and refused["Location"].startswith("/sign-in")


def test_revoke_needs_a_reason(cast, admin):
    response = admin.post(f"{BASE}{cast.editor.id}/revoke", {"reason": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert Member.objects.get(id=cast.editor.id).status == "active"


def test_edit_the_external_employee_id(cast, admin):
    page = admin.get(f"{BASE}{cast.technician.id}/edit").content.decode()
    assert 'value="SKY-004"' in page

    response = admin.post(
        f"{BASE}{cast.technician.id}/edit",
        {"full_name": "Tess Technician", "external_employee_id": "SKY-404", "reason": WHY},
    )

    assert response.status_code == 302
    assert Member.objects.get(id=cast.technician.id).external_employee_id == "SKY-404"


def test_edit_refuses_a_taken_id_naming_the_field(cast, admin):
    response = admin.post(
        f"{BASE}{cast.technician.id}/edit",
        {"full_name": "Tess Typed", "external_employee_id": "SKY-001", "reason": WHY},
    )
    assert response.status_code == 400
    assert "already the id of sky.eddie@example.test" in str(
        response.context["form"].errors["external_employee_id"]
    )
    assert "Tess Typed" in response.content.decode()


# --- the public accept page ------------------------------------------------------------------


def test_accepting_signs_the_new_member_in(cast, client):
    invitation = _invite(cast)
    mark = audit_mark(cast.org)

    response = client.post(
        f"/invitations/{invitation.token}",
        {"full_name": "Nina Ng", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
        follow=True,
    )

    assert response.redirect_chain == [("/o/skyline-mro/", 302)]
    assert "Welcome to Skyline MRO, Nina Ng." in response.content.decode()
    stored = Member.objects.get(id=invitation.member.id)
    assert (stored.status, stored.full_name) == ("active", "Nina Ng")
    assert stored.check_password(NEW_PASSWORD)
    assert [e.action for e in audit_since(cast.org, mark)] == ["member.joined", "member.signed-in"]
    again = Client().get(f"/invitations/{invitation.token}")
    assert again.status_code == 410
    assert "already been used: sign in" in again.content.decode()
    assert 'href="/sign-in"' in again.content.decode()


def test_accepting_in_an_organization_that_requires_mfa_sets_up_an_authenticator_first(
    cast, client
):
    Organization.objects.filter(id=cast.org.id).update(require_mfa=True)
    invitation = _invite(cast)
    response = client.post(
        f"/invitations/{invitation.token}",
        {"full_name": "Nina Ng", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/o/skyline-mro/"
    assert Member.objects.get(id=invitation.member.id).status == "active"
    first = client.get(response["Location"])
    assert first.status_code == 302
    assert first["Location"].startswith("/o/skyline-mro/account/authenticator?next=")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"password_again": "tarmac lantern orbit 43"}, "password_again", "two passwords differ"),
        ({"password": "short", "password_again": "short"}, "password", "too short"),
        (
            {"password": "qwertyuiop12", "password_again": "qwertyuiop12"},
            "password",
            "too common",
        ),
        ({"full_name": ""}, "full_name", "required"),
    ],
)
def test_accept_refusals_are_400_naming_the_field(cast, client, data, field, message):
    invitation = _invite(cast)
    typed = {"full_name": "Nina Typed", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}

    response = client.post(f"/invitations/{invitation.token}", {**typed, **data})

    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    if data.get("full_name") is None:
        assert 'value="Nina Typed"' in response.content.decode()
    assert NEW_PASSWORD not in response.content.decode()
    assert Member.objects.get(id=invitation.member.id).status == "pending"


def test_accept_page_explains_expired_and_unknown_links(cast, client):
    invitation = _invite(cast)
    Member.objects.filter(id=invitation.member.id).update(
        invitation_expires_at=now() - timedelta(minutes=1)
    )

    expired = client.get(f"/invitations/{invitation.token}")
    unknown = client.get("/invitations/not-a-real-link")
    posted = client.post(
        f"/invitations/{invitation.token}",
        {"full_name": "N", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )

    assert expired.status_code == 410
    assert "expired: ask an admin of Skyline MRO to send a new one" in expired.content.decode()
    assert unknown.status_code == 404
    assert "This invitation link is not valid" in unknown.content.decode()
    assert "Traceback" not in unknown.content.decode()
    assert posted.status_code == 410
    assert Member.objects.get(id=invitation.member.id).status == "pending"
