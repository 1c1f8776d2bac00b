"""Signing in and out with Django's auth: email and password, the organization picker for a
person with several memberships, 404 for another organization's pages, and a revoked member
out at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from registra.core.models import AuditEvent
from registra.organizations import services as org_services
from registra.organizations.models import Member
from tests.cast import REASON, Cast, operator
from tests.web.conftest import PASSWORD, give_password, sign_in

pytestmark = pytest.mark.django_db
REFUSED = "Email or password is not correct."


def test_sign_in_lands_on_the_register_of_the_one_organization(cast: Cast, client: Client) -> None:
    give_password(cast.viewer)
    response = client.post("/sign-in", {"email": cast.viewer.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/o/skyline-mro/"
    page = client.get("/o/skyline-mro/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Register</h1>" in html and "Skyline MRO" in html and "Sign out" in html


@pytest.mark.parametrize("case", ["wrong-password", "unknown-email", "revoked", "pending"])
def test_refused_sign_in_says_the_same_and_keeps_the_email(
    cast: Cast, client: Client, case: str
) -> None:
    give_password(cast.viewer)
    email = {
        "wrong-password": cast.viewer.email,
        "unknown-email": "nobody@example.test",
        "revoked": cast.revoked.email,
        "pending": cast.pending.email,
    }[case]
    password = "not the password" if case == "wrong-password" else PASSWORD
    response = client.post("/sign-in", {"email": email, "password": password})
    assert response.status_code == 200
    html = response.content.decode()
    assert REFUSED in html
    assert f'value="{email}"' in html  # what was typed stays
    assert PASSWORD not in html and "not the password" not in html
    assert "_auth_user_id" not in client.session


def test_sign_in_form_errors_name_the_field(client: Client, cast: Cast) -> None:
    response = client.post("/sign-in", {"email": "not-an-email", "password": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid email address." in html and "This field is required." in html


def test_another_organization_is_a_404_and_unknown_ones_too(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    client = signed_in(cast.admin)
    assert client.get("/o/harbor-aero/").status_code == 404
    assert client.get("/o/no-such-org/").status_code == 404
    assert client.get("/o/skyline-mro/").status_code == 200


def test_pages_need_a_session(cast: Cast, client: Client) -> None:
    response = client.get("/o/skyline-mro/?q=TW")
    assert response.status_code == 302
    assert response["Location"] == "/sign-in?next=/o/skyline-mro/%3Fq%3DTW"


def _twin(cast: Cast) -> Member:
    """The viewer's email address, also a member of the other organization."""
    (twin,) = org_services.member_bulk_create_active(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        people=[{"email": cast.viewer.email, "fullName": "Vic Viewer", "role": "editor"}],
    )
    return twin


def test_a_person_in_two_organizations_picks_one(cast: Cast, client: Client) -> None:
    twin = _twin(cast)
    give_password(cast.viewer)
    give_password(twin)
    sign_in(client, cast.viewer.email)
    picker = client.get("/")
    html = picker.content.decode()
    assert picker.status_code == 200
    assert (
        'href="/o/harbor-aero/">Harbor Aero' in html
        and 'href="/o/skyline-mro/">Skyline MRO' in html
    )
    assert client.get("/o/harbor-aero/").status_code == 200
    assert client.get("/o/skyline-mro/").status_code == 200


def test_a_password_of_one_membership_opens_only_that_one(cast: Cast, client: Client) -> None:
    twin = _twin(cast)
    give_password(cast.viewer)
    give_password(twin, "a different long passphrase")
    sign_in(client, cast.viewer.email)
    assert client.get("/").status_code == 302  # one organization: straight to it
    assert client.get("/o/harbor-aero/").status_code == 404
    assert client.get("/o/skyline-mro/").status_code == 200


def test_revoking_a_member_ends_their_access_at_once(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    client = signed_in(cast.editor)
    assert client.get("/o/skyline-mro/").status_code == 200
    org_services.member_revoke(
        organization=cast.org, actor=operator(cast.org), reason=REASON, member_id=cast.editor.id
    )
    response = client.get("/o/skyline-mro/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in")


def test_sign_out_is_a_post_and_ends_the_session(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    client = signed_in(cast.viewer)
    assert client.get("/sign-out").status_code == 405
    response = client.post("/sign-out")
    assert response.status_code == 302 and response["Location"] == "/sign-in"
    assert client.get("/o/skyline-mro/").status_code == 302


def test_sign_in_needs_the_csrf_token(cast: Cast) -> None:
    give_password(cast.viewer)
    client = Client(enforce_csrf_checks=True)
    response = client.post("/sign-in", {"email": cast.viewer.email, "password": PASSWORD})
    assert response.status_code == 403
    page = client.get("/sign-in")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/sign-in",
        {"email": cast.viewer.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302


def test_setting_a_password_is_audited_without_the_secret(cast: Cast) -> None:
    give_password(cast.viewer)
    event = AuditEvent.objects.filter(action="member.password-set").get()
    assert (event.subject_id, event.actor_id) == (cast.viewer.id, "system:operator")
    assert PASSWORD not in str(event.diff) + event.reason
