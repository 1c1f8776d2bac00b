"""The CMMS import's forms: a file uploaded to plan it, a profile file (TOML) to import, the
run page's plan filter, and the import profile as a structured form (not a TOML text box).

The profile form builds the profile's data (``registra_client.profile_from_dict``'s input)
from what was typed; the service checks it (``clean_definition``) and names each problem by its
path in the profile file (``columns.assetKey``), which ``ProfileForm.show_issues`` puts next to
the field the person typed it in. Everything typed is kept on a refusal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from registra.assets.choices import ReadinessState
from registra.core.errors import RegistraError
from registra.imports.choices import ItemKind
from registra.web.forms import ReasonField
from registra_client import FIELDS, ProfileError, loads_profile, profile_to_dict

PROFILE_FILE_MAX_BYTES = 256 * 1024
MB = 1024 * 1024


def upload_limit_bytes() -> int:
    return int(settings.REGISTRA_IMPORT_MAX_UPLOAD_MB) * MB


def _size(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= MB else f"{n / 1024:.0f} KiB"


class RunUploadForm(forms.Form):
    """A CMMS export to plan with a profile (a preview: nothing changes), and why."""

    file = forms.FileField(label="CMMS export file", required=False)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        endings = settings.REGISTRA_IMPORT_EXTENSIONS
        self.fields["file"].help_text = (
            f"{', '.join(endings)}; at most {_size(upload_limit_bytes())}. The plan is shown "
            "for review: nothing changes in the register until it is applied."
        )
        self.fields["file"].widget.attrs["accept"] = ",".join(endings)

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError("Choose the CMMS export file to plan.")
        ending = Path(upload.name or "").suffix.lower()
        if ending not in settings.REGISTRA_IMPORT_EXTENSIONS:
            accepted = ", ".join(settings.REGISTRA_IMPORT_EXTENSIONS)
            shown = ending or "(nothing)"
            raise forms.ValidationError(
                f"A file ending in {shown} is not accepted: use {accepted}."
            )
        if (upload.size or 0) > upload_limit_bytes():
            raise forms.ValidationError(
                f"The file is {_size(upload.size or 0)}: at most {_size(upload_limit_bytes())} "
                "is accepted here (operators run larger files with `registra import run`)."
            )
        return upload


def _profile_of(text: str) -> dict[str, Any]:
    """The profile in a TOML file's text, as the service takes it; every problem (by its path
    in the file) as the field's errors."""
    try:
        return profile_to_dict(loads_profile(text))
    except ProfileError as exc:
        problems = [f"{path}: {message}" if path else message for path, message in exc.issues]
        raise forms.ValidationError(problems) from None


class ProfileFileForm(forms.Form):
    """A profile file (TOML) to create a profile from, and why; ``cleaned_data`` holds the
    file's ``text`` and its ``definition``."""

    file = forms.FileField(label="Profile file (TOML)", required=False)
    reason = ReasonField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = _size(PROFILE_FILE_MAX_BYTES)
        self.fields["file"].help_text = f"A .toml file as “Export” downloads it; at most {limit}."
        self.fields["file"].widget.attrs["accept"] = ".toml"

    def clean_file(self) -> str:
        upload: UploadedFile | None = self.cleaned_data.get("file")
        if upload is None:
            raise forms.ValidationError("Choose the profile file (.toml).")
        if Path(upload.name or "").suffix.lower() != ".toml":
            raise forms.ValidationError("A profile file ends in .toml.")
        if (upload.size or 0) > PROFILE_FILE_MAX_BYTES:
            limit = _size(PROFILE_FILE_MAX_BYTES)
            raise forms.ValidationError(f"A profile file is at most {limit}.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text: is it a TOML file?") from None
        self.cleaned_data["definition"] = _profile_of(text)
        self.cleaned_data["text"] = text
        return text


class ReplaceProfileForm(forms.Form):
    """The second step of importing a file that names an existing profile: replace it. The
    file comes back as text in a hidden field (nothing is uploaded twice), with the reason."""

    text = forms.CharField(widget=forms.HiddenInput, max_length=PROFILE_FILE_MAX_BYTES, strip=False)
    reason = ReasonField()

    def clean_text(self) -> str:
        text = str(self.cleaned_data["text"])
        self.cleaned_data["definition"] = _profile_of(text)
        return text


class PlanQuery(forms.Form):
    """The run page's plan filter and position, as the URL carries them."""

    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "All items"), *ItemKind.choices]
    )
    q = forms.CharField(label="Asset key starts with", required=False, max_length=200)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


# --- the profile form's tables -------------------------------------------------------------------

KEY_FIELD, SOURCE_KIND, SPEC_PREFIX = "assetKey", "sourceKind", "specifications."
SPECIFICATION = "specifications.*"  # the column table's choice for a named specification
CUSTODY, CALIBRATION = "custody", "calibration"
# Blank rows under a table's rows (a new profile gets more); "Add more rows" adds MORE_ROWS.
BLANK_ROWS = {"col": 3, "val": 3, "def": 2, "res": 2}
NEW_PROFILE_ROWS = {"col": 10, "val": 6, "def": 3, "res": 3}
MORE_ROWS = 6
MAX_ROWS = 200


def register_fields() -> list[tuple[str, str]]:
    """The register fields a CMMS column can fill (``registra_client.FIELDS``), but the key."""
    return [(f, f) for f in FIELDS if f != KEY_FIELD]


def _text(label: str, *, help_text: str = "", max_length: int = 200) -> forms.CharField:
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
    spec_name = _text("Specification name", max_length=100)
    column = _text("CMMS column")
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
    cmms = _text("CMMS value")
    register = _text("Register value")
    needs = {
        "field": "Choose the field whose values this maps.",
        "cmms": "Give the value as the CMMS writes it.",
        "register": "Give the register's value for it.",
    }
    choices = {"field": register_fields()}


class DefaultRow(Row):
    """The value a new asset gets where the export has none (assetKind, sourceKind)."""

    field = _choose("Field")
    value = _text("Value")
    needs = {
        "field": "Choose the field this default is for.",
        "value": "Give the default value, or clear the row.",
    }
    choices = {"field": [*register_fields(), (SOURCE_KIND, SOURCE_KIND)]}


class ResultRow(Row):
    """A CMMS calibration result and the readiness it means (PASS -> ready)."""

    cmms = _text("CMMS result")
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


# --- the profile form --------------------------------------------------------------------------

FORMATS = [("csv", "CSV"), ("jsonl", "JSON Lines"), ("xlsx", "XLSX")]
ENCODINGS = [
    ("auto", "Detect (a byte order mark, else UTF-8, else the fallback)"),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252 (cp1252)"),
    ("other", "Other"),
]
MATCHES = [("email", "Member email"), ("external-id", "External employee id of the member")]
ABSENT = [
    ("ignore", "Ignore them"),
    ("mark-inactive", "Mark them inactive"),
    ("flag", "Flag them for review (listed in the plan)"),
]
SCHEDULES = [
    ("off", "Off: only when someone uploads a file"),
    ("folder", "Nightly, the newest file in a drop folder on the server"),
    ("url", "Nightly, the file at an HTTP(S) URL"),
]
DELIMITER_NAMES = {"\t": "tab", " ": "space"}
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

    name = _text("Name", help_text="Unique in the organization, e.g. AMOS nightly.", max_length=100)
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
    csv_encoding_other = _text(
        "Other encoding", help_text="With “Other”: a codec name, e.g. latin-1.", max_length=40
    )
    csv_fallback = forms.CharField(
        label="Fallback encoding",
        max_length=40,
        initial="cp1252",
        help_text="What a file that is not UTF-8 is read as.",
    )
    xlsx_sheet = _text("XLSX sheet", help_text="Its name; empty: the first sheet.", max_length=100)
    xlsx_header_row = forms.IntegerField(label="XLSX header row", min_value=1, initial=1)
    dates = _text(
        "Date formats",
        help_text="Comma-separated, tried in order, then ISO; e.g. dd.mm.yyyy, yyyy-mm-dd.",
        max_length=300,
    )
    key_column = _text(
        "Key column (assetKey)", help_text="The CMMS column holding each asset's register key."
    )
    custody_column = _text("Holder column", help_text="Empty: the import leaves custody alone.")
    custody_match = _radios("Match the holder by", MATCHES, "email")
    custody_owned = forms.BooleanField(label="The CMMS owns custody", required=False)
    calibration_last = _text(
        "Last calibration date column", help_text="Empty: the import records no calibration."
    )
    calibration_due = _text("Due date column")
    calibration_result = _text(
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
    schedule_folder = _text("Drop folder", help_text="A folder on the server.", max_length=500)
    schedule_pattern = _text(
        "File name pattern", help_text="e.g. amos-*.csv; empty: any file.", max_length=200
    )
    schedule_url = _text("URL", help_text="http:// or https://", max_length=1000)
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


Initial = tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]


def _as_typed(form: ProfileForm) -> Initial:
    """What was typed into the bound ``form``, as initial values and rows (nothing checked)."""
    initial = {name: form[name].value() for name in form.fields}
    rows = {
        prefix: [{name: row[name].value() for name in row.fields} for row in table.forms]
        for prefix, table in form.tables.items()
    }
    return initial, rows


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


# --- a stored profile in words -----------------------------------------------------------------


def profile_summary(d: Mapping[str, Any], zone: str) -> dict[str, Any]:
    """A stored profile as its pages say it: ``format``, ``schedule`` and (label, text)
    ``entries``."""
    return {"format": format_text(d), "schedule": schedule_text(d, zone), "entries": _entries(d)}


def format_text(d: Mapping[str, Any]) -> str:
    """ "CSV (delimiter ;, encoding auto, fallback cp1252)", "JSON Lines"..."""
    name = dict(FORMATS).get(d.get("format", ""), str(d.get("format")))
    csv, xlsx = d.get("csv") or {}, d.get("xlsx") or {}
    if d.get("format") == "csv":
        delimiter = DELIMITER_NAMES.get(csv.get("delimiter", "auto"), csv.get("delimiter"))
        encoding, fallback = csv.get("encoding"), csv.get("fallback_encoding")
        return f"{name} (delimiter {delimiter}, encoding {encoding}, fallback {fallback})"
    if d.get("format") == "xlsx":
        sheet = xlsx.get("sheet") or "the first"
        return f"{name} (sheet {sheet}, header row {xlsx.get('header_row', 1)})"
    return name


def schedule_text(d: Mapping[str, Any], zone: str) -> str:
    """ "nightly at 02:30 (Europe/Berlin) from ...", or "no schedule"."""
    schedule = d.get("schedule")
    if not schedule:
        return "no schedule"
    if schedule.get("url"):
        source = f"from {schedule['url']}"
    else:
        source = f"from the folder {schedule.get('folder')} ({schedule.get('pattern', '*')})"
    return f"nightly at {schedule.get('time')} ({zone}) {source}"


def _joined(parts: list[str]) -> str:
    return "; ".join(parts) or "—"


def _entries(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    columns = dict(d.get("columns") or {})
    key = columns.pop(KEY_FIELD, "")
    values = d.get("values") or {}
    custody = d.get("custody")
    matched = dict(MATCHES).get(custody["match"], "").lower() if custody else ""
    owned = ", ".join(d.get("owned_fields") or [])
    return [
        ("Source system", str(d.get("source_system", ""))),
        ("Key column (assetKey)", key),
        ("Columns", _joined([f"{c} → {f}" for f, c in columns.items()])),
        (
            "Value mappings",
            _joined([f"{f}: {c} → {v}" for f, t in values.items() for c, v in t.items()]),
        ),
        ("Defaults", _joined([f"{f} = {v}" for f, v in (d.get("defaults") or {}).items()])),
        ("Date formats", ", ".join(d.get("dates") or []) or "—"),
        (
            "Custody",
            f"holder in {custody['holder_column']}, by {matched}" if custody else "not imported",
        ),
        ("Calibration", _calibration_text(d.get("calibration"))),
        (
            "Missing from the file",
            dict(ABSENT).get(d.get("absent", ""), "") + "; never decommissioned",
        ),
        ("The CMMS owns", owned or "nothing: every difference is a conflict"),
        ("Error threshold", str(d.get("error_threshold", 0))),
    ]


def _calibration_text(calibration: Mapping[str, Any] | None) -> str:
    if not calibration:
        return "not imported"
    parts = [f"last in {calibration['last_column']}"]
    if calibration.get("due_column"):
        parts.append(f"due in {calibration['due_column']}")
    if calibration.get("result_column"):
        results = ", ".join(f"{r} → {s}" for r, s in (calibration.get("results") or {}).items())
        parts.append(f"result in {calibration['result_column']} ({results})")
    return ", ".join(parts)
