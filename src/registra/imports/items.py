"""The items of a run's plan as a planner collects them: a row's items are held until the row
is planned (a row with a problem drops them for its errors), then numbered in file order and
written a batch at a time."""

from __future__ import annotations

from collections import Counter
from typing import Any

from registra.core import bulk
from registra.imports.choices import ItemKind
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations.models import Organization
from registra_client import MappedRow, RowIssue


class PlanItems:
    """The counts and the items of one run's plan, written with ``_flush``."""

    def __init__(self, organization: Organization, run: ImportRun) -> None:
        self.org, self.run = organization, run
        self.counts: Counter[str] = Counter()
        self.rows_with_errors = 0
        self.seq = 0
        self.items: list[ImportPlanItem] = []  # planned, written at the end of the batch
        self.row_items: list[ImportPlanItem] = []  # the current row's, until it is planned

    def _errors(self, line: int, issues: list[RowIssue], *, key: str) -> None:
        """The row is not planned: nothing of it is applied, each of its problems listed."""
        self.rows_with_errors += 1
        self.row_items = []
        for issue in issues:
            self._add(
                ItemKind.ERROR,
                line,
                key.strip()[:200],
                "",
                detail={"column": issue.column, "value": issue.value, "reason": issue.reason},
            )
        self._keep()

    def _planned(self, row: MappedRow) -> None:
        """The row's items join the plan; a row that planned nothing is listed unchanged."""
        if not self.row_items:
            self._add(ItemKind.UNCHANGED, row.line, row.key, "", detail={})
        self._keep()

    def _keep(self) -> None:
        for item in self.row_items:
            self.seq += 1
            item.seq = self.seq
            self.counts[item.kind] += 1
        self.items.extend(self.row_items)
        self.row_items = []

    def _item(
        self,
        kind: str,
        row: MappedRow,
        *,
        asset: Any = None,
        detail: dict[str, Any],
        payload: dict[str, Any] | None = None,
    ) -> None:
        self._add(kind, row.line, row.key, asset.id if asset else "", detail, payload or {})

    def _add(
        self,
        kind: str,
        line: int | None,
        key: str,
        asset_id: str,
        detail: dict[str, Any],
        payload: dict[str, Any] | None = None,
    ) -> None:
        self.row_items.append(
            ImportPlanItem(
                organization_id=self.org.id,
                run_id=self.run.id,
                seq=0,
                kind=kind,
                line=line,
                asset_key=key,
                asset_id=asset_id,
                detail=detail,
                payload=payload or {},
            )
        )

    def _flush(self) -> None:
        bulk.insert_many(ImportPlanItem, self.items)
        self.items = []
