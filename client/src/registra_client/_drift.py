"""The drift check: the register (pulled through API v1 with an ``assets:read`` token) against
a CMMS export read with the import's profile, matched on ``assetKey``.

``Register`` holds what the comparison needs of the register, in compact form (a million
assets fit in a few hundred MB); ``compare`` streams the export against it; ``drift`` does
both for a client and an export file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from registra_client._fields import (
    CALIBRATION,
    KEY,
    REGISTER_COLUMNS,
    duplicate_key_reason,
    same_value,
)
from registra_client._findings import (
    CUSTODY,
    FIELD,
    ONLY_IN_CMMS,
    ONLY_IN_REGISTER,
    READINESS,
    DriftReport,
    Finding,
    Source,
    sort_findings,
)
from registra_client._mapping import MappedRow, Mapper
from registra_client._profile import Profile
from registra_client._readers import read_table
from registra_client._records import Asset, CustodyAssignment, ReadinessAssessment
from registra_client._sync import Client
from registra_client._table import Row, RowIssue

# The mapped fields API v1 shows (an asset's columns and dates; snapshots are not in v1).
COMPARABLE = (*REGISTER_COLUMNS, "status", "commissionedAt")
DECOMMISSIONED = "decommissioned"
Progress = Callable[[str, int], None]


class _Held(NamedTuple):
    """What the comparison needs of one register asset."""

    id: str
    source_kind: str
    status: str
    asset_kind: str
    display_name: str
    description: str
    commissioned_at: datetime | None


class Register:
    """The register as the drift check compares it: its assets by key, each asset's active
    primary holder (a ``user_...`` id) and its latest completed calibration (when performed,
    readiness state). Fill it with ``add_*`` or ``pull``."""

    def __init__(self) -> None:
        self.assets: dict[str, _Held] = {}
        self.holders: dict[str, str] = {}
        self.calibrations: dict[str, tuple[datetime, str]] = {}

    def add_asset(self, a: Asset) -> None:
        """One asset of the register."""
        self.assets[a.asset_key] = _Held(
            a.id,
            a.source_kind,
            a.status,
            a.asset_kind,
            a.display_name,
            a.description,
            a.commissioned_at,
        )

    def add_custody(self, c: CustodyAssignment) -> None:
        """One custody assignment (only an active primary one names the holder)."""
        if c.status == "active" and c.assignment_kind == "primary":
            self.holders[c.asset_id] = c.subject_resource_id

    def add_assessment(self, r: ReadinessAssessment) -> None:
        """One readiness assessment (only a completed calibration counts)."""
        if r.assessment_kind != CALIBRATION or r.status != "completed" or r.performed_at is None:
            return
        known = self.calibrations.get(r.asset_id)
        if known is None or r.performed_at > known[0]:
            self.calibrations[r.asset_id] = (r.performed_at, r.readiness_state)

    @classmethod
    def pull(cls, client: Client, progress: Progress | None = None) -> Register:
        """The whole register through ``client`` (assets, active custody, assessments);
        ``progress(what, records so far)`` is told after each record."""
        register = cls()
        steps: list[tuple[str, Iterable[object], Callable[[object], None]]] = [
            ("assets", client.assets.list(), register.add_asset),  # type: ignore[list-item]
            (
                "custody assignments",
                client.custody_assignments.list(status="active"),
                register.add_custody,  # type: ignore[list-item]
            ),
            (
                "readiness assessments",
                client.readiness_assessments.list(),
                register.add_assessment,  # type: ignore[list-item]
            ),
        ]
        for what, records, add in steps:
            for n, record in enumerate(records, 1):
                add(record)
                if progress:
                    progress(what, n)
        return register


def holders_by_external_id(client: Client) -> dict[str, str]:
    """CMMS holder id -> ``user_...`` id, from the members' external employee ids."""
    return {h.external_employee_id: h.id for h in client.custody_holders.list()}


def read_holder_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """A holder mapping file: CSV with the header ``cmmsHolder,userId`` (CMMS holder id ->
    the member's ``user_...`` id). ``ValueError`` names the line of anything else."""
    import csv

    mapping: dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if header[:2] != ["cmmsHolder", "userId"]:
            raise ValueError(f"{path}: the first line must be the header cmmsHolder,userId")
        for line, row in enumerate(reader, 2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip().startswith("user_"):
                raise ValueError(f"{path} line {line}: expected a CMMS holder id and a user_ id")
            mapping[row[0].strip()] = row[1].strip()
    return mapping


@dataclass
class Comparison:
    """The result of ``compare``: findings (unsorted), unreadable rows, rows read."""

    findings: list[Finding]
    row_issues: list[RowIssue]
    rows: int


class _Comparer:
    def __init__(
        self,
        register: Register,
        profile: Profile,
        mapper: Mapper,
        holders: Mapping[str, str] | None,
        zone: ZoneInfo | None,
    ) -> None:
        self.register, self.profile, self.mapper, self.zone = register, profile, mapper, zone
        self.readers = [(f, self.reader(f)) for f in profile.columns if f in COMPARABLE]
        self.holders = holders if profile.custody is not None else None
        self.by_user = {u: ref for ref, u in (holders or {}).items()}
        self.calibration = profile.calibration is not None
        self.findings: list[Finding] = []
        self.issues: list[RowIssue] = []
        self.seen: dict[str, int] = {}

    def row(self, row: Row) -> None:
        mapped = self.mapper.map(row)
        if isinstance(mapped, list):
            self.issues.extend(mapped)
            # The export names this asset, even though the row can't be read: not missing.
            key = row.values.get(self.profile.key_column, "").strip()
            if key:
                self.seen.setdefault(key, row.line)
            return
        first = self.seen.get(mapped.key)
        if first is not None:
            reason = duplicate_key_reason(first)
            self.issues.append(RowIssue(row.line, self.profile.key_column, mapped.key, reason))
            return
        self.seen[mapped.key] = row.line
        held = self.register.assets.get(mapped.key)
        if held is None:
            name = mapped.fields.get("displayName")
            self.add(ONLY_IN_CMMS, mapped, None, cmms=_text(name) if name else None)
            return
        values = mapped.fields
        for name, read in self.readers:
            ours, theirs = read(held), values.get(name)
            if ours != theirs and not same_value(ours, theirs):
                self.add(FIELD, mapped, held, name, _text(theirs), _text(ours))
        if self.holders is not None:
            self.custody(mapped, held)
        if self.calibration:
            self.readiness(mapped, held)

    def reader(self, name: str) -> Callable[[_Held], object]:
        """How one compared field is read off a register asset, in the mapper's form."""
        if name == "commissionedAt":
            return lambda held: self.day(held.commissioned_at) if held.commissioned_at else None
        return attrgetter(REGISTER_COLUMNS.get(name, name))

    def day(self, at: datetime) -> date:
        assert self.zone is not None, "dates are compared in the organization's time zone"
        return at.astimezone(self.zone).date()

    def custody(self, row: MappedRow, held: _Held) -> None:
        """The CMMS's holder (resolved to a member) against the active primary custody."""
        assert self.holders is not None
        ours = self.register.holders.get(held.id)
        wanted = self.holders.get(row.holder) if row.holder else None
        if wanted == ours and (wanted is not None or not row.holder):
            return  # the same member, or nobody on both sides
        cmms = row.holder
        if row.holder and wanted is None:
            cmms = f"{row.holder} (no such member)"
        register = None
        if ours:
            ref = self.by_user.get(ours)
            register = f"{ref} ({ours})" if ref else ours
        self.add(CUSTODY, row, held, CUSTODY, cmms, register)

    def readiness(self, row: MappedRow, held: _Held) -> None:
        cal = row.calibration
        ours = self.register.calibrations.get(held.id)
        theirs = (cal.performed_on, cal.state) if cal else None
        mine = (self.day(ours[0]), ours[1]) if ours else None
        if theirs == mine:
            return
        cmms = None
        if cal:
            cmms = f"{cal.performed_on.isoformat()} {cal.state}"
            if cal.due_on:
                cmms += f" (due {cal.due_on.isoformat()})"
        register = f"{mine[0].isoformat()} {mine[1]}" if mine else None
        self.add(READINESS, row, held, CALIBRATION, cmms, register)

    def add(
        self,
        kind: str,
        row: MappedRow,
        held: _Held | None,
        field: str | None = None,
        cmms: str | None = None,
        register: str | None = None,
    ) -> None:
        self.findings.append(
            Finding(
                kind,
                row.key,
                field,
                cmms,
                register,
                asset_id=held.id if held else None,
                line=row.line,
            )
        )

    def absent(self) -> None:
        """Register assets the profile keeps (its source kind, not decommissioned) that the
        export does not name, as the import's absent policy sees them."""
        kind, seen = self.profile.source_kind, self.seen
        for key, held in self.register.assets.items():
            if held.source_kind == kind and held.status != DECOMMISSIONED and key not in seen:
                name = held.display_name
                self.findings.append(
                    Finding(ONLY_IN_REGISTER, key, None, None, name, asset_id=held.id)
                )


def compare(
    register: Register,
    rows: Iterable[Row],
    profile: Profile,
    columns: list[str],
    *,
    holders: Mapping[str, str] | None = None,
    zone: ZoneInfo | None = None,
) -> Comparison:
    """Compare the export's ``rows`` (whose header is ``columns``) with ``register``.

    ``holders`` maps the CMMS's holder ids to ``user_...`` ids (custody is compared when the
    profile has custody columns and ``holders`` is given); ``zone`` is the organization's
    time zone, in which the register's timestamps are the CMMS's dates (required when the
    profile maps ``commissionedAt`` or calibrations). ``ProfileError`` if the profile maps a
    column the export lacks."""
    if zone is None and needs_zone(profile):
        raise ValueError("the organization's time zone is needed to compare dates")
    # Only the columns compared are mapped: a snapshot field API v1 does not show would be
    # read and thrown away (a fifth of the time at a million rows).
    compared = {k: c for k, c in profile.columns.items() if k == KEY or k in COMPARABLE}
    mapper = Mapper(replace(profile, columns=compared), columns)
    comparer = _Comparer(register, profile, mapper, holders, zone)
    n = 0
    for n, row in enumerate(rows, 1):  # noqa: B007
        comparer.row(row)
    comparer.absent()
    return Comparison(comparer.findings, comparer.issues, n)


def needs_zone(profile: Profile) -> bool:
    """Whether the comparison has dates, which it reads in the organization's time zone."""
    return profile.calibration is not None or "commissionedAt" in profile.columns


def not_compared(profile: Profile, holders_known: bool) -> list[str]:
    """The profile's mapped fields the drift check cannot compare (API v1 does not show
    snapshots; custody without a way to match holders)."""
    skipped = [f for f in profile.columns if f not in COMPARABLE and f != "assetKey"]
    if profile.custody is not None and not holders_known:
        skipped.append(CUSTODY)
    return skipped


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def drift(
    client: Client,
    export: str | os.PathLike[str],
    profile: Profile,
    *,
    holders: Mapping[str, str] | None = None,
    zone: ZoneInfo | None = None,
    previous: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    base_url: str = "",
) -> DriftReport:
    """The drift check: pull the register through ``client``, read ``export`` with
    ``profile``, compare them. Holders are matched with ``holders`` (CMMS holder id ->
    ``user_...`` id) when given, else by the members' external employee ids (when the
    profile matches holders by external id). ``zone`` is the organization's time zone,
    needed when dates are compared; when it is not given it is asked of the API, which
    needs the ``organization:read`` scope (so pass it with an ``assets:read`` token).
    ``previous`` is the previous run's JSON report: findings are then new, open or
    resolved."""
    if holders is None and profile.custody is not None and profile.custody.match == "external-id":
        holders = holders_by_external_id(client)
    if zone is None and needs_zone(profile):
        zone = ZoneInfo(client.organization.get().timezone)
    register = Register.pull(client, progress)
    with read_table(export, profile) as table:
        result = compare(
            register, _counted(table, progress), profile, table.columns, holders=holders, zone=zone
        )
    report = DriftReport(
        generated_at=datetime.now(UTC),
        source=Source(
            base_url=base_url,
            register_assets=len(register.assets),
            export=Path(export).name,
            export_sha256=sha256_of(export),
            export_rows=result.rows,
            profile=profile.name,
        ),
        findings=sort_findings(result.findings),
        compared=[f for f in profile.columns if f in COMPARABLE]
        + ([CUSTODY] if profile.custody is not None and holders is not None else [])
        + ([CALIBRATION] if profile.calibration is not None else []),
        not_compared=not_compared(profile, holders is not None),
        row_issues=result.row_issues,
    )
    return report.with_previous(previous) if previous is not None else report


def _counted(rows: Iterable[Row], progress: Progress | None) -> Iterator[Row]:
    for n, row in enumerate(rows, 1):
        if progress and n % 1000 == 0:
            progress("export rows", n)
        yield row


def _text(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
