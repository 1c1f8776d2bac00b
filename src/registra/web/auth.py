"""Signing in to the web UI with Django's auth: a member is one membership of one organization,
so an email address may have several. The backend checks the password against each active
membership of that address and returns the first that matches, carrying the ids of all that
match (the session keeps them; the organization picker offers them). Decision 0009."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.hashers import check_password, make_password
from django.http import HttpRequest

from registra.organizations import selectors as org_selectors
from registra.organizations import services as org_services
from registra.organizations.models import Member
from registra.web import second_factor
from registra.web.sign_in_limits import client_address

# The session key of the memberships the person proved a password for.
MEMBERSHIPS = "registra.memberships"
# Hashed once, so an unknown address costs the same hashing as a known one.
_DUMMY = make_password("registra-no-such-member")


class MemberBackend(BaseBackend):
    """Email and password against every active membership of that email address."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        email: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Member | None:
        if not email or not password:
            return None
        candidates = org_selectors.memberships_for_sign_in(email)
        if not candidates:
            check_password(password, _DUMMY)
            return None
        # No setter: an old hash is not upgraded here, because that would be a write outside
        # the services (and its audit event).
        matched = [m for m in candidates if check_password(password, m.password)]
        if not matched:
            return None
        first = matched[0]
        first.memberships = [m.id for m in matched]  # type: ignore[attr-defined]
        return first

    def get_user(self, user_id: Any) -> Member | None:
        return org_selectors.active_member(str(user_id))


def start_session(request: HttpRequest, memberships: list[str]) -> None:
    """What every sign-in does after Django's ``login`` (the password form, an accepted
    invitation): the session keeps the memberships proved and which of them have an
    authenticator (``second_factor``), and each one's sign-in is recorded, with its audit
    event."""
    request.session[MEMBERSHIPS] = memberships
    second_factor.signed_in(request, memberships)
    org_services.sign_in_record(member_ids=memberships, client_address=client_address(request))
