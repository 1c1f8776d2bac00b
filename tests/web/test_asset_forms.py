"""The asset write pages: create, edit, change status, decommission. Each test asserts the page,
the rows and the audit events (with the reason), and the refusals: a viewer's or an auditor's
forged POST, a foreign organization's asset, a missing CSRF token, the service's validation
messages next to their fields with everything typed kept. Query counts of the GET pages are
pinned."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from registra.assets.models import Asset, CustodyAssignment
from registra.organizations.models import Member
from registra.web.asset_forms import AssetForm
from tests.assets.services.helpers import custody, decommission, responsibility
from tests.cast import Cast, audit_mark, audit_since, make_asset
from tests.web.conftest import PASSWORD, give_password

pytestmark = pytest.mark.django_db
BASE = "/o/skyline-mro"
WHY = "Received from the calibration lab after purchase"


def _landing(asset: Asset) -> str:
    """Where a write goes afterwards: the asset's page, the register list until there is one."""
    try:
        return reverse("web:asset", kwargs={"slug": "skyline-mro", "asset_id": asset.id})
    except NoReverseMatch:
        return f"{BASE}/"


def _page(response: Any) -> str:
    return html.unescape(response.content.decode())


def _field_error(page: str, field: str) -> list[str]:
    """The error messages shown next to a field (``id_<field>-error``)."""
    return re.findall(rf'<p class="error" id="id_{field}-error">([^<]*)</p>', page)


def _alert(page: str) -> str:
    found = re.search(r'<div class="alert" role="alert"[^>]*>(.*?)</div>', page, re.S)
    return found.group(1) if found else ""


def _held_asset(cast: Cast, key: str) -> Asset:
    """An active asset whose kind needs no assessment: ready, so custody needs no override."""
    return make_asset(cast.org, key, asset_kind="ground-support-equipment")


def _create_form(**changes: str) -> dict[str, str]:
    data = {
        "asset_key": "TW-100",
        "display_name": "Torque wrench 20-100 N·m",
        "asset_kind": "calibrated-tool",
        "description": "Line maintenance, hangar 2",
        "status": "active",
        "source_kind": "manual",
        "custodian": "",
        "commissioned_at": "2026-03-02T08:30",
        "manufacturer": "Norbar",
        "model": "TTi 100",
        "serial_number": "NB-77123",
        "location": "Hangar 2, toolbox A",
        "spec-TOTAL_FORMS": "3",
        "spec-INITIAL_FORMS": "0",
        "spec-0-key": "range",
        "spec-0-value": "20-100 N·m",
        "spec-1-key": "drive",
        "spec-1-value": "1/2 in",
        "spec-2-key": "",
        "spec-2-value": "",
        "acquisition_date": "2026-02-20",
        "supplier": "Aviation Tooling GmbH",
        "purchase_order": "PO-2026-000123",
        "cost_eur": "412.50",
        "classification": "",
        "criticality": "high",
        "regulatory_class": "EASA Part-145.A.40 tools and equipment",
        "reason": WHY,
    }
    data.update(changes)
    return data


@pytest.fixture
def editor(cast: Cast, signed_in: Callable[[Member], Client]) -> Client:
    return signed_in(cast.editor)


# --- create --------------------------------------------------------------------------------


def test_editor_creates_an_asset_with_its_snapshot_and_reason(cast: Cast, editor: Client) -> None:
    ra = responsibility(cast.org, "toolbox-a")
    page = _page(editor.get(f"{BASE}/assets/new"))
    assert f'<option value="{ra.id}">Custodian of toolbox-a (toolbox-a)</option>' in page
    assert "no classification levels configured" in page
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/new", _create_form(custodian=ra.id))
    assert response.status_code == 302
    asset = Asset.objects.get(organization=cast.org, asset_key="TW-100")
    assert response["Location"] == _landing(asset)
    assert (asset.display_name, asset.status, asset.custodian_responsibility_id) == (
        "Torque wrench 20-100 N·m",
        "active",
        ra.id,
    )
    # 08:30 in Europe/Berlin (the organization's zone) in March is 07:30 UTC.
    assert asset.commissioned_at == datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
    assert asset.asset_snapshot == {
        "manufacturer": "Norbar",
        "model": "TTi 100",
        "serialNumber": "NB-77123",
        "location": "Hangar 2, toolbox A",
        "specifications": {"range": "20-100 N·m", "drive": "1/2 in"},
        "acquisition": {
            "date": "2026-02-20",
            "supplier": "Aviation Tooling GmbH",
            "purchaseOrder": "PO-2026-000123",
            "costEur": 412.5,
        },
    }
    assert asset.classification_snapshot == {
        "criticality": "high",
        "regulatoryClass": "EASA Part-145.A.40 tools and equipment",
    }
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.subject_id, event.reason) == ("asset.created", asset.id, WHY)
    assert event.actor_id == cast.editor.id
    assert "Asset TW-100 registered." in _page(editor.get(response["Location"]))


def test_a_validation_error_shows_next_to_its_field_and_keeps_what_was_typed(
    cast: Cast, editor: Client
) -> None:
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/new", _create_form(display_name="  "))
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "display_name") == ["is required"]
    assert "correct the fields marked below" in _alert(page)
    for typed in (
        'value="TW-100"',
        'value="Norbar"',
        'value="NB-77123"',
        'value="1/2 in"',
        'value="2026-03-02T08:30"',
        'value="412.50"',
        f"{WHY}</textarea>",
        "Line maintenance, hangar 2</textarea>",
    ):
        assert typed in page, typed
    assert '<option value="active" selected>' in page
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert audit_since(cast.org, mark) == []


def test_a_short_reason_is_shown_next_to_it(cast: Cast, editor: Client) -> None:
    response = editor.post(f"{BASE}/assets/new", _create_form(reason="because"))
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "reason") == [
        "Ensure this value has at least 10 characters (it has 7)."
    ]
    assert ">\nbecause</textarea>" in page
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_a_taken_asset_key_is_a_conflict_next_to_the_key(cast: Cast, editor: Client) -> None:
    make_asset(cast.org, "TW-100")
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/new", _create_form())
    assert response.status_code == 409
    assert _field_error(_page(response), "asset_key") == ["assetKey already registered: TW-100"]
    assert Asset.objects.filter(organization=cast.org).count() == 1
    assert audit_since(cast.org, mark) == []


def test_what_the_form_cannot_read_is_refused_before_the_service(
    cast: Cast, editor: Client
) -> None:
    data = _create_form(
        commissioned_at="yesterday",
        cost_eur="-3",
        **{"spec-1-key": "", "spec-2-key": "range", "spec-2-value": "again"},
    )
    response = editor.post(f"{BASE}/assets/new", data)
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "commissioned_at") == ["Enter a valid date/time."]
    assert _field_error(page, "cost_eur") == ["Ensure this value is greater than or equal to 0."]
    assert "A specification needs a name." in page
    assert "“range” is named twice." in page
    assert 'value="yesterday"' in page
    assert not Asset.objects.filter(organization=cast.org).exists()


def test_a_forged_custodian_or_status_is_refused(cast: Cast, editor: Client) -> None:
    outside = responsibility(cast.other_org, "harbor-box")
    response = editor.post(
        f"{BASE}/assets/new", _create_form(custodian=outside.id, status="decommissioned")
    )
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "custodian")
    assert _field_error(page, "status")
    assert not Asset.objects.filter(organization=cast.org).exists()


# --- edit ----------------------------------------------------------------------------------


def _snapshot_asset(cast: Cast) -> Asset:
    level = {"label": "Airworthiness relevant", "rank": 3, "severity": "high"}
    return make_asset(
        cast.org,
        "TW-7",
        display_name="Torque wrench",
        asset_snapshot={
            "manufacturer": "Norbar",
            "serialNumber": "NB-1",
            "specifications": {"range": "20-100 N·m", "points": 3},
            "acquisition": {"supplier": "Direct OEM", "costEur": 29512.37},
            "warranty": "kept by the CMMS",
        },
        classification_snapshot={
            "level": level,
            "classifiedAt": "2025-01-01T00:00:00.000Z",
            "criticality": "high",
        },
    )


def _edit_form(page: str) -> dict[str, str]:
    """The edit form's fields as the page pre-fills them."""
    data = dict(
        re.findall(
            r'<input type="(?:text|number|date|datetime-local|hidden)"'
            r' name="([^"]+)" value="([^"]*)"',
            page,
        )
    )
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>\n?(.*?)</textarea>', page, re.S):
        data[name] = body
    for name, options in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = chosen.group(1) if chosen else ""
    data.pop("csrfmiddlewaretoken", None)
    return data


def test_the_edit_form_is_filled_in_from_the_asset(cast: Cast, editor: Client) -> None:
    asset = _snapshot_asset(cast)
    page = _page(editor.get(f"{BASE}/assets/{asset.id}/edit"))
    data = _edit_form(page)
    assert data["display_name"] == "Torque wrench"
    assert data["manufacturer"] == "Norbar"
    assert data["serial_number"] == "NB-1"
    assert (data["spec-0-key"], data["spec-0-value"]) == ("range", "20-100 N·m")
    assert (data["spec-1-key"], data["spec-1-value"]) == ("points", "3")
    assert data["spec-TOTAL_FORMS"] == "5"  # two rows and three empty ones
    assert data["cost_eur"] == "29512.37"
    assert data["classification"] == "current"
    assert "Airworthiness relevant (current)" in page
    assert "asset_key" not in data and 'name="status"' not in page


def test_editor_edits_an_asset_and_only_the_changes_are_recorded(
    cast: Cast, editor: Client
) -> None:
    asset = _snapshot_asset(cast)
    data = _edit_form(_page(editor.get(f"{BASE}/assets/{asset.id}/edit")))
    data.update(
        {
            "display_name": "Torque wrench, 1/2 in",
            "location": "Hangar 3",
            "spec-0-value": "20-110 N·m",
            "spec-2-key": "drive",
            "spec-2-value": "1/2 in",
            "reason": WHY,
        }
    )
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/{asset.id}/edit", data)
    assert response.status_code == 302, _alert(_page(response))
    asset.refresh_from_db()
    assert asset.display_name == "Torque wrench, 1/2 in"
    assert asset.asset_snapshot == {
        "manufacturer": "Norbar",
        "serialNumber": "NB-1",
        "location": "Hangar 3",
        # "points" stays a number: nobody changed it.
        "specifications": {"range": "20-110 N·m", "points": 3, "drive": "1/2 in"},
        "acquisition": {"supplier": "Direct OEM", "costEur": 29512.37},
        "warranty": "kept by the CMMS",
    }
    assert asset.classification_snapshot["classifiedAt"] == "2025-01-01T00:00:00.000Z"
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.actor_id) == ("asset.updated", WHY, cast.editor.id)
    assert set(event.diff["after"]) == {"displayName", "assetSnapshot"}
    assert "Asset TW-7 updated." in _page(editor.get(response["Location"]))


def test_saving_the_form_unchanged_writes_nothing(cast: Cast, editor: Client) -> None:
    asset = make_asset(
        cast.org, "TW-8", commissioned_at=datetime(2026, 1, 5, 9, 15, 42, tzinfo=UTC)
    )
    data = _edit_form(_page(editor.get(f"{BASE}/assets/{asset.id}/edit")))
    data["reason"] = WHY
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/{asset.id}/edit", data)
    assert response.status_code == 302
    assert audit_since(cast.org, mark) == []
    assert "Nothing was changed on TW-8." in _page(editor.get(response["Location"]))


def test_clearing_the_level_and_a_specification_removes_them(cast: Cast, editor: Client) -> None:
    asset = _snapshot_asset(cast)
    data = _edit_form(_page(editor.get(f"{BASE}/assets/{asset.id}/edit")))
    data.update({"classification": "", "spec-1-key": "", "spec-1-value": "", "reason": WHY})
    assert editor.post(f"{BASE}/assets/{asset.id}/edit", data).status_code == 302
    asset.refresh_from_db()
    assert asset.classification_snapshot == {"criticality": "high"}
    assert asset.asset_snapshot["specifications"] == {"range": "20-100 N·m"}


def test_an_edit_refused_by_the_service_keeps_the_typed_values(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "TW-9")
    data = _edit_form(_page(editor.get(f"{BASE}/assets/{asset.id}/edit")))
    data.update({"asset_kind": "k" * 65, "manufacturer": "Facom", "reason": WHY})
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/{asset.id}/edit", data)
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "asset_kind") == ["must be at most 64 characters"]
    assert 'value="Facom"' in page and f"{WHY}</textarea>" in page
    assert audit_since(cast.org, mark) == []
    asset.refresh_from_db()
    assert asset.asset_kind == "calibrated-tool"


def test_a_decommissioned_asset_is_not_editable(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "TW-10")
    decommission(cast, asset)
    page = _page(editor.get(f"{BASE}/assets/{asset.id}/edit"))
    assert "can no longer be edited" in page and '<form method="post" novalidate' not in page
    data = {"display_name": "Renamed", "reason": WHY, "spec-TOTAL_FORMS": "0"}
    data["spec-INITIAL_FORMS"] = "0"
    response = editor.post(f"{BASE}/assets/{asset.id}/edit", data)
    assert response.status_code == 422
    asset.refresh_from_db()
    assert asset.display_name == "Tool TW-10"


def test_choosing_a_configured_level_copies_it_into_the_snapshot() -> None:
    # The levels as organizations.selectors.classification_levels gives them (the settings
    # pages' test checks that the page offers the configured ones).
    levels = [{"label": "Flight-safety critical", "rank": 4, "severity": "critical"}]
    asset = Asset(asset_key="X-1", classification_snapshot={"regulatoryClass": "Part-IS"})
    data = {
        "classification": "Flight-safety critical",
        "regulatory_class": "Part-IS",
        "reason": WHY,
    }
    data.update({"spec-TOTAL_FORMS": "0", "spec-INITIAL_FORMS": "0"})
    form = AssetForm(data, asset=asset, responsibilities=[], levels=levels)
    assert form.is_valid(), form.errors
    snapshot = form.changes()["classification_snapshot"]
    assert snapshot["level"] == levels[0]
    assert snapshot["regulatoryClass"] == "Part-IS"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", snapshot["classifiedAt"])


# --- status --------------------------------------------------------------------------------


def test_the_status_page_offers_only_the_allowed_moves(cast: Cast, editor: Client) -> None:
    planned = make_asset(cast.org, "P-1", status="planned")
    active = make_asset(cast.org, "A-1")
    options = lambda a: re.findall(  # noqa: E731
        r'<option value="([^"]+)"', _page(editor.get(f"{BASE}/assets/{a.id}/status"))
    )
    assert options(planned) == ["active"]
    assert options(active) == ["inactive"]  # decommissioning has its own page


def test_editor_changes_the_status(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "P-2", status="planned")
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/{asset.id}/status", {"status": "active", "reason": WHY})
    assert response.status_code == 302
    assert response["Location"] == _landing(asset)
    asset.refresh_from_db()
    assert asset.status == "active" and asset.commissioned_at is not None
    (event,) = audit_since(cast.org, mark)
    assert (event.action, event.reason, event.subject_id) == ("asset.status-changed", WHY, asset.id)
    assert "Asset P-2 is now active." in _page(editor.get(response["Location"]))


def test_a_move_that_is_not_allowed_is_refused(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "A-2")
    mark = audit_mark(cast.org)
    for status in ("planned", "decommissioned", "active"):
        response = editor.post(
            f"{BASE}/assets/{asset.id}/status", {"status": status, "reason": WHY}
        )
        assert response.status_code == 400
        assert _field_error(_page(response), "status"), status
    response = editor.post(
        f"{BASE}/assets/{asset.id}/status", {"status": "inactive", "reason": "x"}
    )
    assert response.status_code == 400
    assert _field_error(_page(response), "reason") == [
        "Ensure this value has at least 10 characters (it has 1)."
    ]
    asset.refresh_from_db()
    assert asset.status == "active"
    assert audit_since(cast.org, mark) == []


# --- decommission --------------------------------------------------------------------------


def test_decommissioning_lists_the_custody_it_ends_then_ends_it(cast: Cast, editor: Client) -> None:
    asset = _held_asset(cast, "TW-20")
    primary = custody(cast, asset, cast.technician)
    loan = custody(cast, asset, cast.admin, kind="loan")
    page = _page(editor.get(f"{BASE}/assets/{asset.id}/decommission"))
    listed = re.search(r'<table class="grid" id="custody-to-end">(.*?)</table>', page, re.S)
    assert listed is not None
    holders = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>(\w+)</td>", listed.group(1))
    assert holders == [("Tess Technician", "primary"), ("Ada Admin", "loan")]
    assert "Decommission and end 2 custody assignments" in page
    shown = re.search(r'name="custody_shown" value="([^"]*)"', page)
    assert shown is not None and shown.group(1) == f"{primary.id} {loan.id}"
    mark = audit_mark(cast.org)
    form = {
        "disposal_authorization": "DISP-2026-014",
        "reason": WHY,
        "custody_shown": shown.group(1),
    }
    response = editor.post(f"{BASE}/assets/{asset.id}/decommission", form)
    assert response.status_code == 302
    assert response["Location"] == _landing(asset)
    asset.refresh_from_db()
    assert (asset.status, asset.disposal_authorization) == ("decommissioned", "DISP-2026-014")
    assert asset.decommissioned_by_id == cast.editor.id
    ended = CustodyAssignment.objects.filter(organization=cast.org, asset_id=asset.id)
    assert {(c.id, c.status, c.ended_at) for c in ended} == {
        (primary.id, "ended", asset.decommissioned_at),
        (loan.id, "ended", asset.decommissioned_at),
    }
    events = audit_since(cast.org, mark)
    assert [e.action for e in events] == ["asset.decommissioned", "custody.ended", "custody.ended"]
    assert {e.reason for e in events} == {WHY}
    assert events[0].diff["disposalAuthorization"] == "DISP-2026-014"
    message = "Asset TW-20 decommissioned; 2 custody assignments ended."
    assert message in _page(editor.get(response["Location"]))
    assert "was decommissioned on" in _page(editor.get(f"{BASE}/assets/{asset.id}/decommission"))


def test_decommissioning_needs_a_disposal_authorization(cast: Cast, editor: Client) -> None:
    asset = make_asset(cast.org, "TW-21")
    mark = audit_mark(cast.org)
    form = {"disposal_authorization": "", "reason": WHY, "custody_shown": ""}
    response = editor.post(f"{BASE}/assets/{asset.id}/decommission", form)
    assert response.status_code == 400
    page = _page(response)
    assert _field_error(page, "disposal_authorization") == ["is required"]
    assert f"{WHY}</textarea>" in page
    asset.refresh_from_db()
    assert asset.status == "active"
    assert audit_since(cast.org, mark) == []


def test_custody_that_changed_since_the_page_was_shown_asks_again(
    cast: Cast, editor: Client
) -> None:
    asset = _held_asset(cast, "TW-22")
    form = {"disposal_authorization": "DISP-9", "reason": WHY, "custody_shown": ""}
    custody(cast, asset, cast.technician)  # after the page listed nobody
    mark = audit_mark(cast.org)
    response = editor.post(f"{BASE}/assets/{asset.id}/decommission", form)
    assert response.status_code == 409
    page = _page(response)
    assert "has changed since the page was shown" in _alert(page)
    assert "<td>Tess Technician</td>" in page
    assert 'value="DISP-9"' in page
    asset.refresh_from_db()
    assert asset.status == "active"
    assert audit_since(cast.org, mark) == []


def test_a_decommissioning_time_before_the_custody_began_is_refused(
    cast: Cast, editor: Client
) -> None:
    asset = _held_asset(cast, "TW-23")
    held = custody(cast, asset, cast.technician)
    form = {
        "disposal_authorization": "DISP-3",
        "decommissioned_at": "2020-01-01T10:00",
        "reason": WHY,
        "custody_shown": held.id,
    }
    response = editor.post(f"{BASE}/assets/{asset.id}/decommission", form)
    assert response.status_code == 400
    errors = _field_error(_page(response), "decommissioned_at")
    assert len(errors) == 1 and "has active custody that began after" in errors[0]
    assert CustodyAssignment.objects.get(id=held.id).status == "active"


# --- who may ---------------------------------------------------------------------------------


def _write_pages(asset: Asset) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{BASE}/assets/new", _create_form()),
        (f"{BASE}/assets/{asset.id}/edit", {"display_name": "Renamed", "reason": WHY}),
        (f"{BASE}/assets/{asset.id}/status", {"status": "inactive", "reason": WHY}),
        (
            f"{BASE}/assets/{asset.id}/decommission",
            {"disposal_authorization": "DISP-1", "reason": WHY, "custody_shown": ""},
        ),
    ]


@pytest.mark.parametrize("role", ["viewer", "auditor"])
def test_a_viewer_and_an_auditor_may_not_write(
    cast: Cast, signed_in: Callable[[Member], Client], role: str
) -> None:
    asset = make_asset(cast.org, "TW-30")
    client = signed_in(getattr(cast, role))
    mark = audit_mark(cast.org)
    for url, form in _write_pages(asset):
        assert client.get(url).status_code == 403, url
        assert client.post(url, form).status_code == 403, url
    assert list(Asset.objects.filter(organization=cast.org)) == [asset]
    asset.refresh_from_db()
    assert (asset.status, asset.display_name) == ("active", "Tool TW-30")
    assert audit_since(cast.org, mark) == []
    assert "Add asset" not in _page(client.get(f"{BASE}/"))


def test_the_register_offers_add_asset_to_an_editor(cast: Cast, editor: Client) -> None:
    assert f'href="{BASE}/assets/new">Add asset</a>' in _page(editor.get(f"{BASE}/"))


def test_a_foreign_organizations_asset_is_a_404(cast: Cast, editor: Client) -> None:
    foreign = make_asset(cast.other_org, "TW-31")
    mark = audit_mark(cast.other_org)
    for url, form in _write_pages(foreign)[1:]:
        assert editor.get(url).status_code == 404, url
        assert editor.post(url, form).status_code == 404, url
    assert editor.get(f"{BASE}/assets/asset_NOPE/edit").status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "active"
    assert audit_since(cast.other_org, mark) == []


def test_a_post_without_the_csrf_token_is_refused(cast: Cast) -> None:
    give_password(cast.editor)
    client = Client(enforce_csrf_checks=True)
    sign_in_page = client.get("/sign-in")
    client.post(
        "/sign-in",
        {
            "email": cast.editor.email,
            "password": PASSWORD,
            "csrfmiddlewaretoken": sign_in_page.cookies["csrftoken"].value,
        },
    )
    mark = audit_mark(cast.org)
    assert client.post(f"{BASE}/assets/new", _create_form()).status_code == 403
    assert not Asset.objects.filter(organization=cast.org).exists()
    assert audit_since(cast.org, mark) == []
    page = client.get(f"{BASE}/assets/new")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    form = _create_form(csrfmiddlewaretoken=token.group(1))
    assert client.post(f"{BASE}/assets/new", form).status_code == 302
    assert Asset.objects.filter(organization=cast.org, asset_key="TW-100").exists()


# --- query counts ----------------------------------------------------------------------------


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_form_pages_make_a_fixed_number_of_queries(cast: Cast, editor: Client) -> None:
    asset = _held_asset(cast, "TW-40")
    responsibility(cast.org, "toolbox-a")
    custody(cast, asset, cast.technician)
    pages = {
        "new": f"{BASE}/assets/new",
        "edit": f"{BASE}/assets/{asset.id}/edit",
        "status": f"{BASE}/assets/{asset.id}/status",
        "decommission": f"{BASE}/assets/{asset.id}/decommission",
    }
    few = {name: _count(editor, url) for name, url in pages.items()}
    for key in ("toolbox-b", "toolbox-c", "toolbox-d"):
        responsibility(cast.org, key)
    custody(cast, asset, cast.admin, kind="loan")
    custody(cast, asset, cast.editor, kind="secondary")
    many = {name: _count(editor, url) for name, url in pages.items()}
    # session, member, organization, membership; then: the responsibilities and the
    # classification levels (new); the asset, the responsibilities and the levels (edit); the
    # asset (status); the asset and its custody (decommission)
    assert few == many == {"new": 6, "edit": 7, "status": 5, "decommission": 6}
