"""How the web pages show stored data: snapshots as labelled entries (never raw JSON), audit
diffs as before/after rows per field, API timestamps as times the templates print in the
organization's zone."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from registra.core.timefmt import parse_timestamp

# The audited asset fields (API names) in the order the page lists them.
FIELD_LABELS = {
    "assetKey": "Asset key",
    "displayName": "Name",
    "assetKind": "Kind",
    "status": "Status",
    "description": "Description",
    "sourceKind": "Source",
    "custodianResponsibilityId": "Custodian responsibility",
    "commissionedAt": "Commissioned",
    "decommissionedAt": "Decommissioned",
    "assetSnapshot": "Asset snapshot",
    "classificationSnapshot": "Classification",
    "sourceRefSnapshot": "Source reference",
}
SNAPSHOTS = ("assetSnapshot", "classificationSnapshot", "sourceRefSnapshot")
# Known keys first, in this order; any others follow as stored.
_ORDER: dict[str, tuple[str, ...]] = {
    "assetSnapshot": (
        "manufacturer",
        "model",
        "serialNumber",
        "location",
        "specifications",
        "acquisition",
    ),
    "acquisition": ("date", "supplier", "purchaseOrder", "costEur"),
    "classificationSnapshot": ("level", "criticality", "regulatoryClass", "classifiedAt"),
    "level": ("label", "rank", "severity"),
    "sourceRefSnapshot": (
        "sourceSystem",
        "externalId",
        "importRunId",
        "lastSyncedAt",
        "sourceRow",
    ),
}
_LABELS = {
    **FIELD_LABELS,
    "serialNumber": "Serial number",
    "purchaseOrder": "Purchase order",
    "costEur": "Cost (EUR)",
    "level": "Classification level",
    "regulatoryClass": "Regulatory class",
    "classifiedAt": "Classified",
    "sourceSystem": "Source system",
    "externalId": "External id",
    "importRunId": "Import run",
    "lastSyncedAt": "Last synced",
    "sourceRow": "Source row as received",
    "disposalAuthorization": "Disposal authorization",
    "validUntil": "Valid until",
    "certificateNumber": "Certificate number",
    "sha256": "SHA-256",
}
# Mappings shown as key/value rows; inside RAW ones the keys stay as the source sent them.
_PAIRS = frozenset({"specifications", "sourceRow"})
_RAW = frozenset({"sourceRow"})
_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*$|^[a-z][a-z0-9_]*$")
# Timestamps as the services store them in snapshots and diffs (with an offset: a time
# without one is left as text, not guessed to be UTC).
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)$")


def label_for(key: str) -> str:
    """``serialNumber`` -> ``Serial number``; a key that is not camel or snake case stays."""
    if key in _LABELS:
        return _LABELS[key]
    if not _CAMEL.match(key):
        return key
    words = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", key).replace("_", " ").lower()
    return words[:1].upper() + words[1:]


NONE_HTML = mark_safe(  # a dash to see, "none" to hear
    '<span class="none"><span aria-hidden="true">—</span>'
    '<span class="visually-hidden">none</span></span>'
)
# Between the steps of a path into a snapshot: "Asset snapshot > Location", with a guillemet.
PATH_SEPARATOR = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "


def time_html(value: Any, shape: str = "%Y-%m-%d %H:%M") -> SafeString:
    """A ``<time>`` in the current (the organization's) zone, or the mark for nothing;
    ``shape`` is a ``strftime`` format (a page prints a few hundred times: ``strftime`` costs a
    fraction of the ``date`` filter's formatter)."""
    if not isinstance(value, datetime):
        return NONE_HTML
    local = timezone.localtime(value)
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), local.strftime(shape))


@dataclass(frozen=True)
class Value:
    """A scalar as the page prints it: text, or a time (printed in the organization's zone).
    ``{{ value }}`` renders it (a page prints hundreds of them: cheaper than an include)."""

    text: str = ""
    time: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.time is None and self.text == ""

    def __str__(self) -> str:
        if self.time is not None:
            return time_html(self.time)
        return conditional_escape(self.text) if self.text else NONE_HTML


def as_value(raw: Any) -> Value:
    if _blank(raw):
        return Value()
    if isinstance(raw, bool):
        return Value("yes" if raw else "no")
    if isinstance(raw, datetime):
        return Value(time=raw)
    if isinstance(raw, str) and _STAMP.match(raw):
        try:
            return Value(time=parse_timestamp(raw))
        except ValueError:
            return Value(raw)
    if isinstance(raw, list) and all(not isinstance(v, Mapping | list) for v in raw):
        return Value(", ".join(as_value(v).text or "" for v in raw))
    return Value(str(raw))


def _blank(raw: Any) -> bool:
    return raw is None or raw == "" or raw == [] or raw == {}


@dataclass(frozen=True)
class Entry:
    """One labelled item of a snapshot: a value, nested entries (a mapping), key/value rows
    (a flat mapping such as specifications) or a table (a list of records)."""

    label: str
    value: Value | None = None
    entries: list[Entry] | None = None
    pairs: list[tuple[str, Value]] | None = None
    columns: list[str] | None = None
    records: list[list[Value]] | None = None


def _ordered(mapping: Mapping[str, Any], key: str) -> list[str]:
    known = [k for k in _ORDER.get(key, ()) if k in mapping]
    return known + [k for k in mapping if k not in known]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, Mapping | list)


def entries(mapping: Mapping[str, Any], key: str = "", *, raw: bool = False) -> list[Entry]:
    """A mapping as labelled entries (``key`` names it, for the order of known keys)."""
    return [_entry(k, mapping[k], raw=raw) for k in _ordered(mapping, key)]


def _entry(key: str, value: Any, *, raw: bool) -> Entry:
    label = key if raw else label_for(key)
    if isinstance(value, Mapping):
        inner_raw = key in _RAW
        if key in _PAIRS and all(_is_scalar(v) for v in value.values()):
            keys = value.keys() if inner_raw else map(label_for, value.keys())
            return Entry(label, pairs=list(zip(keys, map(as_value, value.values()), strict=True)))
        return Entry(label, entries=entries(value, key, raw=inner_raw))
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        columns = list(dict.fromkeys(k for v in value for k in v))
        records = [[_cell(v.get(c)) for c in columns] for v in value]
        return Entry(label, columns=[label_for(c) for c in columns], records=records)
    return Entry(label, value=as_value(value))


def _cell(value: Any) -> Value:
    if _is_scalar(value):
        return as_value(value)
    return Value(", ".join(f"{e.label}: {e.value.text if e.value else '…'}" for e in _flat(value)))


def _flat(value: Any) -> list[Entry]:
    if isinstance(value, Mapping):
        return entries(value)
    return [Entry(str(i + 1), value=as_value(v)) for i, v in enumerate(value)]


def snapshot_entries(name: str, snapshot: Mapping[str, Any] | None) -> list[Entry]:
    """One of the asset's snapshots (``assetSnapshot``...) as labelled entries."""
    return entries(snapshot or {}, name)


def field_entries(
    fields: Mapping[str, Any], *, responsibilities: Mapping[str, str] | None = None
) -> list[Entry]:
    """An audited asset record (API names, as the audit trail keeps it) as labelled entries:
    the fields, then the snapshots. ``responsibilities`` names known responsibility ids."""
    names = responsibilities or {}
    out = []
    for key, label in FIELD_LABELS.items():
        value = fields.get(key)
        if key in SNAPSHOTS:
            out.append(Entry(label, entries=snapshot_entries(key, value)))
        elif key == "custodianResponsibilityId" and str(value) in names:
            out.append(Entry(label, value=Value(names[str(value)])))
        else:
            out.append(Entry(label, value=as_value(value)))
    return out


# --- audit diffs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One field of an audit event: its label (a path into snapshots, ``Asset snapshot``,
    ``PATH_SEPARATOR``, ``Location``), what it was and what it became."""

    label: str
    before: Value
    after: Value


@dataclass(frozen=True)
class EventView:
    """An audit event as the trail shows it: the changes per field, and what else it recorded
    (a disposal authorization, an override...)."""

    event: Any
    changes: list[Change]
    notes: list[tuple[str, Value]] = field(default_factory=list)
    created: bool = False  # the record's first event: nothing before it


def _leaves(value: Any, path: tuple[str, ...], raw: bool = False) -> Iterable[tuple[tuple, Any]]:
    """(path, scalar) pairs: mappings and lists of records opened up, scalar lists kept whole."""
    if isinstance(value, Mapping):
        inner_raw = raw or (bool(path) and path[-1] in _RAW)
        for k, v in value.items():
            yield from _leaves(v, (*path, f"={k}" if inner_raw else k), inner_raw)
    elif isinstance(value, list) and any(not _is_scalar(v) for v in value):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, f"#{i + 1}"), raw)
    else:
        yield path, value


def _path_label(path: tuple[str, ...]) -> str:
    return PATH_SEPARATOR.join(p[1:] if p[:1] in ("=", "#") else label_for(p) for p in path)


def changes(diff: Mapping[str, Any]) -> list[Change]:
    """The fields an event changed, one row per changed value (inside snapshots too)."""
    before = dict(_leaves(diff.get("before") or {}, ()))
    after = dict(_leaves(diff.get("after") or {}, ()))
    paths = list(dict.fromkeys([*after, *before]))
    rows = []
    for p in paths:
        b, a = before.get(p), after.get(p)
        if b == a or (_blank(b) and _blank(a)):
            continue
        rows.append(Change(_path_label(p), as_value(b), as_value(a)))
    return rows


def event_view(event: Any) -> EventView:
    diff = event.diff or {}
    notes = [(label_for(k), as_value(v)) for k, v in diff.items() if k not in ("before", "after")]
    return EventView(event, changes(diff), notes, created=diff.get("before") is None)
