"""An admin's CMMS import in the browser, against a real ``registra serve`` holding the demo
register: build the profile of ``examples/cmms-profile.toml`` in the structured form (refused
once, nothing typed lost), upload ``examples/cmms-export.csv``, read the preview's counts and
plan, apply it with a reason, then upload the same file again: the new plan changes nothing.
The upload waits for ``registra worker`` (queued) until one starts; from then on the run page
reloads itself when the worker has planned or applied.
Each step is checked on the page and in the rows the server wrote; axe-core checks every
import page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from registra_client import load_profile, profile_to_dict
from tests.browser.conftest import DEMO_ORG
from tests.browser.page_checks import check_accessibility, save_screenshot
from tests.browser.server_db import rows
from tests.browser.steps import expect_message, give_reason
from tests.servers import working

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPORT = EXAMPLES / "cmms-export.csv"
PROFILE = EXAMPLES / "cmms-profile.toml"
REASONS = {
    "profile": "The AMOS equipment export is the source of where tools are and who has them.",
    "plan": "First import of the AMOS equipment list into the register.",
    "apply": "Reviewed the AMOS plan with the tool crib lead: apply it.",
    "again": "The nightly AMOS export, run again to check that nothing changes.",
}
# The profile form's radio buttons, by the profile file's values.
MATCHES = {"email": "Member email", "external-id": "External employee id of the member"}
ABSENT = {
    "ignore": "Ignore them",
    "mark-inactive": "Mark them inactive",
    "flag": "Flag them for review (listed in the plan)",
}
# How long the page may wait for the worker to plan or apply the example (it takes about a second).
WORKER_MS = 60_000
# What the plan's counts are called on the run page (COUNT_LABELS of web/views/import_profiles).
CHANGES = ("creates", "updates", "status changes", "custody handoffs", "new calibrations")


# --- in the server's database -------------------------------------------------------------------


def _definition(server_env: dict[str, str], name: str) -> dict[str, Any]:
    sql = (
        "SELECT p.definition FROM imports_importprofile p JOIN organizations_organization o"
        " ON o.id = p.organization_id WHERE o.slug = %s AND p.name = %s"
    )
    (found,) = rows(server_env, sql, [DEMO_ORG, name])
    value = found[0]
    return json.loads(value) if isinstance(value, str) else dict(value)


def _run(server_env: dict[str, str], run_id: str) -> tuple[Any, ...]:
    sql = "SELECT status, counts, file_sha256, rows_read FROM imports_importrun WHERE id = %s"
    (found,) = rows(server_env, sql, [run_id])
    status, counts, sha, rows_read = found
    return status, json.loads(counts) if isinstance(counts, str) else counts, sha, rows_read


def _assets(server_env: dict[str, str]) -> int:
    sql = (
        "SELECT count(*) FROM assets_asset a JOIN organizations_organization o"
        " ON o.id = a.organization_id WHERE o.slug = %s"
    )
    return int(rows(server_env, sql, [DEMO_ORG])[0][0])


def _import_events(server_env: dict[str, str], run_id: str) -> int:
    """The register's audit events that name the run (asset, custody, readiness writes)."""
    sql = (
        "SELECT count(*) FROM core_auditevent WHERE subject_type <> 'import-run'"
        " AND CAST(diff AS TEXT) LIKE %s AND CAST(diff AS TEXT) LIKE %s"
    )
    return int(rows(server_env, sql, ["%importRunId%", f"%{run_id}%"])[0][0])


# --- on the pages -------------------------------------------------------------------------------


def _row_field(page: Page, noun: str, n: int, label: str) -> Any:
    """A cell of a profile table: ``noun`` ("Column"), row ``n`` (from 1), its ``label``."""
    return page.get_by_label(f"{noun} {n}: {label}", exact=True)


def _fill_rows(page: Page, noun: str, rows_: list[dict[str, Any]]) -> None:
    for n, values in enumerate(rows_, start=1):
        for label, value in values.items():
            field = _row_field(page, noun, n, label)
            if isinstance(value, bool):
                field.set_checked(value)
            elif field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)


def _fill_profile(page: Page, profile: dict[str, Any]) -> None:
    """Type ``profile`` (a profile file's data) into the form, as a person would."""
    page.get_by_label("Name", exact=True).fill(profile["name"])
    page.get_by_label("Source system").fill(profile["source_system"])
    page.get_by_label("Format", exact=True).select_option(profile["format"])
    page.get_by_label("CSV delimiter").fill(profile["csv"]["delimiter"])
    page.get_by_label("CSV encoding").select_option(profile["csv"]["encoding"])
    page.get_by_label("Fallback encoding").fill(profile["csv"]["fallback_encoding"])
    page.get_by_label("XLSX sheet").fill(profile["xlsx"].get("sheet", ""))
    page.get_by_label("XLSX header row").fill(str(profile["xlsx"]["header_row"]))
    page.get_by_label("Date formats").fill(", ".join(profile["dates"]))
    page.get_by_label("Error threshold").fill(str(profile["error_threshold"]))
    page.get_by_label("Key column (assetKey)").fill(profile["columns"]["assetKey"])
    owned = set(profile["owned_fields"])
    columns = [
        {"register field": f, "cmms column": c, "the cmms owns it": f in owned}
        for f, c in profile["columns"].items()
        if f != "assetKey"
    ]
    _fill_rows(page, "Column", columns)
    values = [
        {"field": f, "cmms value": cmms, "register value": value}
        for f, table in profile["values"].items()
        for cmms, value in table.items()
    ]
    _fill_rows(page, "Value mapping", values)
    defaults = [{"field": f, "value": v} for f, v in profile["defaults"].items()]
    _fill_rows(page, "Default", defaults)
    page.get_by_label("Holder column").fill(profile["custody"]["holder_column"])
    page.get_by_label(MATCHES[profile["custody"]["match"]]).check()
    page.get_by_label("The CMMS owns custody").set_checked("custody" in owned)
    calibration = profile["calibration"]
    page.get_by_label("Last calibration date column").fill(calibration["last_column"])
    page.get_by_label("Due date column").fill(calibration["due_column"])
    page.get_by_label("Result column").fill(calibration["result_column"])
    results = [{"cmms result": r, "readiness": s} for r, s in calibration["results"].items()]
    _fill_rows(page, "Result", results)
    page.get_by_label("The CMMS owns calibration").set_checked("calibration" in owned)
    page.get_by_label(ABSENT[profile["absent"]]).check()


def _count(page: Page, label: str) -> int:
    """A count of the run page's "Plan items by kind" ("creates", "row errors"...)."""
    counts = page.get_by_role("list", name="Plan items by kind")
    link = counts.get_by_role("link", name=re.compile(rf"^\d+ {re.escape(label)}$"))
    return int(link.inner_text().split()[0])


def _upload(page: Page, reason: str) -> str:
    """On a profile's page: upload the example export with ``reason``; the new run's id."""
    page.get_by_label("CMMS export file").set_input_files(EXPORT)
    give_reason(page, reason)
    page.get_by_role("button", name="Plan this file").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Import run of")
    found = re.search(r"/imports/runs/([^/]+)/$", page.url)
    assert found, page.url
    return found.group(1)


# --- the journey --------------------------------------------------------------------------------


def test_build_a_profile_preview_apply_and_re_run_an_export(
    signed_in: Callable[[str], Page], server_env: dict[str, str]
) -> None:
    page = signed_in("admin")
    expected = profile_to_dict(load_profile(PROFILE))
    before = _assets(server_env)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Imports")
    check_accessibility(page)
    page.get_by_role("link", name="New profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New import profile")

    # Room for the profile's value mappings, everything typed kept.
    page.get_by_label("Name", exact=True).fill(expected["name"])
    mappings = sum(len(table) for table in expected["values"].values())
    while not _row_field(page, "Value mapping", mappings, "cmms value").count():
        page.get_by_role("button", name="Add more rows").click()
        expect(page.get_by_label("Name", exact=True)).to_have_value(expected["name"])

    _fill_profile(page, expected)
    page.get_by_label("Key column (assetKey)").fill("")
    give_reason(page, REASONS["profile"])
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.locator("#id_key_column-error")).to_contain_text("required")
    expect(_row_field(page, "Value mapping", 12, "register value")).to_have_value("cloud-service")
    check_accessibility(page)
    save_screenshot(page, "import-profile")
    page.get_by_label("Key column (assetKey)").fill(expected["columns"]["assetKey"])
    page.get_by_role("button", name="Create profile").click()
    expect_message(page, f"Profile {expected['name']} created.")
    assert _definition(server_env, expected["name"]) == expected
    check_accessibility(page)

    # The upload waits for the worker; once it runs, the page shows the plan by itself.
    run_id = _upload(page, REASONS["plan"])
    expect_message(page, "Uploaded: the worker plans the file now. Nothing has changed yet.")
    expect(page.locator("#run-state")).to_contain_text("waiting for the import worker")
    assert _run(server_env, run_id)[0] == "queued"
    check_accessibility(page)
    with working(server_env, Path(server_env["REGISTRA_DATA_DIR"]) / "worker.log"):
        _preview_apply_and_re_run(page, server_env, run_id, expected["name"], before)


def _preview_apply_and_re_run(
    page: Page, server_env: dict[str, str], run_id: str, profile: str, before: int
) -> None:
    # The preview: counts and a plan, nothing changed yet.
    expect(page.locator("#run-state")).to_contain_text(
        "Planned: waiting for review. Nothing has been changed yet.", timeout=WORKER_MS
    )
    status, counts, sha, rows_read = _run(server_env, run_id)
    assert status == "planned" and rows_read >= 300 and len(sha) == 64
    expect(page.get_by_text(sha)).to_be_visible()
    assert _count(page, "creates") == counts["create"] > 0
    assert _count(page, "row errors") == counts.get("error", 0) > 0  # the duplicate key
    assert _assets(server_env) == before
    check_accessibility(page)
    page.get_by_role("list", name="Plan items by kind").get_by_role(
        "link", name=re.compile(r"^\d+ creates$")
    ).click()
    expect(page.locator("tbody tr").first).to_contain_text("Create")

    give_reason(page, REASONS["apply"])
    page.get_by_role("button", name="Apply this plan").click()
    expect(page.locator("#run-state")).to_contain_text(
        f"Applied: {counts['create']} created", timeout=WORKER_MS
    )
    expect(page.locator("#run-state")).to_contain_text("Applied on")
    assert _run(server_env, run_id)[0] == "applied"
    assert _assets(server_env) == before + counts["create"]
    assert _import_events(server_env, run_id) >= counts["create"]
    save_screenshot(page, "import-run")
    check_accessibility(page)

    # The same file again: nothing to change.
    page.get_by_role("link", name=profile).first.click()
    again = _upload(page, REASONS["again"])
    expect(page.locator("#run-state")).to_contain_text("Planned", timeout=WORKER_MS)
    for label in CHANGES:
        assert _count(page, label) == 0, label
    assert _count(page, "unchanged") > 0
    _, counts_again, sha_again, _ = _run(server_env, again)
    assert sha_again == sha
    assert not any(counts_again.get(k) for k in ("create", "update", "status", "handoff"))
    assert not counts_again.get("assessment")
