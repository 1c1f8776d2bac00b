"""The drift report in every format: what a reader of the terminal table, a script reading
the JSON or CSV, and someone opening the HTML file rely on. Reports are built by hand (no
server, no export): a few findings of every kind, a resolved one, a row issue, and values
carrying HTML, formula and control-character payloads."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from registra_client import RowIssue, formula_safe
from registra_client._findings import (
    CUSTODY,
    FIELD,
    KINDS,
    NEW,
    ONLY_IN_CMMS,
    ONLY_IN_REGISTER,
    OPEN,
    READINESS,
    RESOLVED,
    DriftReport,
    Finding,
    Source,
    sort_findings,
)
from registra_client._render import FORMATS, write_report

BASE_URL = "https://registra.example"
SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"onmouseover=alert(2) x="'
TAGGED_KEY = "TW-002<img src=x onerror=alert(3)>&amp;"
LONG = "Torque wrench " + "x" * 80 + " END"
ANSI = re.compile("\x1b\\[")


def _source(**changes: object) -> Source:
    source = Source(BASE_URL, 400, "amos.csv", "ab" * 32, 412, "AMOS nightly")
    return replace(source, **changes)


def _findings() -> list[Finding]:
    return sort_findings(
        [
            Finding(ONLY_IN_CMMS, "TW-900", None, "Prüfgerät Ø 12 mm ⚙", None, None, 14),
            Finding(ONLY_IN_CMMS, "=cmd|' /C calc'!A0", None, SCRIPT, None, None, 15),
            Finding(ONLY_IN_REGISTER, TAGGED_KEY, None, None, LONG, "asset_02"),
            Finding(FIELD, "TW-003", "displayName", SCRIPT, ATTRIBUTE, "asset_03", 3),
            Finding(FIELD, "TW-003", "status", "-1+2", "@SUM(A1)", "asset_03", 3),
            Finding(FIELD, "TW-004", "description", "\t=1", "東京の工具", "asset_04", 4),
            Finding(CUSTODY, "TW-005", "custody", "E1 (no such member)", "user_A", "asset_05", 5),
            Finding(READINESS, "TW-006", "calibration", "2026-01-01 pass", None, "asset_06", 6),
        ]
    )


def _report(findings: list[Finding] | None = None, **changes: object) -> DriftReport:
    report = DriftReport(
        generated_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        source=_source(),
        findings=_findings() if findings is None else findings,
        compared=["displayName", "status", "description", "custody", "calibration"],
        not_compared=["location"],
        row_issues=[RowIssue(17, "Last Cal", "31.02.2026", "not a date (dd.mm.yyyy)")],
        resolved=[Finding(FIELD, "TW-007", "status", "active", "inactive", state=RESOLVED)],
        previous_generated_at="2026-10-31T08:00:00+00:00",
    )
    return replace(report, **changes)


def _written(report: DriftReport, fmt: str, *, color: bool = False) -> str:
    out = io.StringIO(newline="")
    write_report(report, fmt, out, color=color)
    return out.getvalue()


# --- the formula rule and the dispatch -------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert formula_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["TW-001", "a=b", " =1", "", "'=1", "Prüfgerät"])
def test_other_text_is_kept(text: str) -> None:
    assert formula_safe(text) == text


def test_an_unknown_format_names_the_formats_and_writes_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(ValueError, match="table, json, csv, html") as raised:
        write_report(_report(), "xml", out)
    assert "'xml'" in str(raised.value) and out.getvalue() == ""
    assert FORMATS == ("table", "json", "csv", "html")


class _Writes:
    """A text stream that keeps each write apart."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        self.pieces.append(text)
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)


@pytest.mark.parametrize("fmt", ["table", "csv", "html"])
def test_rows_are_written_one_by_one(fmt: str) -> None:
    many = [Finding(FIELD, f"K-{i:04d}", "status", "a", "b", f"asset_{i}", i) for i in range(300)]
    out = _Writes()
    write_report(_report(many, resolved=[]), fmt, out)  # type: ignore[arg-type]
    keys = re.compile(r"K-\d{4}")
    assert {k for piece in out.pieces for k in keys.findall(piece)} == {f.asset_key for f in many}
    assert max(len(set(keys.findall(piece))) for piece in out.pieces) == 1


# --- table -----------------------------------------------------------------------------------


def test_the_table_lists_every_finding_without_colour() -> None:
    text = _written(_report(), "table")
    assert not ANSI.search(text)
    for f in _findings():
        assert f.asset_key in text
    assert "TW-007" in text and "Resolved since 2026-10-31T08:00:00+00:00 (1)" in text
    assert "https://registra.example (400 assets)" in text
    assert "amos.csv (412 rows, profile AMOS nightly)" in text
    assert "only-in-cmms 2  only-in-register 1  field 3  custody 1  readiness 1" in text
    assert "new 8  open 0  resolved 1  row issues 1" in text
    assert "No drift" not in text
    # Sections in the kinds' order, each with its count.
    titles = ["Only in the CMMS (2)", "Only in the register (1)", "Field mismatches (3)"]
    titles += ["Custody mismatches (1)", "Readiness (calibration) mismatches (1)"]
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    assert re.search(r"^  17 +Last Cal +not a date \(dd\.mm\.yyyy\)$", text, re.MULTILINE)
    assert "not compared" in text and text.rstrip().endswith("location")


def test_the_table_cuts_long_values_and_aligns_its_columns() -> None:
    text = _written(_report(), "table")
    assert LONG not in text and LONG[:39] + "…" in text
    lines = text.splitlines()
    field = lines.index("Field mismatches (3)")
    head, *rows = lines[field + 1 : field + 5]
    assert head.split() == ["key", "field", "CMMS", "register", "state"]
    # Every row's state starts where the header's does.
    assert {row.rindex("new") for row in rows} == {head.index("state")}


def test_a_value_cannot_put_control_codes_in_the_table() -> None:
    sneaky = Finding(FIELD, "TW-1", "displayName", "red\x1b[31m\x07", "two\nlines\u202e", "a", 1)
    text = _written(_report([sneaky], resolved=[]), "table")
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "two lines" in text


def test_the_table_is_coloured_only_when_asked() -> None:
    report = _report()
    opened = replace(report, findings=[replace(report.findings[0], state=OPEN), *report.findings])
    text = _written(opened, "table", color=True)
    assert "\x1b[31mnew\x1b[0m" in text
    assert "\x1b[33mopen\x1b[0m" in text
    assert "\x1b[32mresolved\x1b[0m" in text
    assert not ANSI.search(_written(opened, "table", color=False))


def test_an_empty_report_says_no_drift() -> None:
    report = _report([], resolved=[], row_issues=[], not_compared=[])
    text = _written(report, "table")
    assert "No drift" in text and "mismatches" not in text and "Only in" not in text
    coloured = _written(report, "table", color=True)
    assert "\x1b[32mNo drift" in coloured


# --- json ------------------------------------------------------------------------------------


def test_json_is_the_report_data_keeping_unicode() -> None:
    text = _written(_report(), "json")
    assert text.endswith("}\n") and "Prüfgerät Ø 12 mm ⚙" in text and "東京の工具" in text
    data = json.loads(text)
    assert data == _report().to_json()
    assert data["summary"]["field"] == 3 and data["findings"][0]["assetKey"] == "=cmd|' /C calc'!A0"


def test_json_read_back_as_previous_marks_new_open_and_resolved() -> None:
    first = _report(resolved=[], previous_generated_at=None)
    previous = json.loads(_written(first, "json"))
    # Since then: the register's TW-002... is in the export, TW-003's status agrees, TW-004's
    # description still differs (with another value), and TW-010 appeared.
    fixed = {("only-in-register", TAGGED_KEY), ("field", "TW-003", "status")}
    kept = [
        f
        for f in first.findings
        if (f.kind, f.asset_key) not in fixed and (f.kind, f.asset_key, f.field) not in fixed
    ]
    kept = [replace(f, cmms="\t=2") if f.asset_key == "TW-004" else f for f in kept]
    appeared = Finding(ONLY_IN_CMMS, "TW-010", None, "New stand", None, None, 30)
    second = replace(first, findings=sort_findings([*kept, appeared]))

    report = second.with_previous(previous)

    states = {(f.kind, f.asset_key, f.field): f.state for f in report.findings}
    assert states.pop((ONLY_IN_CMMS, "TW-010", None)) == NEW
    assert set(states.values()) == {OPEN} and len(states) == len(first.findings) - 2
    assert [(f.kind, f.asset_key, f.field, f.state) for f in report.resolved] == [
        (ONLY_IN_REGISTER, TAGGED_KEY, None, RESOLVED),
        (FIELD, "TW-003", "status", RESOLVED),
    ]
    assert report.resolved[1].cmms == "-1+2"  # the values as the previous report had them
    assert report.previous_generated_at == "2026-11-01T08:00:00+00:00"
    counts = report.counts()
    assert (counts[NEW], counts[OPEN], counts[RESOLVED], counts["total"]) == (1, 6, 2, 7)
    again = json.loads(_written(report, "json"))
    assert again["previousGeneratedAt"] == "2026-11-01T08:00:00+00:00"
    assert [f["state"] for f in again["resolved"]] == [RESOLVED, RESOLVED]
    assert [Finding.from_json(f) for f in again["findings"]] == report.findings


def test_previous_must_be_a_drift_report() -> None:
    with pytest.raises(ValueError, match="not a drift report"):
        _report().with_previous({"format": "something-else", "findings": []})


# --- csv -------------------------------------------------------------------------------------


def test_csv_is_one_row_per_finding_then_resolved_with_formulas_defused() -> None:
    text = _written(_report(), "csv")
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [
        ["state", "kind", "assetKey", "field", "cmms", "register", "assetId", "line"],
        ["new", "only-in-cmms", "'=cmd|' /C calc'!A0", "", SCRIPT, "", "", "15"],
        ["new", "only-in-cmms", "TW-900", "", "Prüfgerät Ø 12 mm ⚙", "", "", "14"],
        ["new", "only-in-register", TAGGED_KEY, "", "", LONG, "asset_02", ""],
        ["new", "field", "TW-003", "displayName", SCRIPT, ATTRIBUTE, "asset_03", "3"],
        ["new", "field", "TW-003", "status", "'-1+2", "'@SUM(A1)", "asset_03", "3"],
        ["new", "field", "TW-004", "description", "'\t=1", "東京の工具", "asset_04", "4"],
        ["new", "custody", "TW-005", "custody", "E1 (no such member)", "user_A", "asset_05", "5"],
        ["new", "readiness", "TW-006", "calibration", "2026-01-01 pass", "", "asset_06", "6"],
        ["resolved", "field", "TW-007", "status", "active", "inactive", "", ""],
    ]


def test_an_empty_report_is_a_csv_header() -> None:
    text = _written(_report([], resolved=[]), "csv")
    assert text == "state,kind,assetKey,field,cmms,register,assetId,line\r\n"


# --- html ------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """What a script reading the HTML report sees: the finding rows (data-kind, data-state,
    cell texts), every tag with its attributes, and the text of each script and style."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str | None, str | None, list[str]]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.text: list[str] = []
        self._in_row = False
        self._cell: list[str] | None = None
        self._raw: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr":
            self._in_row = "data-kind" in a
            if self._in_row:
                self.rows.append((a["data-kind"], a.get("data-state"), []))
        elif tag == "td" and self._in_row:
            self._cell = []
        elif tag in self.raw:
            self._raw = tag
            self.raw[tag].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1][2].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._in_row = False
        elif tag == self._raw:
            self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw:
            self.raw[self._raw][-1] += data
        else:
            self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def attrs_of(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def _page(report: DriftReport) -> tuple[str, _Page]:
    text = _written(report, "html")
    page = _Page()
    page.feed(text)
    page.close()
    return text, page


def test_html_rows_are_the_findings_then_the_resolved() -> None:
    report = _report()
    _, page = _page(report)
    expected = [
        (
            f.kind,
            f.state,
            [f.state, f.kind, f.asset_key, f.field or "", f.cmms or "", f.register or ""],
        )
        for f in [*report.findings, *report.resolved]
    ]
    assert page.rows == expected
    text = "".join(page.text)
    assert "9 of 9 findings" in text
    for figure in ("2 Only in the CMMS", "3 Field mismatches", "8 New", "0 Still open"):
        assert figure in text
    assert "1 Resolved" in text and "1 Rows not compared" in text


def test_html_values_are_inert() -> None:
    text, page = _page(_report())
    assert SCRIPT not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert ATTRIBUTE not in text and "&quot;onmouseover=alert(2) x=&quot;" in text
    assert "TW-002&lt;img src=x onerror=alert(3)&gt;&amp;amp;" in text
    assert len(page.attrs_of("script")) == 1  # the report's own, and no other
    handlers = [(t, name) for t, a in page.tags for name in a if name.startswith("on")]
    assert handlers == []


def test_html_loads_nothing_from_anywhere() -> None:
    text, page = _page(_report())
    # The register's address is shown as text (the report's header), never linked.
    assert "http://" not in text and "https://" not in text.replace(BASE_URL, "")
    linked = [(t, a) for t, a in page.tags if {"src", "href", "srcset", "action"} & set(a)]
    assert linked == []
    assert page.attrs_of("link") == [] and page.attrs_of("img") == []
    assert "@import" not in page.raw["style"][0] and "url(" not in page.raw["style"][0]


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_html_content_security_policy_allows_only_its_own_style_and_script() -> None:
    _, page = _page(_report())
    (meta,) = [a for a in page.attrs_of("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in (meta["content"] or "").split(";") if d.strip()
    )
    assert set(policy) == {"default-src", "style-src", "script-src", "base-uri", "form-action"}
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
    # By hash: the browser runs this page's own script and style, and nothing injected.
    (script,), (style,) = page.raw["script"], page.raw["style"]
    assert policy["script-src"] == [_digest(script)]
    assert policy["style-src"] == [_digest(style)]


def test_html_is_accessible_and_filterable() -> None:
    _, page = _page(_report())
    assert page.attrs_of("html")[0].get("lang") == "en"
    assert page.attrs_of("thead") and all(a.get("scope") == "col" for a in page.attrs_of("th"))
    ids = {a.get("id") for _, a in page.tags}
    labelled = {a.get("for") for a in page.attrs_of("label")}
    assert {"q", "kind", "state"} <= labelled <= ids
    options = [a.get("value") for a in page.attrs_of("option")]
    assert options == ["", *KINDS, "", NEW, OPEN, RESOLVED]
    assert page.attrs_of("caption") and page.attrs_of("h1")
    assert "aria-sort" in page.raw["script"][0]


def test_html_header_and_sections() -> None:
    _, page = _page(_report())
    text = "".join(page.text)
    for fact in ("amos.csv (412 rows, profile AMOS nightly)", "https://registra.example (400"):
        assert fact in text
    assert "2026-10-31T08:00:00+00:00" in text and "ab" * 32 in text
    assert "31.02.2026" in text and "not a date (dd.mm.yyyy)" in text
    assert "location" in text and "No drift" not in text


def test_an_empty_html_report_says_no_drift() -> None:
    report = _report([], resolved=[], row_issues=[], not_compared=[])
    _, page = _page(report)
    assert page.rows == [] and "No drift" in "".join(page.text)
    assert not [a for a in page.attrs_of("table") if a.get("id") == "findings"]
