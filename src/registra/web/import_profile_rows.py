"""The import profile form's tables (columns, value mappings, defaults, calibration results),
each a formset of rows, and what the form starts from: a new profile's rows, or a stored
profile's values and rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, cast

from django import forms

from registra.assets.choices import ReadinessState
from registra.web.import_profile_text import (
    CALIBRATION,
    CUSTODY,
    DELIMITER_NAMES,
    ENCODINGS,
    KEY_FIELD,
    SOURCE_KIND,
    SPEC_PREFIX,
)
from registra_client import FIELDS

SPECIFICATION = "specifications.*"  # the column table's choice for a named specification
# Blank rows under a table's rows (a new profile gets more); "Add more rows" adds MORE_ROWS.
BLANK_ROWS = {"col": 3, "val": 3, "def": 2, "res": 2}
NEW_PROFILE_ROWS = {"col": 10, "val": 6, "def": 3, "res": 3}
MORE_ROWS = 6
MAX_ROWS = 200


def register_fields() -> list[tuple[str, str]]:
    """The register fields a CMMS column can fill (``registra_client.FIELDS``), but the key."""
    return [(f, f) for f in FIELDS if f != KEY_FIELD]


def text_field(label: str, *, help_text: str = "", max_length: int = 200) -> forms.CharField:
    """An optional text field, as the profile form and its rows have most."""
    return forms.CharField(label=label, required=False, max_length=max_length, help_text=help_text)


def _choose(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, required=False)


class Row(forms.Form):
    """One row of a profile table. A row with nothing typed is no row; in a row with anything
    typed, each field of ``needs`` must be given (its message says so)."""

    needs: ClassVar[dict[str, str]] = {}
    choices: ClassVar[dict[str, list[tuple[str, str]]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, choices in self.choices.items():
            cast(forms.ChoiceField, self.fields[name]).choices = [("", "(none)"), *choices]

    def filled(self) -> bool:
        return any(_typed(self.cleaned_data.get(name)) for name in self.needs)

    def clean(self) -> dict[str, Any]:
        d = super().clean() or {}
        if self.filled():
            for name, message in self.needs.items():
                if not _typed(d.get(name)):
                    self.add_error(name, message)
        return d

    def text(self, name: str) -> str:
        return str(self.cleaned_data.get(name) or "").strip()


def _typed(value: Any) -> bool:
    return bool(value.strip()) if isinstance(value, str) else value not in (None, False)


class ColumnRow(Row):
    """A CMMS column and the register field it fills (a named specification, or one of
    ``FIELDS``), and whether the CMMS owns that field."""

    field = _choose("Register field")
    spec_name = text_field("Specification name", max_length=100)
    column = text_field("CMMS column")
    owned = forms.BooleanField(label="The CMMS owns it", required=False)
    needs = {
        "field": "Choose the register field this column fills.",
        "column": "Give the CMMS column's name, or clear the row.",
    }
    choices = {"field": [*register_fields(), (SPECIFICATION, "specifications.<name> (name it)")]}

    def filled(self) -> bool:
        return super().filled() or bool(self.text("spec_name"))

    def clean(self) -> dict[str, Any]:
        d = super().clean()
        if d.get("field") == SPECIFICATION and not self.text("spec_name"):
            self.add_error("spec_name", "Name the specification.")
        return d

    def target(self) -> str:
        """The register field ("specifications.<name>" for a specification)."""
        if self.cleaned_data.get("field") == SPECIFICATION:
            return SPEC_PREFIX + self.text("spec_name")
        return self.text("field")


class ValueRow(Row):
    """A CMMS value of one field and the register's value for it (In Service -> active)."""

    field = _choose("Field")
    cmms = text_field("CMMS value")
    register = text_field("Register value")
    needs = {
        "field": "Choose the field whose values this maps.",
        "cmms": "Give the value as the CMMS writes it.",
        "register": "Give the register's value for it.",
    }
    choices = {"field": register_fields()}


class DefaultRow(Row):
    """The value a new asset gets where the export has none (assetKind, sourceKind)."""

    field = _choose("Field")
    value = text_field("Value")
    needs = {
        "field": "Choose the field this default is for.",
        "value": "Give the default value, or clear the row.",
    }
    choices = {"field": [*register_fields(), (SOURCE_KIND, SOURCE_KIND)]}


class ResultRow(Row):
    """A CMMS calibration result and the readiness it means (PASS -> ready)."""

    cmms = text_field("CMMS result")
    state = _choose("Readiness")
    needs = {
        "cmms": "Give the result as the CMMS writes it.",
        "state": "Choose the readiness this result means.",
    }
    choices = {"state": [(s, s) for s in ReadinessState.values]}


class Rows(forms.BaseFormSet):  # type: ignore[type-arg]
    """The rows of one of the profile's tables."""

    def filled(self) -> list[Any]:
        return [row for row in self.forms if row.cleaned_data and row.filled()]

    def once(self, key: Callable[[Any], str], field: str, message: str) -> None:
        """Each row's ``key`` at most once: a repeat is its ``field``'s error."""
        seen: set[str] = set()
        for row in self.filled():
            value = key(row)
            if value in seen:
                row.add_error(field, message.format(value=value))
            seen.add(value)


def _rows(row: type[Row]) -> Any:
    return forms.formset_factory(
        row, formset=Rows, extra=0, max_num=MAX_ROWS, absolute_max=MAX_ROWS, validate_max=True
    )


TABLES = {
    "col": _rows(ColumnRow),
    "val": _rows(ValueRow),
    "def": _rows(DefaultRow),
    "res": _rows(ResultRow),
}


# --- what the form starts from -------------------------------------------------------------------

Initial = tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]


def new_profile_initial() -> Initial:
    """A new profile: new assets come from ``cmms-import``, the CMMS owns custody and
    calibration when the profile reads them."""
    rows: dict[str, list[dict[str, Any]]] = {prefix: [] for prefix in TABLES}
    rows["def"] = [{"field": SOURCE_KIND, "value": "cmms-import"}]
    initial = {"dates": "dd.mm.yyyy, yyyy-mm-dd", "custody_owned": True, "calibration_owned": True}
    return initial, rows


def initial_from_definition(d: Mapping[str, Any]) -> Initial:
    """The form's initial values and rows for a stored profile."""
    csv, xlsx = d.get("csv") or {}, d.get("xlsx") or {}
    custody = d.get("custody") or {}
    calibration, schedule = d.get("calibration") or {}, d.get("schedule") or {}
    columns, owned = dict(d.get("columns") or {}), set(d.get("owned_fields") or [])
    encoding = csv.get("encoding", "auto")
    listed = encoding in dict(ENCODINGS)
    initial: dict[str, Any] = {
        **{name: d.get(name) for name in ("name", "format", "source_system", "error_threshold")},
        "absent": d.get("absent", "flag"),
        "dates": ", ".join(d.get("dates") or []),
        "csv_delimiter": DELIMITER_NAMES.get(csv.get("delimiter", "auto"), csv.get("delimiter")),
        "csv_encoding": encoding if listed else "other",
        "csv_encoding_other": "" if listed else encoding,
        "csv_fallback": csv.get("fallback_encoding", "cp1252"),
        "xlsx_sheet": xlsx.get("sheet", ""),
        "xlsx_header_row": xlsx.get("header_row", 1),
        "key_column": columns.pop(KEY_FIELD, ""),
        "custody_column": custody.get("holder_column", ""),
        "custody_match": custody.get("match", "email"),
        "custody_owned": CUSTODY in owned,
        "calibration_last": calibration.get("last_column", ""),
        "calibration_due": calibration.get("due_column", ""),
        "calibration_result": calibration.get("result_column", ""),
        "calibration_owned": CALIBRATION in owned,
        "schedule": ("url" if schedule.get("url") else "folder") if schedule else "off",
        "schedule_time": schedule.get("time", ""),
        "schedule_folder": schedule.get("folder", ""),
        "schedule_pattern": schedule.get("pattern", ""),
        "schedule_url": schedule.get("url", ""),
    }
    values = d.get("values") or {}
    return initial, {
        "col": [_column_row(f, column, f in owned) for f, column in columns.items()],
        "val": [
            {"field": f, "cmms": cmms, "register": value}
            for f, table in values.items()
            for cmms, value in table.items()
        ],
        "def": [{"field": f, "value": v} for f, v in (d.get("defaults") or {}).items()],
        "res": [{"cmms": r, "state": s} for r, s in (calibration.get("results") or {}).items()],
    }


def _column_row(field: str, column: str, owned: bool) -> dict[str, Any]:
    if field.startswith(SPEC_PREFIX):
        name = field[len(SPEC_PREFIX) :]
        return {"field": SPECIFICATION, "spec_name": name, "column": column, "owned": owned}
    return {"field": field, "column": column, "owned": owned}
