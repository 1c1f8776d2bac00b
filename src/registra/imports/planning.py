"""The plan of a run: each mapped row of the file compared with the register.

The file is read and mapped by ``registra_client`` (the same code as the drift check); this
module looks up, one batch of rows at a time, what the register holds for those keys and
writes the plan's items: what apply will write (``payload``) and what the pages show
(``detail``). Memory stays bounded: only the keys seen so far (for duplicates and absent
assets) outlive a batch. Register rules (lengths, key syntax, transitions) are checked here
by the asset services' own validators, so a plan that passes applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from registra.assets import selectors as asset_selectors
from registra.assets import services as asset_services
from registra.assets.choices import ASSET_TRANSITIONS, AssetStatus
from registra.core.audit import jsonable
from registra.imports.choices import ItemKind
from registra.imports.items import PlanItems
from registra.imports.models import ImportRun
from registra.imports.values import (
    COLUMNS,
    SNAPSHOT,
    Holder,
    local_midnight,
    members_by_reference,
    plain,
    put,
    register_value,
    same,
)
from registra.organizations.models import Organization
from registra_client import Calibration, MappedRow, Mapper, Profile, Row, RowIssue
from registra_client._fields import duplicate_key_reason

BATCH_ROWS = 2000
CALIBRATION = "calibration"
CUSTODY = "custody"


class Planner(PlanItems):
    """Writes one run's plan items, a batch of rows at a time (``add``), then the assets
    absent from the file (``finish``). Runs inside the run's transaction."""

    def __init__(
        self,
        organization: Organization,
        profile: Profile,
        run: ImportRun,
        mapper: Mapper,
    ) -> None:
        super().__init__(organization, run)
        self.profile, self.mapper = profile, mapper
        self.zone = organization.zone
        self.today = datetime.now(self.zone).date()
        self.mapped_fields = [f for f in profile.columns if f != "assetKey"]
        self.owned = profile.owned_fields
        self.column_of = dict(profile.columns)
        if profile.custody:
            self.column_of[CUSTODY] = profile.custody.holder_column
            self.holders = members_by_reference(organization, profile.custody.match)
        if profile.calibration:
            self.column_of[CALIBRATION] = profile.calibration.last_column
        self.seen: dict[str, int] = {}
        self.rows = 0

    # --- rows ------------------------------------------------------------------------------

    def add(self, rows: list[Row]) -> None:
        """Plan one batch of the file's rows, keeping their items in file order."""
        entries: list[MappedRow | tuple[int, list[RowIssue], str]] = []
        for row in rows:
            self.rows += 1
            result = self.mapper.map(row)
            if isinstance(result, list):
                key = row.values.get(self.profile.key_column, "")
                # The file names this asset, even though the row can't be used: not absent.
                if key.strip():
                    self.seen.setdefault(key.strip(), row.line)
                entries.append((row.line, result, key))
                continue
            first = self.seen.get(result.key)
            if first is not None:
                reason = duplicate_key_reason(first)
                issue = RowIssue(row.line, self.profile.key_column, result.key, reason)
                entries.append((row.line, [issue], result.key))
                continue
            self.seen[result.key] = row.line
            problem = self._calibration_problem(result)
            entries.append((row.line, [problem], result.key) if problem else result)
        self._plan_batch(entries)
        self._flush()

    def _plan_batch(self, entries: list[MappedRow | tuple[int, list[RowIssue], str]]) -> None:
        rows = [e for e in entries if isinstance(e, MappedRow)]
        assets = asset_selectors.assets_by_keys(self.org, [r.key for r in rows]) if rows else {}
        ids = [a.id for a in assets.values()]
        holders = (
            asset_selectors.active_holders(self.org, ids) if self.profile.custody and ids else {}
        )
        calibrations = (
            asset_selectors.latest_completed(self.org, ids, CALIBRATION)
            if self.profile.calibration and ids
            else {}
        )
        for row in entries:
            if not isinstance(row, MappedRow):
                self._errors(*row[:2], key=row[2])
                continue
            asset = assets.get(row.key)
            if asset is None:
                self._create(row)
            else:
                self._compare(row, asset, holders.get(asset.id), calibrations.get(asset.id))

    def _calibration_problem(self, row: MappedRow) -> RowIssue | None:
        """What the readiness services would refuse in the row's calibration."""
        cal = row.calibration
        if cal is None:
            return None
        column = self.column_of.get(CALIBRATION, CALIBRATION)
        raw = row.source_row.get(column, "")
        if cal.performed_on > self.today:
            return RowIssue(row.line, column, raw, "the calibration date is in the future")
        if cal.due_on is not None and cal.due_on <= cal.performed_on:
            due = self.profile.calibration.due_column if self.profile.calibration else column
            value = row.source_row.get(due or "", "")
            return RowIssue(row.line, due or column, value, "the due date must be after the date")
        return None

    # --- creates ---------------------------------------------------------------------------

    def _create(self, row: MappedRow) -> None:
        spec = self.create_spec(row)
        problems = asset_services.asset_spec_problems(self.org, spec)
        holder = self._holder(row) if row.holder else None
        if isinstance(holder, RowIssue):
            problems.append((CUSTODY, holder.reason))
        if problems:
            self._errors(row.line, [self._issue(row, f, m) for f, m in problems], key=row.key)
            return
        # The page shows a new asset from its payload: the spec is kept once.
        self._item(ItemKind.CREATE, row, detail={}, payload=jsonable(spec))
        if row.calibration:
            self._assessment(row, row.calibration)
        if isinstance(holder, Holder):
            self._handoff(row, holder, before=None)
        self._planned(row)

    def create_spec(self, row: MappedRow) -> dict[str, Any]:
        """The ``asset_bulk_create`` spec for a row whose key the register does not hold."""
        f = row.fields
        snapshot: dict[str, Any] = {k: f[k] for k in SNAPSHOT if f.get(k) is not None}
        for group in ("acquisition", "specifications"):
            values = {
                name.partition(".")[2]: plain(v)
                for name, v in f.items()
                if name.startswith(group + ".") and v is not None
            }
            if values:
                snapshot[group] = values
        commissioned = f.get("commissionedAt")
        return {
            "asset_key": row.key,
            "asset_kind": f.get("assetKind"),
            "display_name": f.get("displayName"),
            "description": f.get("description") or "",
            "source_kind": self.profile.source_kind,
            "status": f.get("status") or AssetStatus.ACTIVE,
            "commissioned_at": (
                local_midnight(commissioned, self.zone) if isinstance(commissioned, date) else None
            ),
            "asset_snapshot": snapshot,
            "source_ref_snapshot": self.source_ref(row),
        }

    def source_ref(self, row: MappedRow) -> dict[str, Any]:
        """The asset's source reference as this run writes it (on create, and on an update
        that changes something: an unchanged row leaves it as it was, so a re-run writes
        nothing)."""
        return {
            "sourceSystem": self.profile.source_system,
            "externalId": row.fields.get("externalId") or row.key,
            "importRunId": self.run.id,
            "lastSyncedAt": jsonable(self.run.created_at),
            "sourceRow": row.source_row,
        }

    # --- updates ---------------------------------------------------------------------------

    def _compare(
        self,
        row: MappedRow,
        asset: Any,
        holder_id: str | None,
        calibration: asset_selectors.CompletedAssessment | None,
    ) -> None:
        if asset.status == AssetStatus.DECOMMISSIONED:
            self._decommissioned(row, asset)
            self._planned(row)
            return
        changes: dict[str, tuple[Any, Any]] = {}
        for field in self.mapped_fields:
            before = register_value(asset, field, self.zone)
            after = row.fields.get(field)
            if same(before, after):
                continue
            if field not in self.owned:
                self._conflict(row, asset, field, before, after)
            elif field != "status":
                changes[field] = (before, after)
        issues = self._status(row, asset)
        if issues or changes:
            problems = [] if issues else self._update(row, asset, changes)
            if issues or problems:
                self._errors(row.line, issues + problems, key=row.key)
                return
        if self.profile.custody and row.holder:
            holder = self._holder(row)
            if isinstance(holder, RowIssue):
                self._errors(row.line, [holder], key=row.key)
                return
            self._custody(row, asset, holder, holder_id)
        if row.calibration:
            self._calibration(row, asset, calibration)
        self._planned(row)

    def _status(self, row: MappedRow, asset: Any) -> list[RowIssue]:
        target = row.fields.get("status")
        if "status" not in self.column_of or not target or target == asset.status:
            return []
        if "status" not in self.owned:
            return []  # reported as a conflict with the other fields
        if target not in ASSET_TRANSITIONS[asset.status]:
            allowed = ", ".join(sorted(ASSET_TRANSITIONS[asset.status]))
            reason = f"the register can't go from {asset.status} to {target} (allowed: {allowed})"
            return [self._issue(row, "status", reason)]
        self._item(
            ItemKind.STATUS,
            row,
            asset=asset,
            detail={"before": {"status": asset.status}, "after": {"status": target}},
            payload={"status": target},
        )
        return []

    def _update(
        self, row: MappedRow, asset: Any, changes: Mapping[str, tuple[Any, Any]]
    ) -> list[RowIssue]:
        if not changes:
            return []
        values = self.update_values(row, asset, changes)
        problems = asset_services.asset_values_problems(values)
        if problems:
            return [self._issue(row, f, m) for f, m in problems]
        self._item(
            ItemKind.UPDATE,
            row,
            asset=asset,
            detail={
                "before": jsonable({f: b for f, (b, _) in changes.items()}),
                "after": jsonable({f: a for f, (_, a) in changes.items()}),
            },
            payload=jsonable(values),
        )
        return []

    def update_values(
        self, row: MappedRow, asset: Any, changes: Mapping[str, tuple[Any, Any]]
    ) -> dict[str, Any]:
        """The ``asset_bulk_update`` changes for ``changes`` (import field -> before, after):
        columns as they are, snapshot fields merged into the asset's snapshot."""
        values: dict[str, Any] = {}
        snapshot = dict(asset.asset_snapshot or {})
        for field, (_, after) in changes.items():
            if field in COLUMNS:
                values[COLUMNS[field]] = after if after is not None else ""
            elif field == "commissionedAt":
                values["commissioned_at"] = local_midnight(after, self.zone) if after else None
            elif field in SNAPSHOT:
                put(snapshot, field, after)
            elif field != "externalId":
                group, _, name = field.partition(".")
                inner = dict(snapshot.get(group) or {})
                put(inner, name, plain(after))
                snapshot[group] = inner
        if snapshot != (asset.asset_snapshot or {}):
            values["asset_snapshot"] = snapshot
        values["source_ref_snapshot"] = self.source_ref(row)
        return values

    def _conflict(self, row: MappedRow, asset: Any, field: str, before: Any, after: Any) -> None:
        self._item(
            ItemKind.CONFLICT,
            row,
            asset=asset,
            detail={
                "field": field,
                "column": self.column_of.get(field, field),
                "register": jsonable(before),
                "cmms": jsonable(after),
                "reason": f"{field} is kept in the register: the profile does not give it to "
                "the CMMS",
            },
        )

    def _decommissioned(self, row: MappedRow, asset: Any) -> None:
        differing = [
            f
            for f in self.mapped_fields
            if not same(register_value(asset, f, self.zone), row.fields.get(f))
        ]
        if differing:
            self._item(
                ItemKind.CONFLICT,
                row,
                asset=asset,
                detail={
                    "field": ", ".join(differing),
                    "column": ", ".join(self.column_of.get(f, f) for f in differing),
                    "reason": "the asset is decommissioned in the register; the import never "
                    "changes a decommissioned asset",
                },
            )

    # --- custody and calibration -----------------------------------------------------------

    def _holder(self, row: MappedRow) -> Holder | RowIssue:
        assert row.holder is not None
        holder = self.holders.get(row.holder)
        match = self.profile.custody.match if self.profile.custody else ""
        if holder is None:
            by = "email" if match == "email" else "external employee id"
            return self._issue(row, CUSTODY, f"no member of the organization has this {by}")
        if not holder.active:
            return self._issue(row, CUSTODY, f"{holder.email} is not an active member")
        return holder

    def _custody(self, row: MappedRow, asset: Any, holder: Holder, holder_id: str | None) -> None:
        if holder.id == holder_id:
            return
        if CUSTODY not in self.owned:
            self._conflict(row, asset, CUSTODY, holder_id, holder.id)
            return
        self._handoff(row, holder, before=holder_id, asset=asset)

    def _handoff(
        self, row: MappedRow, holder: Holder, *, before: str | None, asset: Any = None
    ) -> None:
        self._item(
            ItemKind.HANDOFF,
            row,
            asset=asset,
            detail={"before": {"holder": before}, "after": {"holder": holder.id}},
            payload={"memberId": holder.id, "holderEmail": holder.email},
        )

    def _calibration(
        self,
        row: MappedRow,
        asset: Any,
        latest: asset_selectors.CompletedAssessment | None,
    ) -> None:
        cal = row.calibration
        assert cal is not None
        if latest is not None and latest.performed_at is not None:
            done = latest.performed_at.astimezone(self.zone).date()
            if cal.performed_on < done:
                return  # the register has a later calibration than the CMMS reports
            if cal.performed_on == done:
                due = (
                    latest.valid_until.astimezone(self.zone).date() if latest.valid_until else None
                )
                if (due, latest.readiness_state) != (cal.due_on, cal.state):
                    self._conflict(
                        row,
                        asset,
                        CALIBRATION,
                        {"dueOn": due, "state": latest.readiness_state},
                        {"dueOn": cal.due_on, "state": cal.state},
                    )
                return
        if CALIBRATION not in self.owned:
            self._conflict(row, asset, CALIBRATION, None, {"performedOn": cal.performed_on})
            return
        self._assessment(row, cal, asset=asset)

    def _assessment(self, row: MappedRow, cal: Calibration, *, asset: Any = None) -> None:
        payload = {
            "key": f"{row.key}-cal-{cal.performed_on:%Y%m%d}",
            "performedAt": local_midnight(cal.performed_on, self.zone).isoformat(),
            "validUntil": local_midnight(cal.due_on, self.zone).isoformat() if cal.due_on else None,
            "state": cal.state,
        }
        self._item(
            ItemKind.ASSESSMENT,
            row,
            asset=asset,
            detail={
                "after": {
                    "performedOn": cal.performed_on.isoformat(),
                    "dueOn": cal.due_on.isoformat() if cal.due_on else None,
                    "readinessState": cal.state,
                }
            },
            payload=payload,
        )

    # --- absent assets ---------------------------------------------------------------------

    def finish(self, register: Iterable[tuple[str, str, str]]) -> None:
        """The assets of this source the file did not name (``register``: id, key, status of
        every asset the import keeps, not decommissioned), per the profile's policy."""
        if self.profile.absent == "ignore":
            return
        # Read to the end first: while a stream is read its connection writes nothing.
        absent = [(i, k, status) for i, k, status in register if k not in self.seen]
        for asset_id, key, status in absent:
            inactive = self.profile.absent == "mark-inactive" and status == AssetStatus.ACTIVE
            self._add(
                ItemKind.ABSENT,
                None,
                key,
                asset_id,
                detail={
                    "status": status,
                    "action": "mark inactive" if inactive else "flag for review",
                },
                payload={"status": AssetStatus.INACTIVE} if inactive else {},
            )
            self._keep()
            if len(self.items) >= BATCH_ROWS:
                self._flush()
        self._flush()

    # --- items -----------------------------------------------------------------------------

    def _issue(self, row: MappedRow, field: str, reason: str) -> RowIssue:
        column = self.column_of.get(field, field)
        raw = row.source_row.get(column, "") if column in row.source_row else ""
        return RowIssue(row.line, column, raw[:200], reason)
