"""The responsibilities pages and the settings pages (organization settings, classification
levels, required assessment kinds): every page for the roles that may see it, 403 for the
others (a forged POST writing nothing), 404 for another organization's records, refused input
kept with the message at its field, and pinned query counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registra.assets.models import AssetReadiness
from registra.core.timefmt import now
from registra.organizations import services as org_services
from registra.organizations.models import (
    ClassificationLevel,
    Member,
    Organization,
    ResponsibilityAssignment,
)
from tests.cast import (
    REASON,
    Cast,
    audit_mark,
    audit_since,
    calibrated_without_due_date,
    make_asset,
    operator,
)

pytestmark = pytest.mark.django_db
WHY = "Reorganised after the hangar move"
BASE = "/o/skyline-mro"


def _page(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


def _field_error(html: str, field: str) -> list[str]:
    return re.findall(rf'<p class="error" id="id_{field}-error">([^<]*)</p>', html)


def _toolbox(cast: Cast, org: Organization | None = None) -> ResponsibilityAssignment:
    org = org or cast.org
    return org_services.responsibility_create(
        organization=org,
        actor=operator(org),
        reason=REASON,
        responsibility_key="toolbox-a",
        title="Custodian of toolbox A",
        holder_id=(cast.technician if org == cast.org else cast.outsider).id,
    )


def _level(cast: Cast, org: Organization | None = None) -> ClassificationLevel:
    org = org or cast.org
    return org_services.classification_level_create(
        organization=org,
        actor=operator(org),
        reason=REASON,
        label="Internal",
        rank=1,
        severity="low",
    )


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


@pytest.fixture
def admin(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.admin)


# --- responsibilities --------------------------------------------------------------------------


def test_editor_creates_a_responsibility(cast: Cast, editor: Client) -> None:
    assert 'href="/o/skyline-mro/responsibilities/"' in _page(editor.get(f"{BASE}/"))  # nav link
    form = _page(editor.get(f"{BASE}/responsibilities/new"))
    assert f'value="{cast.technician.id}"' in form and f'value="{cast.revoked.id}"' not in form
    mark = audit_mark(cast.org)
    data = {
        "responsibility_key": "toolbox-a",
        "title": "Custodian of toolbox A",
        "holder": cast.technician.id,
        "reason": WHY,
    }
    response = editor.post(f"{BASE}/responsibilities/new", data)
    ra = ResponsibilityAssignment.objects.get(organization=cast.org, responsibility_key="toolbox-a")
    assert response.status_code == 302
    assert response["Location"] == f"{BASE}/responsibilities/{ra.id}/"
    assert ra.holder_id == cast.technician.id
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.actor_id, event.reason) == (
        "responsibility.created",
        cast.editor.id,
        WHY,
    )
    listing = _page(editor.get(f"{BASE}/responsibilities/"))
    assert "toolbox-a" in listing and "Tess Technician" in listing


def test_a_refused_create_keeps_what_was_typed(cast: Cast, editor: Client) -> None:
    _toolbox(cast)
    mark = audit_mark(cast.org)
    data = {"responsibility_key": "toolbox-a", "title": "Second toolbox", "reason": WHY}
    taken = editor.post(f"{BASE}/responsibilities/new", data)
    assert taken.status_code == 409
    html = _page(taken)
    assert _field_error(html, "responsibility_key") == [
        "a responsibility with key &#x27;toolbox-a&#x27; already exists"
    ]
    assert 'value="Second toolbox"' in html and f"{WHY}</textarea>" in html
    bad = editor.post(f"{BASE}/responsibilities/new", {**data, "responsibility_key": "-a"})
    assert bad.status_code == 400
    assert _field_error(_page(bad), "responsibility_key")
    short = editor.post(f"{BASE}/responsibilities/new", {**data, "reason": "short"})
    assert short.status_code == 400 and _field_error(_page(short), "reason")
    assert audit_since(cast.org, mark) == []


def test_the_responsibility_page_lists_the_assets_that_name_it(cast: Cast, editor: Client) -> None:
    ra = _toolbox(cast)
    make_asset(cast.org, "TW-1", custodian_responsibility_id=ra.id)
    make_asset(cast.org, "TW-2")
    make_asset(cast.other_org, "TW-3")
    with CaptureQueriesContext(connection) as queries:
        html = _page(editor.get(f"{BASE}/responsibilities/{ra.id}/"))
    assert "TW-1" in html and "TW-2" not in html and "TW-3" not in html
    assert "Held by <strong>Tess Technician</strong>" in html
    # session, member, organization, membership, the responsibility with its holder, the
    # page of its assets with their readiness
    assert len(queries) == 6, [q["sql"][:80] for q in queries.captured_queries]


def test_the_list_runs_a_fixed_number_of_queries(cast: Cast, editor: Client) -> None:
    for i in range(5):
        org_services.responsibility_create(
            organization=cast.org,
            actor=operator(cast.org),
            reason=REASON,
            responsibility_key=f"bay-{i}",
            title=f"Bay {i} lead",
            holder_id=cast.technician.id,
        )
    with CaptureQueriesContext(connection) as queries:
        assert editor.get(f"{BASE}/responsibilities/").status_code == 200
    # session, member, organization, membership, the responsibilities with their holders
    assert len(queries) == 5, [q["sql"][:80] for q in queries.captured_queries]


def test_reassign_and_end(cast: Cast, editor: Client) -> None:
    ra = _toolbox(cast)
    form = _page(editor.get(f"{BASE}/responsibilities/{ra.id}/reassign"))
    assert f'value="{cast.technician.id}"' not in form  # not offered to the current holder
    mark = audit_mark(cast.org)
    refused = editor.post(
        f"{BASE}/responsibilities/{ra.id}/reassign", {"holder": cast.technician.id, "reason": WHY}
    )
    assert refused.status_code == 400 and _field_error(_page(refused), "holder")
    response = editor.post(
        f"{BASE}/responsibilities/{ra.id}/reassign", {"holder": cast.viewer.id, "reason": WHY}
    )
    assert response.status_code == 302
    ra.refresh_from_db()
    assert ra.holder_id == cast.viewer.id
    assert "is now held by Vic Viewer" in _page(editor.get(response["Location"]))
    short = editor.post(f"{BASE}/responsibilities/{ra.id}/end", {"reason": "x"})
    assert short.status_code == 400 and _field_error(_page(short), "reason")
    assert editor.post(f"{BASE}/responsibilities/{ra.id}/end", {"reason": WHY}).status_code == 302
    ra.refresh_from_db()
    assert ra.holder_id is None
    again = editor.post(f"{BASE}/responsibilities/{ra.id}/end", {"reason": WHY})
    assert again.status_code == 422 and "nobody holds toolbox-a" in _page(again)
    actions = [e.action for e in audit_since(cast.org, mark)]
    assert actions == ["responsibility.reassigned", "responsibility.ended"]


@pytest.mark.parametrize("who", ["viewer", "auditor"])
def test_readers_may_not_manage_responsibilities(
    cast: Cast, signed_in: Callable[[Member], Client], who: str
) -> None:
    ra = _toolbox(cast)
    client = signed_in(getattr(cast, who))
    assert 'href="/o/skyline-mro/responsibilities/"' not in _page(client.get(f"{BASE}/"))
    mark = audit_mark(cast.org)
    for path in ("", "new", f"{ra.id}/", f"{ra.id}/reassign", f"{ra.id}/end"):
        assert client.get(f"{BASE}/responsibilities/{path}").status_code == 403, path
    forged = {"holder": cast.viewer.id, "reason": WHY}
    assert client.post(f"{BASE}/responsibilities/{ra.id}/reassign", forged).status_code == 403
    assert client.post(f"{BASE}/responsibilities/{ra.id}/end", forged).status_code == 403
    ra.refresh_from_db()
    assert ra.holder_id == cast.technician.id and audit_since(cast.org, mark) == []


def test_another_organizations_responsibility_is_a_404(cast: Cast, editor: Client) -> None:
    foreign = _toolbox(cast, cast.other_org)
    for path in ("", "reassign", "end"):
        assert editor.get(f"{BASE}/responsibilities/{foreign.id}/{path}").status_code == 404
    assert (
        editor.post(f"{BASE}/responsibilities/{foreign.id}/end", {"reason": WHY}).status_code == 404
    )
    assert editor.get("/o/harbor-aero/responsibilities/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.holder_id == cast.outsider.id


# --- settings: who sees what -------------------------------------------------------------------


def test_the_overview_shows_each_section_to_who_may_change_it(cast: Cast, admin: Client) -> None:
    _level(cast)
    with CaptureQueriesContext(connection) as queries:
        html = _page(admin.get(f"{BASE}/settings/"))
    # session, member, organization, membership, the levels
    assert len(queries) == 5, [q["sql"][:80] for q in queries.captured_queries]
    assert 'href="/o/skyline-mro/settings/"' in html and 'aria-current="page">Settings' in html
    assert "Europe/Berlin" in html and "Internal" in html
    assert "calibrated-tool" in html and "Never lapses" in html


@pytest.mark.parametrize("who", ["editor", "viewer", "auditor"])
def test_members_who_configure_nothing_get_403(
    cast: Cast, signed_in: Callable[[Member], Client], who: str
) -> None:
    level = _level(cast)
    client = signed_in(getattr(cast, who))
    assert 'href="/o/skyline-mro/settings/"' not in _page(client.get(f"{BASE}/"))
    mark = audit_mark(cast.org)
    paths = [
        "",
        "organization",
        "classification-levels/new",
        f"classification-levels/{level.id}/edit",
        f"classification-levels/{level.id}/remove",
        "required-kinds/set",
        "required-kinds/remove?asset_kind=calibrated-tool&assessment_kind=calibration",
    ]
    for path in paths:
        assert client.get(f"{BASE}/settings/{path}").status_code == 403, path
    forged = {
        "name": "Taken over",
        "timezone": "UTC",
        "locale": "en",
        "due_soon_days": "5",
        "label": "X",
        "rank": "9",
        "severity": "low",
        "asset_kind": "vehicle",
        "assessment_kind": "inspection",
        "reason": WHY,
    }
    for path in paths[1:]:
        assert client.post(f"{BASE}/settings/{path}", forged).status_code == 403, path
    cast.org.refresh_from_db()
    assert cast.org.name == "Skyline MRO" and audit_since(cast.org, mark) == []
    assert ClassificationLevel.objects.filter(organization=cast.org).count() == 1


# --- organization settings ---------------------------------------------------------------------

SETTINGS = {
    "name": "Skyline MRO GmbH",
    "timezone": "Europe/Vienna",
    "locale": "de-AT",
    "due_soon_days": "14",
    "reason": WHY,
}


def test_admin_changes_the_organization_settings(cast: Cast, admin: Client) -> None:
    form = _page(admin.get(f"{BASE}/settings/organization"))
    assert 'value="Europe/Berlin"' in form and 'value="30"' in form
    mark = audit_mark(cast.org)
    response = admin.post(f"{BASE}/settings/organization", {**SETTINGS, "require_mfa": "on"})
    assert response.status_code == 302 and response["Location"] == f"{BASE}/settings/"
    cast.org.refresh_from_db()
    assert (cast.org.name, cast.org.timezone, cast.org.locale, cast.org.due_soon_days) == (
        "Skyline MRO GmbH",
        "Europe/Vienna",
        "de-AT",
        14,
    )
    assert cast.org.require_mfa is True
    (event,) = audit_since(cast.org, mark)
    assert event.action == "organization.settings-changed"
    assert event.diff["before"]["timezone"] == "Europe/Berlin"
    assert event.diff["after"]["requireMfa"] is True


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "must be an IANA time zone such as Europe/Berlin"),
        ("due_soon_days", "0", "must be 1 to 365 days"),
        ("due_soon_days", "400", "must be 1 to 365 days"),
        ("due_soon_days", "soon", "Enter a whole number."),
        ("locale", "english please", "must be a language tag such as en-US or de-CH"),
        ("reason", "short", "Ensure this value has at least 10 characters (it has 5)."),
    ],
)
def test_bad_settings_are_refused_at_their_field(
    cast: Cast, admin: Client, field: str, value: str, message: str
) -> None:
    mark = audit_mark(cast.org)
    response = admin.post(f"{BASE}/settings/organization", {**SETTINGS, field: value})
    assert response.status_code == 400
    html = _page(response)
    assert _field_error(html, field) == [message]
    assert 'value="Skyline MRO GmbH"' in html  # what was typed stays
    cast.org.refresh_from_db()
    assert cast.org.name == "Skyline MRO" and audit_since(cast.org, mark) == []


# --- classification levels ---------------------------------------------------------------------


def test_admin_adds_edits_and_removes_a_level(cast: Cast, admin: Client) -> None:
    mark = audit_mark(cast.org)
    data = {"label": "Flight-safety critical", "rank": "4", "severity": "critical", "reason": WHY}
    assert admin.post(f"{BASE}/settings/classification-levels/new", data).status_code == 302
    level = ClassificationLevel.objects.get(organization=cast.org)
    asset_form = _page(admin.get(f"{BASE}/assets/new"))
    assert "Flight-safety critical (rank 4, critical)" in asset_form  # offered to assets
    edit = f"{BASE}/settings/classification-levels/{level.id}/edit"
    assert 'value="Flight-safety critical"' in _page(admin.get(edit))
    assert admin.post(edit, {**data, "rank": "5"}).status_code == 302
    level.refresh_from_db()
    assert level.rank == 5
    remove = f"{BASE}/settings/classification-levels/{level.id}/remove"
    assert admin.post(remove, {"reason": WHY}).status_code == 302
    assert not ClassificationLevel.objects.filter(organization=cast.org).exists()
    assert [e.action for e in audit_since(cast.org, mark)] == [
        "classification-level.created",
        "classification-level.changed",
        "classification-level.removed",
    ]


def test_a_refused_level_keeps_what_was_typed(cast: Cast, admin: Client) -> None:
    _level(cast)
    mark = audit_mark(cast.org)
    data = {"label": "Secret", "rank": "1", "severity": "high", "reason": WHY}
    twin = admin.post(f"{BASE}/settings/classification-levels/new", data)
    assert twin.status_code == 409
    html = _page(twin)
    assert _field_error(html, "rank") == ["another level already has rank 1"]
    assert 'value="Secret"' in html
    bad = admin.post(f"{BASE}/settings/classification-levels/new", {**data, "rank": "5000"})
    assert bad.status_code == 400 and _field_error(_page(bad), "rank") == ["must be 0 to 1000"]
    none = admin.post(f"{BASE}/settings/classification-levels/new", {**data, "severity": ""})
    assert none.status_code == 400 and _field_error(_page(none), "severity")
    assert audit_since(cast.org, mark) == []


def test_another_organizations_level_is_a_404(cast: Cast, admin: Client) -> None:
    foreign = _level(cast, cast.other_org)
    for path in ("edit", "remove"):
        url = f"{BASE}/settings/classification-levels/{foreign.id}/{path}"
        assert admin.get(url).status_code == 404
        assert admin.post(url, {"reason": WHY}).status_code == 404
    assert ClassificationLevel.objects.filter(id=foreign.id).exists()


# --- required assessment kinds -----------------------------------------------------------------


def test_requiring_a_kind_recomputes_readiness(cast: Cast, admin: Client) -> None:
    tug = make_asset(cast.org, "TUG-1", asset_kind="vehicle")
    form = _page(admin.get(f"{BASE}/settings/required-kinds/set"))
    assert '<option value="vehicle">' in form  # the kinds in use, suggested
    data = {
        "asset_kind": "vehicle",
        "assessment_kind": "inspection",
        "validity_days": "90",
        "reason": WHY,
    }
    assert admin.post(f"{BASE}/settings/required-kinds/set", data).status_code == 302
    stored = AssetReadiness.objects.get(asset_id=tug.id)
    assert (stored.state, stored.reasons) == ("not-ready", ["inspection never completed"])
    cast.org.refresh_from_db()
    assert cast.org.readiness_validity == {"vehicle": {"inspection": 90}}
    change = f"{BASE}/settings/required-kinds/set?asset_kind=vehicle&assessment_kind=inspection"
    assert 'value="90"' in _page(admin.get(change))
    remove = f"{BASE}/settings/required-kinds/remove?asset_kind=vehicle&assessment_kind=inspection"
    assert "Stop requiring inspection of vehicle" in _page(admin.get(remove))
    posted = {"asset_kind": "vehicle", "assessment_kind": "inspection", "reason": WHY}
    assert admin.post(f"{BASE}/settings/required-kinds/remove", posted).status_code == 302
    assert AssetReadiness.objects.get(asset_id=tug.id).state == "ready"


def test_a_validity_period_set_on_the_page_makes_an_asset_overdue(
    cast: Cast, admin: Client
) -> None:
    tool = make_asset(cast.org, "TW-1")
    performed = now() - timedelta(days=400)
    calibrated_without_due_date(cast.org, tool, performed)
    data = {
        "asset_kind": "calibrated-tool",
        "assessment_kind": "calibration",
        "validity_days": "365",
        "reason": WHY,
    }
    assert admin.post(f"{BASE}/settings/required-kinds/set", data).status_code == 302
    assert "TW-1" in _page(admin.get(f"{BASE}/?readiness=overdue"))
    # The asset page names the due date the period gives, in the organization's zone.
    due = (performed + timedelta(days=365)).astimezone(cast.org.zone)
    asset_page = _page(admin.get(f"{BASE}/assets/{tool.id}/"))
    assert f"calibration overdue since {due:%Y-%m-%d}" in asset_page
    assert f"{due:%Y-%m-%d %H:%M}" in asset_page


def test_bad_requirements_are_refused_at_their_field(cast: Cast, admin: Client) -> None:
    mark = audit_mark(cast.org)
    data = {
        "asset_kind": "vehicle",
        "assessment_kind": "inspection",
        "validity_days": "0",
        "reason": WHY,
    }
    bad = admin.post(f"{BASE}/settings/required-kinds/set", data)
    assert bad.status_code == 400
    html = _page(bad)
    assert _field_error(html, "validity_days") == ["must be 1 to 3650 days"]
    assert 'value="inspection"' in html
    blank = admin.post(f"{BASE}/settings/required-kinds/set", {**data, "asset_kind": ""})
    assert blank.status_code == 400 and _field_error(_page(blank), "asset_kind")
    assert (
        admin.get(
            f"{BASE}/settings/required-kinds/remove?asset_kind=vehicle&assessment_kind=x"
        ).status_code
        == 404
    )
    gone = {"asset_kind": "vehicle", "assessment_kind": "inspection", "reason": WHY}
    refused = admin.post(f"{BASE}/settings/required-kinds/remove", gone)
    assert refused.status_code == 422 and "vehicle does not require inspection" in _page(refused)
    assert audit_since(cast.org, mark) == []


def test_another_organizations_settings_pages_are_404(cast: Cast, admin: Client) -> None:
    for path in ("", "organization", "classification-levels/new", "required-kinds/set"):
        assert admin.get(f"/o/harbor-aero/settings/{path}").status_code == 404
    assert admin.post("/o/harbor-aero/settings/organization", {**SETTINGS}).status_code == 404
    cast.other_org.refresh_from_db()
    assert cast.other_org.name == "Harbor Aero"
