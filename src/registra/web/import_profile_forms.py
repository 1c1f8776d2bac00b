"""The import profile as a structured form (not a TOML text box), new or edited.

The form builds the profile's data (``registra_client.profile_from_dict``'s input) from what
was typed; the service checks it (``clean_definition``) and names each problem by its path in
the profile file (``columns.assetKey``), which ``ProfileForm.show_issues`` puts next to the
field the person typed it in. Everything typed is kept on a refusal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from registra.core.errors import RegistraError
from registra.web.forms import ReasonField
from registra.web.import_profile_rows import (
    BLANK_ROWS,
    MORE_ROWS,
    NEW_PROFILE_ROWS,
    SPECIFICATION,
    TABLES,
    Initial,
    Row,
    Rows,
    initial_from_definition,
    new_profile_initial,
    text_field,
)
from registra.web.import_profile_text import (
    ABSENT,
    CALIBRATION,
    CUSTODY,
    DELIMITER_NAMES,
    ENCODINGS,
    FORMATS,
    KEY_FIELD,
    MATCHES,
    SCHEDULES,
)

# A path in the profile file (the service's issues name them) -> the form field it comes from.
PATH_FIELDS = {
    **{name: name for name in ("name", "format", "source_system", "error_threshold")},
    **{name: name for name in ("absent", "dates", "schedule", "reason")},
    "csv": "csv_delimiter",
    "csv.delimiter": "csv_delimiter",
    "csv.encoding": "csv_encoding",
    "csv.fallback_encoding": "csv_fallback",
    "xlsx": "xlsx_sheet",
    "xlsx.sheet": "xlsx_sheet",
    "xlsx.header_row": "xlsx_header_row",
    "columns": "key_column",
    "columns.assetKey": "key_column",
    "custody": "custody_column",
    "custody.holder_column": "custody_column",
    "custody.match": "custody_match",
    "owned_fields.custody": "custody_owned",
    "calibration": "calibration_last",
    "calibration.last_column": "calibration_last",
    "calibration.due_column": "calibration_due",
    "calibration.result_column": "calibration_result",
    "calibration.results": "calibration_result",
    "owned_fields.calibration": "calibration_owned",
    "schedule.time": "schedule_time",
    "schedule.folder": "schedule_folder",
    "schedule.pattern": "schedule_pattern",
    "schedule.url": "schedule_url",
}


def _radios(label: str, choices: list[tuple[str, str]], initial: str) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label, choices=choices, initial=initial, widget=forms.RadioSelect
    )


class ProfileForm(forms.Form):
    """An import profile, new or edited (``definition``: the stored one), and why. Its tables
    (columns, value mappings, defaults, calibration results) are formsets of rows;
    ``more_rows`` shows the form sent again, unchecked, with more blank rows."""

    name = text_field(
        "Name", help_text="Unique in the organization, e.g. AMOS nightly.", max_length=100
    )
    source_system = forms.CharField(
        label="Source system", max_length=100, initial="CMMS", help_text="The CMMS's name."
    )
    format = forms.ChoiceField(label="Format", choices=FORMATS, initial="csv")
    csv_delimiter = forms.CharField(
        label="CSV delimiter",
        required=False,
        strip=False,  # a space is a delimiter
        max_length=8,
        initial="auto",
        help_text="auto (detected), or the one character between cells: ; , | or tab.",
    )
    csv_encoding = forms.ChoiceField(label="CSV encoding", choices=ENCODINGS, initial="auto")
    csv_encoding_other = text_field(
        "Other encoding", help_text="With “Other”: a codec name, e.g. latin-1.", max_length=40
    )
    csv_fallback = forms.CharField(
        label="Fallback encoding",
        max_length=40,
        initial="cp1252",
        help_text="What a file that is not UTF-8 is read as.",
    )
    xlsx_sheet = text_field(
        "XLSX sheet", help_text="Its name; empty: the first sheet.", max_length=100
    )
    xlsx_header_row = forms.IntegerField(label="XLSX header row", min_value=1, initial=1)
    dates = text_field(
        "Date formats",
        help_text="Comma-separated, tried in order, then ISO; e.g. dd.mm.yyyy, yyyy-mm-dd.",
        max_length=300,
    )
    key_column = text_field(
        "Key column (assetKey)", help_text="The CMMS column holding each asset's register key."
    )
    custody_column = text_field(
        "Holder column", help_text="Empty: the import leaves custody alone."
    )
    custody_match = _radios("Match the holder by", MATCHES, "email")
    custody_owned = forms.BooleanField(label="The CMMS owns custody", required=False)
    calibration_last = text_field(
        "Last calibration date column", help_text="Empty: the import records no calibration."
    )
    calibration_due = text_field("Due date column")
    calibration_result = text_field(
        "Result column", help_text="Empty: every calibration the CMMS reports is ready."
    )
    calibration_owned = forms.BooleanField(label="The CMMS owns calibration", required=False)
    absent = _radios("What happens to them", ABSENT, "flag")
    schedule = _radios("Runs", SCHEDULES, "off")
    schedule_time = forms.TimeField(
        label="Local time",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    schedule_folder = text_field("Drop folder", help_text="A folder on the server.", max_length=500)
    schedule_pattern = text_field(
        "File name pattern", help_text="e.g. amos-*.csv; empty: any file.", max_length=200
    )
    schedule_url = text_field("URL", help_text="http:// or https://", max_length=1000)
    error_threshold = forms.IntegerField(
        label="Error threshold",
        min_value=0,
        initial=0,
        help_text="A nightly run applies on its own when at most this many rows have errors; "
        "otherwise it waits for review.",
    )
    reason = ReasonField()

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        *,
        definition: Mapping[str, Any] | None = None,
        more_rows: bool = False,
    ) -> None:
        if more_rows and data is not None:
            initial, rows = _as_typed(ProfileForm(data, definition=definition))
            data, blanks = None, dict.fromkeys(TABLES, MORE_ROWS)
        elif definition is not None:
            (initial, rows), blanks = initial_from_definition(definition), BLANK_ROWS
        else:
            (initial, rows), blanks = new_profile_initial(), NEW_PROFILE_ROWS
        super().__init__(data, initial=initial)
        # A bound table reads only what was sent: with initial rows, a row sent as it was
        # shown would count as untouched, and be left out.
        self.tables: dict[str, Rows] = {
            prefix: table(
                data, prefix=prefix, initial=None if data else rows[prefix] + [{}] * blanks[prefix]
            )
            for prefix, table in TABLES.items()
        }

    @property
    def columns(self) -> Rows:
        return self.tables["col"]

    @property
    def values(self) -> Rows:
        return self.tables["val"]

    @property
    def defaults(self) -> Rows:
        return self.tables["def"]

    @property
    def results(self) -> Rows:
        return self.tables["res"]

    def is_valid(self) -> bool:
        tables = [table.is_valid() for table in self.tables.values()]  # every error at once
        if all(tables):
            self.columns.once(lambda r: r.target(), "field", "{value} is mapped twice.")
            self.values.once(
                lambda r: f"{r.text('field')}={r.text('cmms')}",
                "cmms",
                "This value is mapped twice.",
            )
            self.defaults.once(lambda r: r.text("field"), "field", "{value} has two defaults.")
            self.results.once(lambda r: r.text("cmms"), "cmms", "{value} is mapped twice.")
        return super().is_valid() and all(t.is_valid() for t in self.tables.values())

    def error_count(self) -> int:
        return len(self.errors) + sum(t.total_error_count() for t in self.tables.values())

    def clean_csv_delimiter(self) -> str:
        raw = str(self.cleaned_data.get("csv_delimiter") or "")
        if raw in DELIMITER_NAMES:  # a tab or a space, typed as itself
            return raw
        word = raw.strip()
        named = {"tab": "\t", "\\t": "\t", "space": " ", "": "auto"}
        return named.get(word.lower(), word)

    def clean_schedule_time(self) -> str:
        at = self.cleaned_data.get("schedule_time")
        return at.strftime("%H:%M") if at else ""

    # --- what was typed, as a profile -----------------------------------------------------------

    def definition(self) -> dict[str, Any]:
        """The profile as ``registra_client.profile_from_dict`` reads it (a table left empty
        is None: not in the profile)."""
        d = self.cleaned_data
        columns = {row.target(): row.text("column") for row in self.columns.filled()}
        if d["key_column"].strip():
            columns = {KEY_FIELD: d["key_column"].strip(), **columns}
        return {
            "name": d["name"].strip(),
            "format": d["format"],
            "source_system": d["source_system"].strip(),
            "error_threshold": d["error_threshold"],
            "absent": d["absent"],
            "owned_fields": self._owned(),
            "dates": [t.strip() for t in d["dates"].split(",") if t.strip()] or None,
            "csv": {
                "delimiter": d["csv_delimiter"],
                "encoding": d["csv_encoding_other"].strip()
                if d["csv_encoding"] == "other"
                else d["csv_encoding"],
                "fallback_encoding": d["csv_fallback"].strip(),
            },
            "xlsx": {"sheet": d["xlsx_sheet"].strip() or None, "header_row": d["xlsx_header_row"]},
            "columns": columns,
            "values": self._values(),
            "defaults": {r.text("field"): r.text("value") for r in self.defaults.filled()},
            "custody": self._custody(),
            "calibration": self._calibration(),
            "schedule": self._schedule(),
        }

    def _owned(self) -> list[str]:
        owned = [row.target() for row in self.columns.filled() if row.cleaned_data["owned"]]
        return owned + [n for n in (CUSTODY, CALIBRATION) if self.cleaned_data[f"{n}_owned"]]

    def _values(self) -> dict[str, dict[str, str]]:
        values: dict[str, dict[str, str]] = {}
        for row in self.values.filled():
            values.setdefault(row.text("field"), {})[row.text("cmms")] = row.text("register")
        return values

    def _custody(self) -> dict[str, Any] | None:
        column = self.cleaned_data["custody_column"].strip()
        return (
            {"holder_column": column, "match": self.cleaned_data["custody_match"]}
            if column
            else None
        )

    def _calibration(self) -> dict[str, Any] | None:
        d = self.cleaned_data
        columns = {
            "last_column": d["calibration_last"].strip() or None,
            "due_column": d["calibration_due"].strip() or None,
            "result_column": d["calibration_result"].strip() or None,
        }
        results = {row.text("cmms"): row.text("state") for row in self.results.filled()}
        if not any(columns.values()) and not results:
            return None
        return {**columns, "results": results or None}

    def _schedule(self) -> dict[str, Any] | None:
        d = self.cleaned_data
        if d["schedule"] == "folder":
            folder, pattern = d["schedule_folder"].strip(), d["schedule_pattern"].strip()
            return {
                "time": d["schedule_time"],
                "folder": folder or None,
                "pattern": pattern or None,
            }
        if d["schedule"] == "url":
            return {"time": d["schedule_time"], "url": d["schedule_url"].strip() or None}
        return None

    # --- the service's refusal, next to the fields -------------------------------------------

    def show_issues(self, exc: RegistraError) -> None:
        """Each of the refusal's issues next to the field it was typed in (by its path in the
        profile file), the rest at the top."""
        for issue in exc.issues or []:
            path = str((issue.get("path") or [""])[0])
            message = str(issue.get("message", "is not valid"))
            if not self._place(path, message):
                self.add_error(None, f"{path}: {message}" if path else message)
        if not exc.issues:
            self.add_error(None, exc.message)

    def _place(self, path: str, message: str) -> bool:
        name = PATH_FIELDS.get(path) or ("dates" if path.startswith("dates.") else None)
        if name == "csv_encoding" and self.cleaned_data.get("csv_encoding") == "other":
            name = "csv_encoding_other"
        if name is not None:
            self.add_error(name, message)
            return True
        for row, field in self._rows_of(path, message.startswith("unknown field")):
            row.add_error(field, message)
            return True
        return False

    def _rows_of(self, path: str, about_field: bool) -> list[tuple[Row, str]]:
        """The rows (and their field) a path names: ``columns.<field>``, ``owned_fields.
        <field>``, ``values.<field>[.<CMMS value>]``, ``defaults.<field>``,
        ``calibration.results.<result>``."""
        found: list[tuple[Row, str]] = []
        for row in self.columns.filled():
            spec = row.cleaned_data["field"] == SPECIFICATION
            if path == f"columns.{row.target()}":
                found.append((row, ("spec_name" if spec else "field") if about_field else "column"))
            elif path == f"owned_fields.{row.target()}":
                found.append((row, "owned"))
        for row in self.values.filled():
            if path == f"values.{row.text('field')}.{row.text('cmms')}":
                found.append((row, "register"))
            elif path == f"values.{row.text('field')}":
                found.append((row, "field"))
        for row in self.defaults.filled():
            if path == f"defaults.{row.text('field')}":
                found.append((row, "field" if about_field else "value"))
        for row in self.results.filled():
            if path == f"calibration.results.{row.text('cmms')}":
                found.append((row, "state"))
        return found


def _as_typed(form: ProfileForm) -> Initial:
    """What was typed into the bound ``form``, as initial values and rows (nothing checked)."""
    initial = {name: form[name].value() for name in form.fields}
    rows = {
        prefix: [{name: row[name].value() for name in row.fields} for row in table.forms]
        for prefix, table in form.tables.items()
    }
    return initial, rows
