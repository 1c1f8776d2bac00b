"""Service-account pages: the list (in the organization's zone, with a pinned query count),
create with the secret shown once (never stored, never in the session or a URL, never cached),
edit, rotate, disable, enable, delete, each with a reason; admins only (others 403, another
organization 404); bad input is a 400 naming the field and keeping what was typed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.core.errors import Unauthenticated
from registra.core.models import AuditEvent
from registra.core.timefmt import now
from registra.organizations import services as org_services
from registra.organizations.credentials import check_secret
from registra.organizations.models import AccessToken, Member, ServiceAccount
from tests.cast import REASON, Cast, audit_mark, audit_since, operator

pytestmark = pytest.mark.django_db
BASE = "/o/skyline-mro/service-accounts/"
WHY = "The nightly drift check needs to read the register"
SECRET = re.compile(r'<code class="key secret" id="client-secret">(rsec_[A-Za-z0-9_-]+)</code>')
ACTIONS = ("edit", "rotate", "disable", "enable", "delete")


@pytest.fixture
def admin(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.admin)


def _create_form(**overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "name": "Nightly drift check",
        "scopes": ["assets:read"],
        "expires_at": "",
        "contact_email": "integrations@example.test",
        "reason": WHY,
    }
    form.update(overrides)
    return form


def _secret(html: str) -> str:
    found = SECRET.search(html)
    assert found, html[:3000]
    return found.group(1)


def _grant(account: ServiceAccount, secret: str) -> str:
    issued = org_services.token_issue(
        client_id=account.id, client_secret=secret, client_address="127.0.0.1"
    )
    return issued.access_token


def _page_urls(account_id: str) -> list[str]:
    return [BASE, f"{BASE}new", *(f"{BASE}{account_id}/{a}" for a in ACTIONS)]


def _no_store(response: object) -> None:
    assert "no-store" in response["Cache-Control"]  # type: ignore[index]


# --- the list ----------------------------------------------------------------------------------


def test_list_shows_each_account_in_the_organization_zone(cast: Cast, admin: Client) -> None:
    expires = now().replace(microsecond=0) + timedelta(days=30)
    dated = org_services.service_account_create(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        name="CMMS bridge",
        scopes="assets:read organization:read",
        contact_email="cmms@example.test",
        expires_at=expires,
    ).account
    _grant(cast.reader.account, cast.reader.secret)
    used = ServiceAccount.objects.get(id=cast.reader.account.id).last_used_at
    assert used is not None
    ServiceAccount.objects.filter(id=cast.org_reader.account.id).update(
        expires_at=now() - timedelta(days=1)
    )

    response = admin.get(BASE)
    assert response.status_code == 200
    _no_store(response)
    html = response.content.decode()
    assert 'aria-current="page">Service accounts</a>' in html
    names = re.findall(r'<th scope="row">([^<]+)</th>', html)
    assert names == ["CMMS bridge", "Drift check", "Org lookup"]  # by name, this org's only
    assert cast.other_reader.account.id not in html
    row = html.split(f'<td class="key">{dated.id}</td>', 1)[1].split("</tr>", 1)[0]
    assert '<span class="key">assets:read</span>, <span class="key">organization:read</span>' in row
    assert "status-active" in row and "cmms@example.test" in row
    local = expires.astimezone(cast.org.zone)
    assert f'<time datetime="{local.isoformat()}">{local:%Y-%m-%d %H:%M}</time>' in row
    reader_row = html.split(f'<td class="key">{cast.reader.account.id}</td>', 1)[1]
    local_used = used.astimezone(cast.org.zone)
    assert f'<time datetime="{local_used.isoformat()}">' in reader_row.split("</tr>", 1)[0]
    lookup_row = html.split(f'<td class="key">{cast.org_reader.account.id}</td>', 1)[1]
    assert ">expired</span>" in lookup_row.split("</tr>", 1)[0]
    assert ">never<" in lookup_row.split("</tr>", 1)[0]


def test_list_hides_deleted_and_offers_enable_for_disabled(cast: Cast, admin: Client) -> None:
    org_services.service_account_disable(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.reader.account.id,
    )
    org_services.service_account_delete(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.org_reader.account.id,
    )
    html = admin.get(BASE).content.decode()
    assert cast.org_reader.account.id not in html
    assert f"{BASE}{cast.reader.account.id}/enable" in html
    assert f"{BASE}{cast.reader.account.id}/disable" not in html


def test_list_query_count_does_not_grow_with_accounts(cast: Cast, admin: Client) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin.get(BASE).status_code == 200
        return len(queries)

    few = count()
    for i in range(8):
        org_services.service_account_create(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            name=f"Probe {i}",
            scopes="assets:read",
        )
    # session, member, organization, membership, the accounts
    assert count() == few == 5


# --- who may -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "auditor", "viewer"])
def test_other_roles_get_403_and_no_link(
    cast: Cast, signed_in: Callable[[Member], Client], role: str
) -> None:
    client = signed_in(getattr(cast, role))
    account = cast.reader.account
    mark = audit_mark(cast.org)
    for url in _page_urls(account.id):
        assert client.get(url).status_code == 403, url
    for url in _page_urls(account.id)[1:]:  # the list is read-only (a POST is 405)
        assert client.post(url, _create_form()).status_code == 403, url
    assert "Service accounts" not in client.get("/o/skyline-mro/").content.decode()
    assert audit_since(cast.org, mark) == []
    assert ServiceAccount.objects.filter(organization=cast.org).count() == 2
    assert ServiceAccount.objects.get(id=account.id).secret_hash == account.secret_hash


def test_admin_of_another_organization_gets_404(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    client = signed_in(cast.outsider)
    for url in _page_urls(cast.reader.account.id):
        assert client.get(url).status_code == 404, url
    assert client.post(f"{BASE}new", _create_form()).status_code == 404
    assert not ServiceAccount.objects.filter(name="Nightly drift check").exists()


def test_signed_out_is_sent_to_sign_in(cast: Cast, client: Client) -> None:
    response = client.get(BASE)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in")


@pytest.mark.parametrize("action", ACTIONS)
def test_foreign_unknown_and_deleted_ids_are_404(cast: Cast, admin: Client, action: str) -> None:
    org_services.service_account_delete(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        account_id=cast.org_reader.account.id,
    )
    foreign = cast.other_reader.account
    mark = audit_mark(cast.other_org)
    for account_id in (foreign.id, "svc_01HXY3M4Q8Z9V2K7T5R6W1N0PA", cast.org_reader.account.id):
        url = f"{BASE}{account_id}/{action}"
        assert admin.get(url).status_code == 404, url
        assert admin.post(url, {"reason": WHY}).status_code == 404, url
    after = ServiceAccount.objects.get(id=foreign.id)
    assert (after.status, after.secret_hash) == ("active", foreign.secret_hash)
    assert audit_since(cast.other_org, mark) == []


# --- create --------------------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_stores_only_its_hash(cast: Cast, admin: Client) -> None:
    mark = audit_mark(cast.org)
    form = admin.get(f"{BASE}new")
    assert form.status_code == 200
    _no_store(form)

    response = admin.post(f"{BASE}new", _create_form(scopes=["assets:read", "organization:read"]))
    assert response.status_code == 200
    _no_store(response)
    html = response.content.decode()
    secret = _secret(html)
    account = ServiceAccount.objects.get(organization=cast.org, name="Nightly drift check")
    assert (account.scopes, account.contact_email, account.expires_at, account.status) == (
        ["assets:read", "organization:read"],
        "integrations@example.test",
        None,
        "active",
    )
    assert check_secret(secret, account.secret_hash).ok and secret not in account.secret_hash
    assert f'<code class="key" id="client-id">{account.id}</code>' in html
    grant = {"grant_type": "client_credentials", "client_id": account.id, "client_secret": secret}
    body = json.dumps(grant, separators=(",", ":"))
    curl = (
        "curl -sS -X POST http://testserver/api/v1/auth/token"
        f" -H 'Content-Type: application/json' -d '{body}'"
    )
    assert f'<code id="curl-line">{curl}</code>' in unescape(html)
    assert 'src="/static/web/copy.js"' in html and 'data-copy="client-secret"' in html

    # Once: not on a reload of the form or the list, not in the session, the audit log or a URL.
    for url in (f"{BASE}new", BASE):
        assert secret not in admin.get(url).content.decode()
    assert all(secret not in s.session_data for s in Session.objects.all())
    assert all(secret not in str(v) for v in admin.session.values())
    events = audit_since(cast.org, mark)
    assert [(e.action, e.subject_id, e.reason, e.actor_id) for e in events] == [
        ("service-account.created", account.id, WHY, cast.admin.id)
    ]
    assert secret not in str(AuditEvent.objects.filter(subject_id=account.id).values())
    assert _grant(account, secret).startswith("rtok_")


def test_create_with_an_expiry_reads_it_in_the_organization_zone(cast: Cast, admin: Client) -> None:
    local = (now() + timedelta(days=10)).astimezone(cast.org.zone).replace(second=0, microsecond=0)
    typed = local.strftime("%Y-%m-%dT%H:%M")
    response = admin.post(f"{BASE}new", _create_form(expires_at=typed))
    assert response.status_code == 200
    account = ServiceAccount.objects.get(organization=cast.org, name="Nightly drift check")
    assert account.expires_at == local


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "  "}, "name", "is required"),
        ({"scopes": []}, "scopes", "must name at least one of: assets:read, organization:read"),
        ({"scopes": ["assets:write"]}, "scopes", "Select a valid choice"),
        ({"contact_email": "not an address"}, "contact_email", "must be an email address"),
        ({"expires_at": "2001-01-01T10:00"}, "expires_at", "must be in the future"),
        ({"expires_at": "next tuesday"}, "expires_at", "Enter a valid date/time."),
        ({"reason": "short"}, "reason", "at least 10 characters"),
    ],
)
def test_create_refuses_bad_input_keeping_what_was_typed(
    cast: Cast, admin: Client, changes: dict[str, object], field: str, message: str
) -> None:
    mark = audit_mark(cast.org)
    response = admin.post(f"{BASE}new", _create_form(**{"name": "Typed name", **changes}))
    assert response.status_code == 400
    _no_store(response)
    html = unescape(response.content.decode())
    error = re.search(rf'<p class="error" id="id_{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1), html[:4000]
    if field != "name":
        assert 'value="Typed name"' in html
    if field != "contact_email":
        assert 'value="integrations@example.test"' in html
    if field != "reason":
        assert f">\n{WHY}</textarea>" in html
    assert "rsec_" not in html
    assert audit_since(cast.org, mark) == []
    assert ServiceAccount.objects.filter(organization=cast.org).count() == 2


# --- rotate, disable, enable, delete ------------------------------------------------------------


def test_rotate_shows_a_new_secret_once_and_the_old_one_is_refused(
    cast: Cast, admin: Client
) -> None:
    account, old = cast.reader.account, cast.reader.secret
    _grant(account, old)
    mark = audit_mark(cast.org)
    url = f"{BASE}{account.id}/rotate"
    page = admin.get(url)
    assert page.status_code == 200 and "Rotate the secret of Drift check" in page.content.decode()
    _no_store(page)

    response = admin.post(url, {"reason": "The old secret was pasted in a build log"})
    assert response.status_code == 200
    _no_store(response)
    new = _secret(response.content.decode())
    assert new != old
    with pytest.raises(Unauthenticated):
        _grant(account, old)
    assert _grant(account, new).startswith("rtok_")
    assert AccessToken.objects.filter(service_account_id=account.id).count() == 1  # the new one
    assert new not in admin.get(url).content.decode()
    assert new not in admin.get(BASE).content.decode()
    events = audit_since(cast.org, mark)
    assert (events[0].action, events[0].reason, events[0].actor_id) == (
        "service-account.secret-rotated",
        "The old secret was pasted in a build log",
        cast.admin.id,
    )
    assert [e.action for e in events[1:]] == ["token.grant-failed", "token.issued"]


def test_disable_then_enable(cast: Cast, admin: Client) -> None:
    account, secret = cast.reader.account, cast.reader.secret
    _grant(account, secret)
    mark = audit_mark(cast.org)

    response = admin.post(f"{BASE}{account.id}/disable", {"reason": "Integration paused for audit"})
    assert response.status_code == 302 and response["Location"] == BASE
    assert ServiceAccount.objects.get(id=account.id).status == "disabled"
    assert not AccessToken.objects.filter(service_account_id=account.id).exists()
    page = admin.get(BASE).content.decode()
    assert "Service account Drift check disabled; its access tokens no longer work." in page
    with pytest.raises(Unauthenticated):
        _grant(account, secret)

    again = admin.post(f"{BASE}{account.id}/disable", {"reason": "Integration paused for audit"})
    assert again.status_code == 400
    assert "this service account is already disabled" in again.content.decode()

    response = admin.post(f"{BASE}{account.id}/enable", {"reason": "Audit done, resume the sync"})
    assert response.status_code == 302
    assert ServiceAccount.objects.get(id=account.id).status == "active"
    assert _grant(account, secret).startswith("rtok_")  # the same secret works again
    actions = [(e.action, e.reason) for e in audit_since(cast.org, mark)]
    assert [a for a in actions if a[0].startswith("service-account.")] == [
        ("service-account.disabled", "Integration paused for audit"),
        ("service-account.enabled", "Audit done, resume the sync"),
    ]


def test_delete_asks_for_confirmation_and_a_reason(cast: Cast, admin: Client) -> None:
    account, secret = cast.reader.account, cast.reader.secret
    url = f"{BASE}{account.id}/delete"
    page = admin.get(url).content.decode()
    assert "this cannot be undone" in page and "Delete for good" in page
    assert ServiceAccount.objects.get(id=account.id).status == "active"  # a GET changes nothing

    refused = admin.post(url, {"reason": "too short"})
    assert refused.status_code == 400
    assert 'id="id_reason-error"' in refused.content.decode()
    assert ServiceAccount.objects.get(id=account.id).status == "active"

    mark = audit_mark(cast.org)
    response = admin.post(url, {"reason": "The drift check moved to another tool"})
    assert response.status_code == 302 and response["Location"] == BASE
    assert ServiceAccount.objects.get(id=account.id).status == "deleted"
    assert account.id not in admin.get(BASE).content.decode()
    with pytest.raises(Unauthenticated):
        _grant(account, secret)
    assert audit_since(cast.org, mark)[0].action == "service-account.deleted"


# --- edit ---------------------------------------------------------------------------------------


def test_edit_changes_the_fields_and_a_scope_change_ends_its_tokens(
    cast: Cast, admin: Client
) -> None:
    account, secret = cast.reader.account, cast.reader.secret
    _grant(account, secret)
    url = f"{BASE}{account.id}/edit"
    page = admin.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="Drift check"' in html and 'value="assets:read" id="id_scopes_0" checked' in html

    mark = audit_mark(cast.org)
    expires = (
        (now() + timedelta(days=90)).astimezone(cast.org.zone).replace(second=0, microsecond=0)
    )
    form = _create_form(
        name="Drift check v2",
        scopes=["assets:read", "organization:read"],
        contact_email="ops@example.test",
        expires_at=expires.strftime("%Y-%m-%dT%H:%M"),
        reason="The drift check now also reads the organization",
    )
    response = admin.post(url, form)
    assert response.status_code == 302 and response["Location"] == BASE
    after = ServiceAccount.objects.get(id=account.id)
    assert (after.name, after.scopes, after.contact_email, after.expires_at) == (
        "Drift check v2",
        ["assets:read", "organization:read"],
        "ops@example.test",
        expires,
    )
    assert after.secret_hash == account.secret_hash  # the secret is unchanged
    assert not AccessToken.objects.filter(service_account_id=account.id).exists()
    assert "Service account Drift check v2 updated." in admin.get(BASE).content.decode()
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == (
        "service-account.updated",
        "The drift check now also reads the organization",
        cast.admin.id,
    )
    assert event.diff["before"]["scopes"] == ["assets:read"]
    assert event.diff["after"]["scopes"] == ["assets:read", "organization:read"]
    assert event.diff["tokensRevoked"] == 1
    issued = org_services.token_issue(
        client_id=account.id, client_secret=secret, client_address="127.0.0.1"
    )
    assert issued.scopes == ["assets:read", "organization:read"]


def test_edit_without_a_change_writes_nothing(cast: Cast, admin: Client) -> None:
    account = cast.reader.account
    _grant(account, cast.reader.secret)
    mark = audit_mark(cast.org)
    form = _create_form(name="Drift check", contact_email="", reason=WHY)
    response = admin.post(f"{BASE}{account.id}/edit", form)
    assert response.status_code == 302
    assert "Nothing was changed on Drift check." in admin.get(BASE).content.decode()
    assert audit_since(cast.org, mark) == []
    assert AccessToken.objects.filter(service_account_id=account.id).count() == 1


def test_edit_of_an_expired_account_keeps_its_expiry(cast: Cast, admin: Client) -> None:
    account = cast.org_reader.account
    lapsed = now().replace(microsecond=0) - timedelta(days=2, seconds=17)
    ServiceAccount.objects.filter(id=account.id).update(expires_at=lapsed)
    url = f"{BASE}{account.id}/edit"
    form = _create_form(
        name="Org lookup (retired)",
        scopes=["organization:read"],
        contact_email="",
        expires_at=lapsed.astimezone(cast.org.zone).strftime("%Y-%m-%dT%H:%M"),
    )
    assert admin.post(url, form).status_code == 302
    after = ServiceAccount.objects.get(id=account.id)
    assert (after.name, after.expires_at) == ("Org lookup (retired)", lapsed)
    # Moving it to another past time is refused, naming the field.
    form["expires_at"] = "2001-01-01T10:00"
    refused = admin.post(url, form)
    assert refused.status_code == 400
    assert 'id="id_expires_at-error">must be in the future<' in refused.content.decode()


def test_edit_refuses_bad_input_keeping_what_was_typed(cast: Cast, admin: Client) -> None:
    account = cast.reader.account
    mark = audit_mark(cast.org)
    form = _create_form(name="Renamed drift check", contact_email="nope", scopes=[])
    response = admin.post(f"{BASE}{account.id}/edit", form)
    assert response.status_code == 400
    html = unescape(response.content.decode())
    # The service checks the fields in turn: the first refusal is on the form.
    assert 'id="id_contact_email-error">must be an email address<' in html
    assert 'value="Renamed drift check"' in html and 'value="nope"' in html
    assert ServiceAccount.objects.get(id=account.id).name == "Drift check"
    assert audit_since(cast.org, mark) == []


# --- a form sent twice (a reload of the secret's page) -----------------------------------------


def _submission(html: str) -> str:
    found = re.search(r'<input type="hidden" name="submission" value="([^"]+)"', html)
    assert found, html[:3000]
    return found.group(1)


def test_create_sent_twice_makes_one_account_and_shows_no_secret(cast: Cast, admin: Client) -> None:
    submission = _submission(admin.get(f"{BASE}new").content.decode())
    assert submission != _submission(admin.get(f"{BASE}new").content.decode())  # one per page
    form = _create_form(submission=submission)
    first = admin.post(f"{BASE}new", form)
    secret = _secret(first.content.decode())
    mark = audit_mark(cast.org)

    again = admin.post(f"{BASE}new", form)
    assert again.status_code == 302 and again["Location"] == BASE
    html = admin.get(BASE).content.decode()
    assert "That form was already sent" in html and secret not in html
    assert ServiceAccount.objects.filter(name="Nightly drift check").count() == 1
    assert audit_since(cast.org, mark) == []


def test_rotate_sent_twice_keeps_the_secret_shown(cast: Cast, admin: Client) -> None:
    account = cast.reader.account
    url = f"{BASE}{account.id}/rotate"
    form = {"reason": WHY, "submission": _submission(admin.get(url).content.decode())}
    new = _secret(admin.post(url, form).content.decode())
    mark = audit_mark(cast.org)
    again = admin.post(url, form)
    assert again.status_code == 302
    assert audit_since(cast.org, mark) == []
    assert _grant(account, new).startswith("rtok_")  # the secret shown still works
    # A new page of the form is a new rotation.
    form["submission"] = _submission(admin.get(url).content.decode())
    newer = _secret(admin.post(url, form).content.decode())
    assert newer != new
    with pytest.raises(Unauthenticated):
        _grant(account, new)
