"""The audit log pages: who may see them, each filter, keyset pages and the URL that carries
them, the field diffs, the streamed formula-safe CSV export, verifying the chain (intact, and
after an event row is edited in the database) and the signed checkpoint download; query counts
pinned."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets import services as asset_services
from registra.core import audit
from registra.core.checkpoints import checkpoint_load, verify_with_checkpoint
from registra.core.models import AuditEvent
from registra.organizations.models import Member, Organization
from tests.cast import REASON, Cast, audit_mark, make_asset, operator

pytestmark = pytest.mark.django_db
LOG = "/o/skyline-mro/audit/"
SEQ = re.compile(r'<span class="seq">#(\d+)</span>')
FORMULA_REASON = '=HYPERLINK("http://evil.example","open me")'


def _seqs(html: str) -> list[int]:
    return [int(s) for s in SEQ.findall(html)]


def _next_link(html: str) -> str | None:
    found = re.search(r'<a href="\?([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def _text(html: str) -> str:
    """The page's text, tags dropped and spaces collapsed (none before punctuation)."""
    return re.sub(r" ([:.,;)])", r"\1", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _db_seqs(org: Organization, **filters: object) -> list[int]:
    events = AuditEvent.objects.filter(organization_id=org.id, **filters).order_by("-seq")
    return list(events.values_list("seq", flat=True))


@pytest.fixture
def auditor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.auditor)


def _rename(cast: Cast, key: str, name: str, *, reason: str = REASON, by: Member | None = None):
    asset = make_asset(cast.org, key)
    actor = cast.actor(by or cast.editor)
    return asset_services.asset_update(
        organization=cast.org, actor=actor, reason=reason, asset_id=asset.id, display_name=name
    )


def _event_at(org: Organization, when: datetime, action: str = "test.backdated") -> AuditEvent:
    """An event recorded at ``when`` (services record now; the date filter needs the past)."""
    with transaction.atomic():
        pending = audit.PendingEvent(action, "asset", "asset_BACKDATED", None, {"note": "old"})
        (event,) = audit.record_many(
            organization_id=org.id, actor=operator(org), reason=REASON, events=[pending], at=when
        )
    return event


# --- who may see it --------------------------------------------------------------------------

PAGES = [
    ("get", LOG),
    ("get", LOG + "events.csv"),
    ("get", LOG + "verify"),
    ("post", LOG + "verify"),
    ("post", LOG + "checkpoint"),
]


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_see_every_page_and_the_nav_link(
    cast: Cast, signed_in: Callable[[Member], Client], role: str
) -> None:
    client = signed_in(getattr(cast, role))
    for method, url in PAGES:
        assert getattr(client, method)(url).status_code == 200, (method, url)
    register = client.get("/o/skyline-mro/").content.decode()
    assert f'<a href="{LOG}" >Audit log</a>' in register
    assert f'<a href="{LOG}" aria-current="page">Audit log</a>' in client.get(LOG).content.decode()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_are_refused_and_not_shown_the_link(
    cast: Cast, signed_in: Callable[[Member], Client], role: str
) -> None:
    client = signed_in(getattr(cast, role))
    for method, url in PAGES:
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url)
        assert "Traceback" not in response.content.decode()
    assert "Audit log" not in client.get("/o/skyline-mro/").content.decode()


def test_another_organizations_member_gets_a_404(
    cast: Cast, signed_in: Callable[[Member], Client]
) -> None:
    client = signed_in(cast.outsider)  # the other organization's admin
    for method, url in PAGES:
        assert getattr(client, method)(url).status_code == 404, (method, url)
    assert client.get("/o/harbor-aero/audit/").status_code == 200  # their own


def test_signed_out_is_sent_to_sign_in(cast: Cast, client: Client) -> None:
    response = client.get(LOG)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in")


# --- the list --------------------------------------------------------------------------------


def test_lists_this_organizations_events_newest_first_with_field_diffs(
    cast: Cast, auditor: Client
) -> None:
    _rename(cast, "TW-1", "Torque wrench 20-100 Nm", reason="Relabelled after the stock take")
    make_asset(cast.other_org, "TW-1")
    html = auditor.get(LOG).content.decode()
    assert _seqs(html) == _db_seqs(cast.org)[:50]
    text = _text(html)
    assert "asset.updated · Eddie Editor" in text
    assert "Reason: Relabelled after the stock take" in text
    # a readable before/after row per changed field, never the stored JSON
    assert "Name Tool TW-1 Torque wrench 20-100 Nm" in text
    assert '"displayName"' not in html and "{&quot;" not in html
    asset_id = AuditEvent.objects.get(
        organization_id=cast.org.id, action="asset.updated"
    ).subject_id
    assert f'href="/o/skyline-mro/assets/{asset_id}/"' in html  # the subject links to the asset
    other = AuditEvent.objects.filter(organization_id=cast.other_org.id).values_list(
        "id", flat=True
    )
    assert not any(event_id in html for event_id in other)


def test_filters_by_actor_action_subject_and_text(cast: Cast, auditor: Client) -> None:
    renamed = _rename(cast, "TW-1", "Wrench by the editor")
    _rename(cast, "TW-2", "Wrench by the admin", by=cast.admin, reason="Fixing the label typo")
    get = lambda **q: _seqs(auditor.get(LOG, q).content.decode())  # noqa: E731
    by_admin = _db_seqs(cast.org, actor_id=cast.admin.id)
    assert by_admin and get(actor=cast.admin.id) == by_admin
    assert get(actor="system") == _db_seqs(cast.org, actor_type="system")
    updates = _db_seqs(cast.org, action="asset.updated")
    assert len(updates) == 2 and get(action="asset.updated") == updates
    assert get(subject=renamed.id) == _db_seqs(cast.org, subject_id=renamed.id)
    assert len(get(subject=renamed.id)) == 2  # created, updated
    assert get(q="label typo") == _db_seqs(cast.org, reason="Fixing the label typo")
    assert get(q="wrench by the EDITOR") == _db_seqs(cast.org, action="asset.updated")[1:]  # diff
    assert get(q="no event says this") == []
    assert get(actor=cast.admin.id, action="asset.created") == []
    page = auditor.get(LOG, {"q": "label typo", "action": "asset.updated"}).content.decode()
    assert 'value="label typo"' in page and 'value="asset.updated"' in page  # kept in the form
    assert '<option value="asset.updated"></option>' in page  # the actions in use


def test_the_date_range_is_days_of_the_organizations_time_zone(cast: Cast, auditor: Client) -> None:
    # 00:30 on 11 March in Berlin is still 10 March in UTC
    early = _event_at(cast.org, datetime(2026, 3, 10, 23, 30, tzinfo=UTC))
    late = _event_at(cast.org, datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    get = lambda **q: _seqs(auditor.get(LOG, q).content.decode())  # noqa: E731
    backdated = {"action": "test.backdated"}
    assert get(since="2026-03-11", until="2026-03-11", **backdated) == [early.seq]
    assert get(until="2026-03-10", **backdated) == []
    assert get(since="2026-03-12", **backdated) == [late.seq]
    assert get(since="2026-03-11", until="2026-03-12", **backdated) == [late.seq, early.seq]
    html = auditor.get(LOG, {"subject": "asset_BACKDATED"}).content.decode()
    assert '<time datetime="2026-03-11T00:30:00+01:00">2026-03-11 00:30:00</time>' in html


def test_keyset_pages_walk_every_match_once_keeping_the_filter(cast: Cast, auditor: Client) -> None:
    for i in range(110):
        make_asset(cast.org, f"W-{i:03d}")
    seen: list[int] = []
    query: str | None = "action=asset.created"
    pages = 0
    while query is not None:
        response = auditor.get(f"{LOG}?{query}")
        assert response.status_code == 200
        html = response.content.decode()
        seen += _seqs(html)
        query = _next_link(html)
        pages += 1
        if query:
            assert "action=asset.created" in query and "before=" in query
        if pages > 1:
            assert 'href="?action=asset.created">Newest events</a>' in html
    assert pages == 3 and seen == _db_seqs(cast.org, action="asset.created")
    assert len(seen) == 110 == len(set(seen))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"actor": "user_NOBODY"}, "Actor: must be one of the listed members"),
        ({"action": "DROP TABLE"}, "Action: must be a dotted action id in lower case"),
        ({"subject": "a b"}, "Subject id: must be one record&#x27;s id"),
        ({"since": "2026-13-01"}, "From (Europe/Berlin): must be a date as YYYY-MM-DD"),
        (
            {"since": "2026-03-02", "until": "2026-03-01"},
            "To (Europe/Berlin, inclusive): must be on or after the From date",
        ),
        ({"before": "abc"}, "Page link: this page link is not valid"),
        ({"q": "x" * 201}, "Search: Ensure this value has at most 200 characters"),
    ],
)
def test_bad_filter_input_is_a_400_naming_the_field_and_the_rule(
    cast: Cast, auditor: Client, query: dict[str, str], message: str
) -> None:
    for url in (LOG, LOG + "events.csv"):
        response = auditor.get(url, {**query, "subject": query.get("subject", "asset_KEPT")})
        assert response.status_code == 400, url
        html = response.content.decode()
        assert message in html, html[-3000:]
        assert "Traceback" not in html
        if "subject" not in query:
            assert 'value="asset_KEPT"' in html  # what was typed stays


def test_the_list_page_runs_a_fixed_number_of_queries(cast: Cast, auditor: Client) -> None:
    def count(**query: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert auditor.get(LOG, query).status_code == 200
        return len(queries)

    few = count()
    for i in range(60):
        _rename(cast, f"Q-{i}", f"Renamed {i}")
    # session, member, organization, membership; the actor filter's members and service
    # accounts, the actions in use; the page
    assert count() == few == count(action="asset.updated", q="Renamed") == 8


# --- export ----------------------------------------------------------------------------------


def _export(client: Client, **query: str) -> tuple[list[str], list[list[str]], str]:
    response = client.get(LOG + "events.csv", query)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()  # type: ignore[arg-type]
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:], response["Content-Disposition"]


def test_export_is_the_whole_filter_newest_first_with_formula_safe_cells(
    cast: Cast, auditor: Client
) -> None:
    for i in range(60):
        make_asset(cast.org, f"E-{i:02d}")
    renamed = _rename(cast, "F-1", "=SUM(A1:A9)", reason=FORMULA_REASON)
    header, rows, disposition = _export(auditor, action="asset.updated")
    assert header[:4] == ["seq", "id", "occurredAt", "actorType"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    event = AuditEvent.objects.get(organization_id=cast.org.id, action="asset.updated")
    assert row["reason"] == "'" + FORMULA_REASON  # a spreadsheet shows it as text
    assert (row["seq"], row["id"], row["subjectId"]) == (str(event.seq), event.id, renamed.id)
    assert (row["actorId"], row["actorLabel"]) == (cast.editor.id, "Eddie Editor")
    assert json.loads(row["diff"]) == event.diff  # the stored diff, as JSON
    assert json.loads(row["diff"])["after"] == {"displayName": "=SUM(A1:A9)"}
    assert (row["prevHash"], row["hash"]) == (event.prev_hash, event.hash)
    occurred = datetime.fromisoformat(row["occurredAt"])
    assert occurred.utcoffset() is not None and occurred.utcoffset().total_seconds() in (3600, 7200)
    assert occurred == event.occurred_at.replace(microsecond=0)
    assert re.fullmatch(r'attachment; filename="skyline-mro-audit-\d{8}-\d{4}\.csv"', disposition)
    # every event of the filter, not only the page shown
    _, created, _ = _export(auditor, action="asset.created", before="5")
    assert [int(r[0]) for r in created] == _db_seqs(cast.org, action="asset.created")
    assert len(created) == 61


def test_export_runs_a_fixed_number_of_queries(cast: Cast, auditor: Client) -> None:
    for i in range(30):
        make_asset(cast.org, f"X-{i}")
    with CaptureQueriesContext(connection) as queries:
        _, rows, _ = _export(auditor)
    assert len(rows) == audit_mark(cast.org)
    # session, member, organization, membership; the actor filter's members and service
    # accounts; the rows
    assert len(queries) == 7


# --- verify and checkpoint -------------------------------------------------------------------


def _tamper(event: AuditEvent, reason: str) -> None:
    """Edit an event's row in the database, as someone with write access but not the key would."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET reason = %s WHERE id = %s", [reason, event.id])


def test_verify_says_the_chain_is_intact_up_to_the_last_event(cast: Cast, auditor: Client) -> None:
    make_asset(cast.org, "V-1")
    shown = auditor.get(LOG + "verify").content.decode()
    assert "Verify chain now" in shown and "The chain is intact" not in shown
    response = auditor.post(LOG + "verify")
    assert response.status_code == 200
    text = _text(response.content.decode())
    last = AuditEvent.objects.filter(organization_id=cast.org.id).order_by("-seq").first()
    assert last is not None and last.seq == audit_mark(cast.org)
    stamp = last.occurred_at.astimezone(cast.org.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert f"The chain is intact up to event #{last.seq} at {stamp}: all {last.seq} events" in text
    assert last.id in text and last.hash in text


def test_verify_names_the_first_event_edited_in_the_database(cast: Cast, auditor: Client) -> None:
    _rename(cast, "V-1", "Renamed once")
    victim = AuditEvent.objects.get(organization_id=cast.org.id, action="asset.updated")
    _tamper(victim, "Nothing happened here, honestly")
    response = auditor.post(LOG + "verify")
    assert response.status_code == 200
    html = response.content.decode()
    text = _text(html)
    assert "The chain is broken." in text
    assert f"The first bad event is #{victim.seq} ({victim.id})." in text
    report = audit.verify_chain(cast.org.id)
    assert report.bad_event_id == victim.id and f"What is wrong: {report.problem}" in text
    assert "was edited: its content no longer matches its keyed hash" in text
    assert f"The {victim.seq - 1} events before it verify, up to event #{victim.seq - 1}" in text
    assert "Reason: Nothing happened here, honestly" in text  # the row as it is stored now
    assert 'role="alert"' in html
    # and a broken chain gets no checkpoint
    refused = auditor.post(LOG + "checkpoint")
    assert refused.status_code == 409 and not refused.has_header("Content-Disposition")
    assert "No checkpoint was signed: the chain does not verify." in refused.content.decode()


def test_the_checkpoint_download_is_a_signed_checkpoint_of_the_last_event(
    cast: Cast, auditor: Client, tmp_path: Path
) -> None:
    make_asset(cast.org, "C-1")
    response = auditor.post(LOG + "checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    seq = audit_mark(cast.org)
    assert response["Content-Disposition"] == (
        f'attachment; filename="skyline-mro-audit-checkpoint-{seq}.json"'
    )
    body = json.loads(response.content)
    last = AuditEvent.objects.get(organization_id=cast.org.id, seq=seq)
    assert (body["organizationId"], body["organizationSlug"]) == (cast.org.id, "skyline-mro")
    assert (body["seq"], body["headHash"]) == (seq, last.hash)
    path = tmp_path / "checkpoint.json"
    path.write_bytes(response.content)
    checkpoint = checkpoint_load(path)  # the signature holds
    assert verify_with_checkpoint(cast.org.id, checkpoint).ok
    assert audit_mark(cast.org) == seq  # a read: nothing was recorded


def test_the_verify_and_checkpoint_pages_run_a_fixed_number_of_queries(
    cast: Cast, auditor: Client
) -> None:
    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert auditor.post(url).status_code == 200
        return len(queries)

    few = (count(LOG + "verify"), count(LOG + "checkpoint"))
    for i in range(20):
        make_asset(cast.org, f"Q-{i}")
    # session, member, organization, membership; the chain's head, the events (one chunk),
    # the head again; then the last event (verify page: for its time; checkpoint: its hash)
    assert (count(LOG + "verify"), count(LOG + "checkpoint")) == few == (8, 8)
