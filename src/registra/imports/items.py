"""The items of a run's plan as a planner collects them: a row's items are held until the row
is planned (a row with a problem drops them for its errors), then numbered in file order and
written a batch at a time. An item is held as its row of values (``COLUMNS``), not as an
``ImportPlanItem``: a large plan has an item for every row of its file."""

from __future__ import annotations

from collections import Counter
from typing import Any

from registra.core import bulk
from registra.imports.choices import ItemKind
from registra.imports.models import ImportPlanItem, ImportRun
from registra.organizations.models import Organization
from registra_client import MappedRow, RowIssue

# An item's values in this order; the planner numbers it (``SEQ``) when its row is planned.
COLUMNS = ("seq", "kind", "line", "asset_key", "asset_id", "detail", "payload")
SEQ, KIND = 0, 1


class PlanItems:
    """The counts and the items of one run's plan, written with ``_flush``."""

    def __init__(self, organization: Organization, run: ImportRun) -> None:
        self.org, self.run = organization, run
        self.counts: Counter[str] = Counter()
        self.rows_with_errors = 0
        self.seq = 0
        self.items: list[list[Any]] = []  # planned, written at the end of the batch
        self.row_items: list[list[Any]] = []  # the current row's, until it is planned

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
            item[SEQ] = self.seq
            self.counts[item[KIND]] += 1
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
        # str(): a plain string, which the bulk insert passes through without a field call.
        self.row_items.append([0, str(kind), line, key, asset_id, detail, payload or {}])

    def _flush(self) -> None:
        scope = (self.org.id, self.run.id)
        rows = [(*scope, *item) for item in self.items]
        bulk.insert_rows(ImportPlanItem, ("organization_id", "run_id", *COLUMNS), rows)
        self.items = []
