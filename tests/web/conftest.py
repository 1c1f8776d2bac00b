"""Web UI test helpers: members of the cast with passwords, and a client signed in as one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from registra.organizations import services as org_services
from registra.organizations.models import Member
from tests.cast import REASON, Cast, operator

PASSWORD = "correct horse battery staple"


def give_password(member: Member, password: str = PASSWORD) -> None:
    org_services.member_set_password(
        organization=member.organization,
        actor=operator(member.organization),
        reason=REASON,
        member_id=member.id,
        password=password,
    )


def sign_in(client: Client, email: str, password: str = PASSWORD) -> None:
    response = client.post("/sign-in", {"email": email, "password": password})
    assert response.status_code == 302, response.content.decode()[:2000]


@pytest.fixture
def signed_in(cast: Cast, client: Client) -> Callable[[Member], Client]:
    """``signed_in(member)``: the test client, signed in as that member (password set)."""

    def as_member(member: Member) -> Client:
        give_password(member)
        sign_in(client, member.email)
        return client

    return as_member
