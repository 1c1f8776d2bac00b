"""The import profile: what a CMMS export looks like and how its columns map to the register.

A profile is a TOML file (``examples/cmms-profile.toml`` documents every key) or the same data
as a dictionary (the server keeps it as JSON). ``profile_from_dict`` checks all of it and
reports every problem at once, each by its path in the file (``columns.assetKey``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from registra_client import _checks as ck
from registra_client._fields import CALIBRATION, CUSTODY, DEFAULT_SOURCE_KIND, KEY, SOURCE_KIND

FORMATS = ("csv", "jsonl", "xlsx")
ABSENT_POLICIES = ("ignore", "mark-inactive", "flag")
HOLDER_MATCHES = ("email", "external-id")


@dataclass(frozen=True)
class CsvOptions:
    """How a CSV export is decoded and split: ``auto`` detects (see ``read_table``)."""

    delimiter: str = "auto"
    encoding: str = "auto"
    fallback_encoding: str = "cp1252"


@dataclass(frozen=True)
class XlsxOptions:
    """Which sheet of a workbook holds the export (None: the first) and its header row."""

    sheet: str | None = None
    header_row: int = 1


@dataclass(frozen=True)
class CustodyColumns:
    """The column naming each asset's holder, matched to a member by ``email`` or by the
    ``external-id`` (employee id) recorded on the member."""

    holder_column: str
    match: str


@dataclass(frozen=True)
class CalibrationColumns:
    """The columns of the last calibration: its date, due date and result. ``results`` maps
    the CMMS's results to readiness states; without a result column a calibration is ready."""

    last_column: str
    due_column: str | None = None
    result_column: str | None = None
    results: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """A nightly run at ``time`` (HH:MM, the organization's time zone) of the newest file in
    ``folder`` matching ``pattern``, or of the file at ``url``."""

    time: str
    folder: str | None = None
    pattern: str = "*"
    url: str | None = None


@dataclass(frozen=True)
class Profile:
    """An import profile (see the module docstring). ``owned_fields`` are the fields the CMMS
    owns (``custody`` and ``calibration`` included): the import never overwrites any other, it
    reports a disagreement as a conflict. ``dates`` are tried in order, then ISO."""

    name: str
    format: str
    columns: dict[str, str]
    source_system: str = "CMMS"
    error_threshold: int = 0
    absent: str = "flag"
    owned_fields: frozenset[str] = frozenset()
    dates: tuple[str, ...] = ("yyyy-mm-dd",)
    csv: CsvOptions = CsvOptions()
    xlsx: XlsxOptions = XlsxOptions()
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    custody: CustodyColumns | None = None
    calibration: CalibrationColumns | None = None
    schedule: Schedule | None = None

    @property
    def key_column(self) -> str:
        """The CMMS column that holds the asset key."""
        return self.columns[KEY]

    @property
    def source_kind(self) -> str:
        """The source kind of the assets this profile keeps: what its imports create, and
        the assets its absent policy and the drift check look at (``defaults.sourceKind``,
        else ``cmms-import``)."""
        return self.defaults.get(SOURCE_KIND, "").strip() or DEFAULT_SOURCE_KIND


class ProfileError(Exception):
    """A profile, or a file's columns, that the import cannot use. ``issues`` lists every
    problem as (path in the profile file, message)."""

    def __init__(self, issues: Iterable[tuple[str, str]]) -> None:
        self.issues: list[tuple[str, str]] = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(f"{path}: {message}" if path else message for path, message in self.issues)


_TOP = (
    *("name", "format", "source_system", "error_threshold", "absent", "owned_fields", "dates"),
    *("csv", "xlsx", "columns", "values", "defaults", "custody", "calibration", "schedule"),
)


def loads_profile(text: str) -> Profile:
    """The profile in the TOML ``text``; ``ProfileError`` lists every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([("", f"not valid TOML: {exc}")]) from None
    return profile_from_dict(data)


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """The profile in the TOML file at ``path`` (UTF-8)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProfileError([("", f"the profile file is not UTF-8 text ({exc.reason})")]) from None
    return loads_profile(text)


def dump_profile(profile: Profile) -> str:
    """The profile as a TOML file that ``loads_profile`` reads back to an equal profile."""
    return f"# Registra import profile {profile.name!r}\n" + tomli_w.dumps(profile_to_dict(profile))


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The profile as plain data (TOML- and JSON-safe); absent tables and keys are left out."""
    data: dict[str, Any] = {
        "name": profile.name,
        "format": profile.format,
        "source_system": profile.source_system,
        "error_threshold": profile.error_threshold,
        "absent": profile.absent,
        "owned_fields": sorted(profile.owned_fields),
        "dates": list(profile.dates),
        "csv": _plain(profile.csv),
        "xlsx": _plain(profile.xlsx),
        "columns": dict(profile.columns),
        "values": {f: dict(m) for f, m in profile.values.items()},
        "defaults": dict(profile.defaults),
    }
    for name in ("custody", "calibration", "schedule"):
        table = getattr(profile, name)
        if table is not None:
            data[name] = _plain(table)
    if profile.schedule and profile.schedule.url:
        del data["schedule"]["pattern"]  # a pattern picks a file in a folder
    return data


def _plain(table: object) -> dict[str, Any]:
    return {
        k: dict(v) if isinstance(v, dict) else v for k, v in vars(table).items() if v is not None
    }


def profile_from_dict(data: Mapping[str, Any]) -> Profile:
    """The profile in ``data`` (a parsed TOML file, or ``profile_to_dict``'s result);
    ``ProfileError`` lists every problem. A None value is the same as a missing key."""
    c = ck.Checker()
    top = c.table(data, "", _TOP)
    columns = ck.columns(c, top.get("columns"))
    custody = _custody(c, top.get("custody"))
    calibration = _calibration(c, top.get("calibration"))
    dates = ck.date_formats(c, top.get("dates"))
    profile = Profile(
        name=c.text(top, "name", "", max_length=100),
        format=c.choice(top, "format", "", FORMATS),
        columns=columns,
        source_system=c.text(top, "source_system", "", default="CMMS", max_length=100),
        error_threshold=c.integer(top, "error_threshold", "", default=0, minimum=0),
        absent=c.choice(top, "absent", "", ABSENT_POLICIES, default="flag"),
        owned_fields=ck.owned_fields(c, top.get("owned_fields"), columns, custody, calibration),
        dates=dates[0],
        csv=_csv(c, top.get("csv")),
        xlsx=_xlsx(c, top.get("xlsx")),
        values=ck.value_maps(c, top.get("values"), columns, dates),
        defaults=ck.defaults(c, top.get("defaults"), dates),
        custody=custody,
        calibration=calibration,
        schedule=_schedule(c, top.get("schedule")),
    )
    if c.issues:
        raise ProfileError(c.issues)
    return profile


def _csv(c: ck.Checker, data: Any) -> CsvOptions:
    t = c.table(data, "csv", ("delimiter", "encoding", "fallback_encoding"))
    delimiter = t.get("delimiter", "auto")  # not stripped: a space or a tab is a delimiter
    if not isinstance(delimiter, str) or (
        delimiter != "auto" and (len(delimiter) != 1 or delimiter in '"\r\n')
    ):
        c.add("csv.delimiter", f"{delimiter!r} is not one character (or auto): try ; , | or \\t")
        delimiter = "auto"
    encoding = c.text(t, "encoding", "csv", default="auto")
    if encoding != "auto":
        ck.codec(c, "csv.encoding", encoding)
    fallback = c.text(t, "fallback_encoding", "csv", default="cp1252")
    ck.codec(c, "csv.fallback_encoding", fallback)
    return CsvOptions(delimiter, encoding, fallback)


def _xlsx(c: ck.Checker, data: Any) -> XlsxOptions:
    t = c.table(data, "xlsx", ("sheet", "header_row"))
    sheet = c.maybe_text(t, "sheet", "xlsx")
    return XlsxOptions(sheet, c.integer(t, "header_row", "xlsx", default=1, minimum=1))


def _custody(c: ck.Checker, data: Any) -> CustodyColumns | None:
    if data is None:
        return None
    t = c.table(data, CUSTODY, ("holder_column", "match"))
    return CustodyColumns(
        holder_column=c.text(t, "holder_column", CUSTODY),
        match=c.choice(t, "match", CUSTODY, HOLDER_MATCHES),
    )


def _calibration(c: ck.Checker, data: Any) -> CalibrationColumns | None:
    if data is None:
        return None
    keys = ("last_column", "due_column", "result_column", "results")
    t = c.table(data, CALIBRATION, keys)
    result_column = c.maybe_text(t, "result_column", CALIBRATION)
    results = ck.results(c, t.get("results"))
    if result_column and not results:
        c.add("calibration.results", "a result column needs its results: CMMS result = state")
    if results and not result_column:
        c.add("calibration.results", "results are given but no result_column to read them from")
    return CalibrationColumns(
        last_column=c.text(t, "last_column", CALIBRATION),
        due_column=c.maybe_text(t, "due_column", CALIBRATION),
        result_column=result_column,
        results=results,
    )


def _schedule(c: ck.Checker, data: Any) -> Schedule | None:
    if data is None:
        return None
    t = c.table(data, "schedule", ("time", "folder", "pattern", "url"))
    time = c.text(t, "time", "schedule")
    if time and not ck.is_time_of_day(time):
        c.add("schedule.time", f"{time!r} is not a time of day HH:MM (00:00 to 23:59)")
    folder = c.maybe_text(t, "folder", "schedule")
    url = c.maybe_text(t, "url", "schedule")
    pattern = c.text(t, "pattern", "schedule", default="*")
    if (folder is None) == (url is None):
        c.add("schedule", "give exactly one of folder (a drop folder) or url (an HTTP(S) address)")
    if url is not None and not ck.is_http_url(url):
        c.add("schedule.url", f"{url!r} is not an http:// or https:// address")
    if url is not None and pattern != "*":
        c.add("schedule.pattern", "a pattern picks a file in a folder: leave it out with a url")
    return Schedule(time, folder, pattern, url)
