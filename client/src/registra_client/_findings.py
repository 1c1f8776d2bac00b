"""What a drift check found: its findings, their counts, and how they compare with the
previous run's report (new, still open, resolved). The JSON form written here is also what
``--previous`` reads back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from registra_client._table import RowIssue

ONLY_IN_CMMS = "only-in-cmms"
ONLY_IN_REGISTER = "only-in-register"
FIELD = "field"
CUSTODY = "custody"
READINESS = "readiness"
KINDS = (ONLY_IN_CMMS, ONLY_IN_REGISTER, FIELD, CUSTODY, READINESS)
"""The kinds of finding, in the order reports list them."""

NEW, OPEN, RESOLVED = "new", "open", "resolved"
REPORT_FORMAT = "registra-drift/1"


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement between the CMMS export and the register.

    ``kind`` is one of ``KINDS``; ``field`` is the register field that disagrees
    (``displayName``, ``status``..., ``custody`` or ``calibration``; None for an asset on one
    side only); ``cmms`` and ``register`` are each side's value as text (None: that side has
    none); ``line`` is the export's line, ``asset_id`` the register's id, when that side has
    the asset. ``state`` is ``new``, ``open`` (also in the previous report) or ``resolved``
    (in the previous report, not found now)."""

    kind: str
    asset_key: str
    field: str | None = None
    cmms: str | None = None
    register: str | None = None
    asset_id: str | None = None
    line: int | None = None
    state: str = NEW

    @property
    def id(self) -> str:
        """What identifies the finding from one run to the next: kind, key and field (the
        values may change while it stays open)."""
        return f"{self.kind}|{self.asset_key}|{self.field or ''}"

    def to_json(self) -> dict[str, Any]:
        """The finding as the JSON report writes it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "assetKey": self.asset_key,
            "field": self.field,
            "cmms": self.cmms,
            "register": self.register,
            "assetId": self.asset_id,
            "line": self.line,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """A finding of a JSON report."""
        return cls(
            kind=str(data["kind"]),
            asset_key=str(data["assetKey"]),
            field=data.get("field"),
            cmms=data.get("cmms"),
            register=data.get("register"),
            asset_id=data.get("assetId"),
            line=data.get("line"),
            state=str(data.get("state") or NEW),
        )


@dataclass(frozen=True)
class Source:
    """Where each side came from: the API's base URL and the register's size; the export's
    file name, SHA-256, rows read and the profile's name."""

    base_url: str
    register_assets: int
    export: str
    export_sha256: str
    export_rows: int
    profile: str


@dataclass(frozen=True)
class DriftReport:
    """A drift check's result: ``findings`` (new or open, sorted by kind then key then
    field), ``resolved`` (the previous report's findings not found now), the export's rows
    that could not be read (``row_issues``: not compared), the mapped fields compared and
    those API v1 does not show (``not_compared``), and when it ran."""

    generated_at: datetime
    source: Source
    findings: list[Finding]
    compared: list[str]
    not_compared: list[str] = field(default_factory=list)
    row_issues: list[RowIssue] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    previous_generated_at: str | None = None

    @property
    def drift(self) -> bool:
        """Whether anything disagrees (the exit code 1 of ``registra-drift``)."""
        return bool(self.findings)

    def counts(self) -> dict[str, int]:
        """Findings by kind (every kind, zeros too), by state, and in all."""
        by_kind = Counter(f.kind for f in self.findings)
        by_state = Counter(f.state for f in self.findings)
        counts = {kind: by_kind.get(kind, 0) for kind in KINDS}
        counts.update({NEW: by_state.get(NEW, 0), OPEN: by_state.get(OPEN, 0)})
        counts[RESOLVED] = len(self.resolved)
        counts["total"] = len(self.findings)
        counts["rowIssues"] = len(self.row_issues)
        return counts

    def with_previous(self, previous: Mapping[str, Any]) -> DriftReport:
        """This report with each finding marked ``new`` or ``open`` and the previous report's
        findings not found now as ``resolved`` (``previous`` is a JSON report's data)."""
        if previous.get("format") != REPORT_FORMAT:
            raise ValueError(f"not a drift report (its format is not {REPORT_FORMAT!r})")
        before = [Finding.from_json(f) for f in previous.get("findings") or []]
        seen = {f.id for f in before}
        now = {f.id for f in self.findings}
        findings = [replace(f, state=OPEN if f.id in seen else NEW) for f in self.findings]
        resolved = [replace(f, state=RESOLVED) for f in before if f.id not in now]
        return replace(
            self,
            findings=findings,
            resolved=sort_findings(resolved),
            previous_generated_at=previous.get("generatedAt"),
        )

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON data (``registra-drift --format json``)."""
        s = self.source
        return {
            "format": REPORT_FORMAT,
            "generatedAt": self.generated_at.isoformat(timespec="seconds"),
            "previousGeneratedAt": self.previous_generated_at,
            "register": {"baseUrl": s.base_url, "assets": s.register_assets},
            "cmms": {
                "export": s.export,
                "sha256": s.export_sha256,
                "rows": s.export_rows,
                "profile": s.profile,
            },
            "compared": self.compared,
            "notCompared": self.not_compared,
            "summary": self.counts(),
            "findings": [f.to_json() for f in self.findings],
            "resolved": [f.to_json() for f in self.resolved],
            "rowIssues": [
                {"line": i.line, "column": i.column, "value": i.value, "reason": i.reason}
                for i in self.row_issues
            ],
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order: by kind (``KINDS``), key, field."""
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(findings, key=lambda f: (order[f.kind], f.asset_key, f.field or ""))
