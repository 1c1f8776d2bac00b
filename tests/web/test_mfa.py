"""Multi-factor sign-in and sign-in throttling through the web UI (decision 0014): setting up an
authenticator, the code after the password, recovery codes, an organization that requires a
second factor, removing an authenticator, refused sign-ins in the audit log and throttled.
Django's test client on the real test database; the codes are computed from the key the page
shows, as an authenticator app computes them."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from registra.core.models import AuditEvent
from registra.organizations.models import Member, RecoveryCode
from tests.cast import Cast
from tests.totp import code_now, next_code, used_code
from tests.web.conftest import PASSWORD, give_password, sign_in

pytestmark = pytest.mark.django_db


def _key_on_page(html: str) -> bytes:
    match = re.search(r'data-testid="totp-key">([A-Z2-7 ]+)</code>', html)
    assert match, html[:3000]
    return base64.b32decode(match.group(1).replace(" ", ""))


def _next_code(member: Member, key: bytes) -> str:
    """A code the member's authenticator accepts now (after the last one it accepted)."""
    device = TOTPDevice.objects.get(user=member)
    return next_code(key, device.last_t, device.drift)


def _enrol(client: Client, slug: str) -> tuple[bytes, list[str]]:
    """Set up an authenticator through the pages; its key and the recovery codes shown."""
    url = f"/o/{slug}/account/authenticator"
    assert client.post(url, {"start": "1"}).status_code == 302
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code
    key = _key_on_page(html)
    done = client.post(url, {"code": code_now(key)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.content.decode())
    return key, codes


def _events(member: Member, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(subject_id=member.id, action=action).order_by("seq"))


def test_setting_up_an_authenticator_then_signing_in_with_its_code(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.editor
    give_password(member)
    client = Client()
    sign_in(client, member.email)
    key, codes = _enrol(client, slug)
    device = TOTPDevice.objects.get(user=member)
    assert device.confirmed and device.bin_key == key
    # The app lists it under the product and the organization, so a person in two
    # organizations tells the entries apart.
    assert f"issuer=Registra%20%28{quote(cast.org.name)}%29" in device.config_url
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(member=member).values_list("code_hash", flat=True))
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & set(stored)
    assert [e.diff["after"]["recoveryCodes"] for e in _events(member, "member.mfa-enrolled")] == [
        10
    ]
    # Set up in this session: its pages open without a code.
    assert client.get(f"/o/{slug}/").status_code == 200

    fresh = Client()
    sign_in(fresh, member.email)
    page = fresh.get(f"/o/{slug}/dashboard")
    assert page.status_code == 302
    assert page["Location"] == f"/o/{slug}/verify?next=%2Fo%2F{slug}%2Fdashboard"
    # Every page but the code page sends it there.
    assert fresh.get(f"/o/{slug}/assets/new")["Location"].startswith(f"/o/{slug}/verify")
    wrong = fresh.post(
        f"/o/{slug}/verify", {"code": "000000" if code_now(key) != "000000" else "1"}
    )
    assert wrong.status_code == 400
    assert "This code is not correct." in wrong.content.decode()
    assert _events(member, "member.sign-in-failed")[-1].diff["after"]["step"] == "second factor"


@override_settings(OTP_TOTP_THROTTLE_FACTOR=0)
def test_the_code_opens_the_page_asked_for_and_cannot_be_replayed(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.viewer
    give_password(member)
    key, _ = _enrol(_signed_in(member), slug)
    client = _signed_in(member)
    # The code already used to confirm the set-up is not accepted again (django-otp).
    confirmed = used_code(key, TOTPDevice.objects.get(user=member).last_t)
    replay = client.post(f"/o/{slug}/verify?next=/o/{slug}/dashboard", {"code": confirmed})
    assert replay.status_code == 400
    nxt = client.post(
        f"/o/{slug}/verify?next=/o/{slug}/dashboard", {"code": _next_code(member, key)}
    )
    assert nxt.status_code == 302 and nxt["Location"] == f"/o/{slug}/dashboard"
    assert client.get(f"/o/{slug}/dashboard").status_code == 200
    assert (
        _events(member, "member.second-factor-verified")[-1].diff["after"]["secondFactor"] == "totp"
    )
    # An outside address as next is not followed.
    other = _signed_in(member)
    away = other.post(
        f"/o/{slug}/verify", {"code": _next_code(member, key), "next": "https://evil.example/"}
    )
    assert away["Location"] == f"/o/{slug}/"


def test_a_recovery_code_signs_in_once(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.auditor
    give_password(member)
    _, codes = _enrol(_signed_in(member), slug)
    client = _signed_in(member)
    used = client.post(f"/o/{slug}/verify", {"code": codes[3].upper()})
    assert used.status_code == 302
    assert RecoveryCode.objects.filter(member=member, used_at__isnull=False).count() == 1
    again = _signed_in(member).post(f"/o/{slug}/verify", {"code": codes[3]})
    assert again.status_code == 400
    page = client.get(f"/o/{slug}/account/security")
    assert "9 recovery codes left" in page.content.decode()


@override_settings(OTP_TOTP_THROTTLE_FACTOR=600)
def test_wrong_codes_lock_the_authenticator_for_a_while(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.viewer
    give_password(member)
    key, _ = _enrol(_signed_in(member), slug)
    client = _signed_in(member)
    assert client.post(f"/o/{slug}/verify", {"code": "12345x"}).status_code == 400
    right = _next_code(member, key)
    wrong = "000000" if right != "000000" else "111111"
    assert client.post(f"/o/{slug}/verify", {"code": wrong}).status_code == 400
    # The right code now is refused: the authenticator waits after a wrong one.
    locked = client.post(f"/o/{slug}/verify", {"code": right})
    assert locked.status_code == 429
    assert "Too many wrong codes" in locked.content.decode()


def test_an_organization_that_requires_a_second_factor_sends_members_to_set_one_up(
    cast: Cast,
) -> None:
    slug, member = cast.org.slug, cast.editor
    type(cast.org).objects.filter(id=cast.org.id).update(require_mfa=True)
    give_password(member)
    client = _signed_in(member)
    page = client.get(f"/o/{slug}/")
    assert page.status_code == 302
    assert page["Location"].startswith(f"/o/{slug}/account/authenticator?next=")
    assert client.get(f"/o/{slug}/account/authenticator").status_code == 200
    _enrol(client, slug)
    assert client.get(f"/o/{slug}/").status_code == 200


def test_removing_the_authenticator_asks_for_a_reason_and_records_it(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.editor
    give_password(member)
    client = _signed_in(member)
    _enrol(client, slug)
    refused = client.post(f"/o/{slug}/account/security", {"reason": "short"})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=member).exists()
    done = client.post(f"/o/{slug}/account/security", {"reason": "Phone replaced, new app"})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert not RecoveryCode.objects.filter(member=member).exists()
    assert _events(member, "member.mfa-removed")[-1].reason == "Phone replaced, new app"
    # Signing in again asks only for the password.
    assert _signed_in(member).get(f"/o/{slug}/").status_code == 200


def test_an_admin_removes_the_authenticator_of_a_member_who_lost_it(cast: Cast) -> None:
    slug, member = cast.org.slug, cast.viewer
    give_password(member)
    _enrol(_signed_in(member), slug)
    give_password(cast.admin)
    admin = _signed_in(cast.admin)
    listing = admin.get(f"/o/{slug}/members/").content.decode()
    url = f"/o/{slug}/members/{member.id}/authenticator/remove"
    assert f'href="{url}"' in listing
    assert f'href="/o/{slug}/members/{cast.editor.id}/authenticator/remove"' not in listing
    assert admin.post(url, {"reason": "Lost"}).status_code == 400  # the reason is too short
    done = admin.post(url, {"reason": "Phone lost on the apron, confirmed by phone call"})
    assert done.status_code == 302
    assert not TOTPDevice.objects.filter(user=member).exists()
    event = _events(member, "member.mfa-removed")[-1]
    assert event.actor_id == cast.admin.id
    # The member signs in with the password alone again; an editor may not remove anyone's.
    assert _signed_in(member).get(f"/o/{slug}/").status_code == 200
    give_password(cast.editor)
    assert _signed_in(cast.editor).post(url, {"reason": "Trying to remove it"}).status_code == 403


def test_another_organizations_member_cannot_reach_these_pages(cast: Cast) -> None:
    give_password(cast.outsider)
    client = _signed_in(cast.outsider)
    for path in ("verify", "account/security", "account/authenticator"):
        assert client.get(f"/o/{cast.org.slug}/{path}").status_code == 404


def test_a_sign_in_records_the_last_sign_in_and_an_audit_event(cast: Cast) -> None:
    member = cast.viewer
    give_password(member)
    _signed_in(member)
    member.refresh_from_db()
    assert member.last_login is not None
    event = _events(member, "member.signed-in")[-1]
    assert event.actor_id == member.id and event.diff["after"] == {"clientAddress": "127.0.0.1"}


@pytest.fixture
def still_clock() -> Iterator[None]:
    """The clock stopped for the test: the sign-in counters count in fixed windows, each key's
    ending at its own moment, and a window that ended between two posts would start the count
    again (django-ratelimit reads ``time.time()``; Redis expires its keys in real time)."""
    with time_machine.travel(time.time(), tick=False):
        yield


@pytest.mark.usefixtures("still_clock")
def test_five_refused_sign_ins_throttle_the_account_whatever_the_password(cast: Cast) -> None:
    member = cast.viewer
    give_password(member)
    client = Client()
    for _ in range(5):
        refused = client.post("/sign-in", {"email": member.email, "password": "wrong guess 1"})
        assert refused.status_code == 200
        assert "Email or password is not correct." in refused.content.decode()
    # The right password now is refused too, without saying whether the account exists.
    throttled = client.post("/sign-in", {"email": member.email.upper(), "password": PASSWORD})
    assert throttled.status_code == 429
    text = throttled.content.decode()
    assert "Too many refused sign-ins" in text and "Try again in" in text
    assert member.email.upper() in text  # what was typed is kept
    failures = _events(member, "member.sign-in-failed")
    assert [e.reason for e in failures] == ["Sign-in refused: wrong password"] * 5 + [
        "Sign-in refused: throttled"
    ]
    # An unknown address gets the same answers.
    for _ in range(5):
        client.post("/sign-in", {"email": "nobody@example.test", "password": "whatever"})
    unknown = client.post("/sign-in", {"email": "nobody@example.test", "password": "x"})
    assert unknown.status_code == 429
    # Another account from the same address still signs in (the address limit is higher).
    give_password(cast.editor)
    other = Client().post("/sign-in", {"email": cast.editor.email, "password": PASSWORD})
    assert (other.status_code, other["Location"]) == (302, "/")


@pytest.mark.usefixtures("still_clock")
@override_settings(REGISTRA_SIGN_IN_FAILURES_PER_ADDRESS="3/1h")
def test_refused_sign_ins_from_one_address_throttle_it_for_every_account(cast: Cast) -> None:
    client = Client()
    for i in range(3):
        client.post("/sign-in", {"email": f"guess{i}@example.test", "password": "whatever"})
    give_password(cast.editor)
    throttled = client.post("/sign-in", {"email": cast.editor.email, "password": PASSWORD})
    assert throttled.status_code == 429


def _signed_in(member: Member) -> Client:
    client = Client()
    sign_in(client, member.email)
    return client
