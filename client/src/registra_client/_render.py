"""A drift report written out: a terminal table, JSON (what ``--previous`` reads back), CSV
for spreadsheets, or one self-contained HTML file. Every format streams its rows to ``out``:
a report can hold hundreds of thousands of findings."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from collections.abc import Callable, Iterable
from html import escape
from typing import TextIO, TypeVar

from registra_client._cells import formula_safe
from registra_client._findings import KINDS, NEW, OPEN, RESOLVED, DriftReport, Finding
from registra_client._table import RowIssue

FORMATS = ("table", "json", "csv", "html")
"""The formats ``write_report`` writes."""

TITLES = {
    "only-in-cmms": "Only in the CMMS",
    "only-in-register": "Only in the register",
    "field": "Field mismatches",
    "custody": "Custody mismatches",
    "readiness": "Readiness (calibration) mismatches",
}
NO_DRIFT = "No drift: the export and the register agree on everything compared."
NOT_COMPARED = (
    "Mapped fields not compared (API v1 does not show them, or holders cannot be matched)"
)


def write_report(report: DriftReport, fmt: str, out: TextIO, *, color: bool = False) -> None:
    """Write ``report`` to ``out`` as ``fmt`` (one of ``FORMATS``); ``color`` puts ANSI colours
    in the ``table`` format (the others never have any). ``ValueError`` for another format."""
    writers: dict[str, Callable[[DriftReport, TextIO], None]] = {
        "table": lambda r, o: _write_table(r, o, color),
        "json": _write_json,
        "csv": _write_csv,
        "html": _write_html,
    }
    if fmt not in writers:
        raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    writers[fmt](report, out)


def _by_kind(findings: list[Finding]) -> dict[str, list[Finding]]:
    groups: dict[str, list[Finding]] = {kind: [] for kind in KINDS}
    for f in findings:
        groups.setdefault(f.kind, []).append(f)
    return {kind: group for kind, group in groups.items() if group}


# --- table -----------------------------------------------------------------------------------

CUT = 40
_ANSI = {NEW: "31", OPEN: "33", RESOLVED: "32"}
# A value from the export must not move the cursor, recolour the terminal or break the line:
# control characters, and the bidi controls that reorder what is shown, become U+FFFD; other
# spaces and line breaks a plain space.
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_UNPRINTABLE = {c: "\ufffd" for c in _CONTROLS} | {0x09: " ", 0x0A: " ", 0x0D: " "}

T = TypeVar("T")
Paint = Callable[[str, str], str]


def _shown(value: object, cut: int = CUT) -> str:
    """A value as one short terminal cell: "—" for none, cut with an ellipsis."""
    if value is None:
        return "—"
    text = str(value)
    if not text.isprintable():  # rare: translating every cell would double the table's time
        text = "".join(" " if c.isspace() else c for c in text.translate(_UNPRINTABLE))
    return text if len(text) <= cut else text[: cut - 1] + "…"


def _write_table(report: DriftReport, out: TextIO, color: bool) -> None:
    paint = _painter(color)
    _table_header(report, out, paint)
    if not report.findings:
        out.write("\n" + paint(RESOLVED, NO_DRIFT) + "\n")
    for kind, group in _by_kind(report.findings).items():
        out.write(f"\n{TITLES.get(kind, _shown(kind))} ({len(group)})\n")
        _grid(out, ("key", "field", "CMMS", "register", "state"), group, _finding_cells, paint)
    if report.resolved:
        since = report.previous_generated_at
        out.write(f"\nResolved{f' since {_shown(since)}' if since else ''} ")
        out.write(f"({len(report.resolved)})\n")
        head = ("kind", "key", "field", "CMMS", "register", "state")
        _grid(out, head, report.resolved, _resolved_cells, paint)
    if report.row_issues:
        out.write(f"\nRows not compared ({len(report.row_issues)})\n")
        _grid(out, ("line", "column", "reason"), report.row_issues, _issue_cells, None)
    if report.not_compared:
        out.write(f"\n{NOT_COMPARED}: {', '.join(map(_shown, report.not_compared))}\n")


def _painter(color: bool) -> Paint:
    def paint(state: str, text: str) -> str:
        code = _ANSI.get(state) if color else None
        return f"\x1b[{code}m{text}\x1b[0m" if code else text

    return paint


def _table_header(report: DriftReport, out: TextIO, paint: Paint) -> None:
    s, counts = report.source, report.counts()
    out.write(f"Drift report, {report.generated_at.isoformat(timespec='seconds')}\n")
    out.write(f"  register  {_shown(s.base_url, 200)} ({s.register_assets} assets)\n")
    out.write(f"  CMMS      {_shown(s.export, 200)} ({s.export_rows} rows, ")
    out.write(f"profile {_shown(s.profile, 200)})\n")
    if report.previous_generated_at:
        out.write(f"  previous  {_shown(report.previous_generated_at)}\n")
    out.write("\nSummary\n  " + "  ".join(f"{k} {counts[k]}" for k in KINDS) + "\n  ")
    states = [
        paint(st, f"{st} {counts[st]}") if counts[st] else f"{st} 0" for st in (NEW, OPEN, RESOLVED)
    ]
    out.write("  ".join([*states, f"row issues {counts['rowIssues']}"]) + "\n")


def _finding_cells(f: Finding) -> tuple[str, ...]:
    cells = (f.asset_key, f.field, f.cmms, f.register, f.state)
    return tuple(map(_shown, cells))


def _resolved_cells(f: Finding) -> tuple[str, ...]:
    return (_shown(f.kind), *_finding_cells(f))


def _issue_cells(issue: RowIssue) -> tuple[str, ...]:
    # The reason is a sentence: cut only when it is very long.
    return (str(issue.line), _shown(issue.column or "(row)"), _shown(issue.reason, 200))


def _grid(
    out: TextIO,
    head: tuple[str, ...],
    items: list[T],
    cells: Callable[[T], tuple[str, ...]],
    paint: Paint | None,
) -> None:
    """Aligned columns: a first pass measures them, the second writes the rows one by one (the
    last column, the state when ``paint`` is given, is coloured and not padded)."""
    widths = [len(h) for h in head[:-1]]
    for item in items:
        widths = [max(w, len(c)) for w, c in zip(widths, cells(item), strict=False)]
    out.write(_grid_line(head, widths, head[-1]))
    for item in items:
        row = cells(item)
        out.write(_grid_line(row, widths, paint(row[-1], row[-1]) if paint else row[-1]))


def _grid_line(row: tuple[str, ...], widths: list[int], last: str) -> str:
    return (
        "  " + "".join(c.ljust(w) + "  " for c, w in zip(row, widths, strict=False)) + last + "\n"
    )


# --- json and csv ----------------------------------------------------------------------------


def _write_json(report: DriftReport, out: TextIO) -> None:
    json.dump(report.to_json(), out, indent=2, ensure_ascii=False)
    out.write("\n")


CSV_HEADER = ("state", "kind", "assetKey", "field", "cmms", "register", "assetId", "line")


def _write_csv(report: DriftReport, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for f in (*report.findings, *report.resolved):
        text = (f.state, f.kind, f.asset_key, f.field, f.cmms, f.register, f.asset_id)
        line = "" if f.line is None else str(f.line)
        writer.writerow([*("" if t is None else formula_safe(t) for t in text), line])


# --- html ------------------------------------------------------------------------------------

_STYLE = r"""
:root{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;
background:#fff}
body{margin:0 auto;max-width:84rem;padding:1.5rem}
h1{font-size:1.5rem;margin:0 0 .75rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.5rem;
list-style:none;margin:0;padding:0}
.figures li{border:1px solid #b8b8b8;border-radius:.4rem;padding:.5rem .75rem}
.figures b{display:block;font-size:1.6rem}
.nodrift{color:#146c2e;font-weight:600}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0}
.filters label{display:flex;flex-direction:column;font-size:.9rem;font-weight:600}
input,select{font:inherit;padding:.25rem .4rem;border:1px solid #767676;border-radius:.25rem}
table{border-collapse:collapse;width:100%}caption{text-align:left;font-weight:600}
th,td{border-bottom:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}td:empty::after{content:"\2014";color:#595959}
thead th{position:sticky;top:0;background:#f0f0f0}
th button{font:inherit;font-weight:600;color:inherit;background:none;border:0;padding:0;
cursor:pointer}
th[aria-sort=ascending] button::after{content:" \25B2"}
th[aria-sort=descending] button::after{content:" \25BC"}
:focus-visible{outline:2px solid #0b57d0;outline-offset:2px}
tr[data-state=new] td:first-child{color:#a50e0e;font-weight:600}
tr[data-state=open] td:first-child{color:#7a4b00;font-weight:600}
tr[data-state=resolved] td:first-child{color:#146c2e;font-weight:600}
"""

_SCRIPT = r"""
(() => {
  "use strict";
  const table = document.getElementById("findings");
  if (!table) return;
  const body = table.tBodies[0], heads = Array.from(table.tHead.rows[0].cells);
  const q = document.getElementById("q"), kind = document.getElementById("kind");
  const state = document.getElementById("state"), count = document.getElementById("count");
  let rows = Array.from(body.rows);
  const text = new Map(rows.map((r) => [r, r.textContent.toLowerCase()]));
  const apply = () => {
    const t = q.value.trim().toLowerCase(), k = kind.value, s = state.value;
    let shown = 0;
    for (const r of rows) {
      const ok = (!k || r.dataset.kind === k) && (!s || r.dataset.state === s)
        && (!t || text.get(r).includes(t));
      r.hidden = !ok;
      shown += ok ? 1 : 0;
    }
    count.textContent = `${shown} of ${rows.length} findings`;
  };
  let timer = 0;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 150); });
  kind.addEventListener("change", apply);
  state.addEventListener("change", apply);
  const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  heads.forEach((th, col) => th.querySelector("button").addEventListener("click", () => {
    const dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    const sign = dir === "ascending" ? 1 : -1;
    heads.forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", dir);
    rows = rows.map((r, i) => [r.cells[col].textContent, i, r])
      .sort((a, b) => sign * collator.compare(a[0], b[0]) || a[1] - b[1]).map((e) => e[2]);
    body.append(...rows);
  }));
  apply();
})();
"""


def _digest(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


# Only this file's own style and script may run: by hash, so a value that got past the escaping
# still could not run a script; nothing may be loaded from anywhere.
CSP = (
    f"default-src 'none'; style-src {_digest(_STYLE)}; script-src {_digest(_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'"
)


def _e(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _write_html(report: DriftReport, out: TextIO) -> None:
    s = report.source
    out.write(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Drift report: {_e(s.export)} and the register, "
        f"{_e(report.generated_at.isoformat(timespec='seconds'))}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<header>\n<h1>Drift report</h1>\n"
    )
    _html_facts(report, out)
    out.write("</header>\n<main>\n")
    _html_summary(report, out)
    # The short sections come before the findings, which can run to many thousand rows.
    _html_row_issues(report, out)
    if report.not_compared:
        out.write(f'<section aria-labelledby="nc">\n<h2 id="nc">{_e(NOT_COMPARED)}</h2>\n<ul>')
        out.writelines(f"<li>{_e(name)}</li>" for name in report.not_compared)
        out.write("</ul>\n</section>\n")
    if report.findings or report.resolved:
        _html_findings(report, out)
    out.write(f"</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def _html_facts(report: DriftReport, out: TextIO) -> None:
    s = report.source
    facts = [
        ("Generated", report.generated_at.isoformat(timespec="seconds")),
        ("Register", f"{s.base_url} ({s.register_assets} assets)"),
        ("CMMS export", f"{s.export} ({s.export_rows} rows, profile {s.profile})"),
        ("Export SHA-256", s.export_sha256),
        ("Compared", ", ".join(report.compared) or "nothing"),
    ]
    if report.previous_generated_at:
        facts.append(("Previous report", report.previous_generated_at))
    out.write("<dl>\n")
    out.writelines(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>\n" for name, value in facts)
    out.write("</dl>\n")


def _html_summary(report: DriftReport, out: TextIO) -> None:
    counts = report.counts()
    labels = {**TITLES, NEW: "New", OPEN: "Still open", RESOLVED: "Resolved"}
    labels["rowIssues"] = "Rows not compared"
    out.write('<section aria-labelledby="sum">\n<h2 id="sum">Summary</h2>\n<ul class="figures">\n')
    out.writelines(f"<li><b>{counts[key]}</b> {_e(label)}</li>\n" for key, label in labels.items())
    out.write("</ul>\n")
    if not report.findings:
        out.write(f'<p class="nodrift">{_e(NO_DRIFT)}</p>\n')
    out.write("</section>\n")


def _html_row_issues(report: DriftReport, out: TextIO) -> None:
    if not report.row_issues:
        return
    out.write(
        '<section aria-labelledby="ri">\n<h2 id="ri">Rows not compared</h2>\n<table>\n'
        "<caption>The export's rows that could not be read: "
        f"{len(report.row_issues)}</caption>\n"
        + _thead(("Line", "Column", "Value", "Reason"), sortable=False)
        + "<tbody>\n"
    )
    for i in report.row_issues:
        out.write(
            f"<tr><td>{i.line}</td><td>{_e(i.column)}</td><td>{_e(i.value)}</td>"
            f"<td>{_e(i.reason)}</td></tr>\n"
        )
    out.write("</tbody>\n</table>\n</section>\n")


def _thead(names: Iterable[str], *, sortable: bool) -> str:
    cells = (f'<button type="button">{n}</button>' if sortable else n for n in names)
    return "<thead><tr>" + "".join(f'<th scope="col">{c}</th>' for c in cells) + "</tr></thead>\n"


def _options(name: str, label: str, values: Iterable[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(t)}</option>' for v, t in values)
    return (
        f'<label for="{name}">{label}<select id="{name}"><option value="">All</option>'
        f"{options}</select></label>\n"
    )


def _html_findings(report: DriftReport, out: TextIO) -> None:
    total = len(report.findings) + len(report.resolved)
    out.write(
        '<section aria-labelledby="fh">\n<h2 id="fh">Findings</h2>\n'
        '<div class="filters" role="search">\n'
        '<label for="q">Filter rows<input id="q" type="search" autocomplete="off"></label>\n'
        + _options("kind", "Kind", ((k, TITLES[k]) for k in KINDS))
        + _options("state", "State", ((st, st) for st in (NEW, OPEN, RESOLVED)))
        + f'<p id="count" role="status">{total} of {total} findings</p>\n</div>\n'
        '<table id="findings">\n<caption>Findings, then those resolved since the previous '
        "report; select a column heading to sort</caption>\n"
        + _thead(("State", "Kind", "Asset key", "Field", "CMMS", "Register"), sortable=True)
        + "<tbody>\n"
    )
    for f in (*report.findings, *report.resolved):
        out.write(
            f'<tr data-kind="{_e(f.kind)}" data-state="{_e(f.state)}"><td>{_e(f.state)}</td>'
            f"<td>{_e(f.kind)}</td><td>{_e(f.asset_key)}</td><td>{_e(f.field)}</td>"
            f"<td>{_e(f.cmms)}</td><td>{_e(f.register)}</td></tr>\n"
        )
    out.write("</tbody>\n</table>\n</section>\n")
