"""The checks behind ``profile_from_dict``: each records its problems on a ``Checker`` (path in
the profile file, message) and returns a usable value, so one pass finds every problem."""

from __future__ import annotations

import codecs
import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from registra_client._dates import DateParser, compile_format
from registra_client._fields import (
    CALIBRATION,
    CUSTODY,
    DEFAULT_SOURCE_KIND,
    KEY,
    NEVER_DECOMMISSIONS,
    READINESS_STATES,
    SOURCE_KIND,
    STATUSES,
    Problem,
    field_kind,
    field_names_help,
    typed_value,
)

_TIME_OF_DAY = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_REQUIRED: Any = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true/false"}
    names.update({list: "a list", dict: "a table"})
    return names.get(type(value), type(value).__name__)


class Checker:
    """Collects problems; its readers return a placeholder where a value is unusable."""

    def __init__(self) -> None:
        self.issues: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        """Record one problem."""
        self.issues.append((path, message))

    def table(self, data: Any, path: str, allowed: Collection[str]) -> dict[str, Any]:
        """``data`` as a table with only ``allowed`` keys (None: an empty table)."""
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.add(path, f"must be a table, not {_type_name(data)}")
            return {}
        for key in data:
            if key not in allowed:
                self.add(_join(path, str(key)), f"unknown key; allowed: {', '.join(allowed)}")
        return {k: v for k, v in data.items() if k in allowed and v is not None}

    def text(
        self, t: Mapping[str, Any], key: str, path: str, *, default: str = _REQUIRED, **kw: Any
    ) -> str:
        """The string at ``key`` (stripped); required unless a default is given."""
        value = self.maybe_text(t, key, path, **kw)
        if value is not None:
            return value
        if default is _REQUIRED:
            if key not in t:
                self.add(_join(path, key), "required")
            return ""
        return default

    def maybe_text(
        self, t: Mapping[str, Any], key: str, path: str, *, max_length: int | None = None
    ) -> str | None:
        """The string at ``key`` (stripped) or None when it is missing or wrong."""
        if key not in t:
            return None
        value = t[key]
        where = _join(path, key)
        if not isinstance(value, str):
            self.add(where, f"must be a string, not {_type_name(value)}")
            return None
        if not value.strip():
            self.add(where, "must not be blank")
            return None
        if max_length is not None and len(value.strip()) > max_length:
            self.add(where, f"must be at most {max_length} characters")
        return value.strip()

    def choice(
        self,
        t: Mapping[str, Any],
        key: str,
        path: str,
        allowed: Collection[str],
        *,
        default: str = _REQUIRED,
    ) -> str:
        """The string at ``key``, one of ``allowed``."""
        value = self.text(t, key, path, default=default)
        if value and value not in allowed:
            self.add(_join(path, key), f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    def integer(
        self, t: Mapping[str, Any], key: str, path: str, *, default: int, minimum: int
    ) -> int:
        """The integer at ``key``, at least ``minimum``."""
        value = t.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            self.add(_join(path, key), f"must be an integer, not {_type_name(value)}")
            return default
        if value < minimum:
            self.add(_join(path, key), f"must be at least {minimum}")
        return value

    def str_map(self, data: Any, path: str) -> dict[str, str]:
        """A table of strings to strings (keys kept as written)."""
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            self.add(path, f"must be a table, not {_type_name(data)}")
            return {}
        found = {}
        for key, value in data.items():
            if isinstance(value, str):
                found[str(key)] = value
            else:
                self.add(_join(path, str(key)), f"must be a string, not {_type_name(value)}")
        return found


def columns(c: Checker, data: Any) -> dict[str, str]:
    """``[columns]``: register field -> CMMS column; the key column is required."""
    found = c.str_map(data, "columns")
    for name, column in list(found.items()):
        problem = _field_problem(name)
        if problem is None and not column.strip():
            problem = "the CMMS column must not be blank"
        if problem is not None:
            c.add(f"columns.{name}", problem)
            del found[name]
        else:
            found[name] = column.strip()
    if KEY not in found and (data is None or KEY not in data):
        c.add("columns.assetKey", "required: the CMMS column that holds the asset key")
    return found


def _field_problem(name: str) -> str | None:
    if name == SOURCE_KIND:
        return "sourceKind is not read from the file: set it in [defaults]"
    if field_kind(name) is None:
        return f"unknown field {name!r}; the fields are: {field_names_help()}"
    return None


def owned_fields(
    c: Checker, data: Any, mapped: Mapping[str, str], custody: Any, calibration: Any
) -> frozenset[str]:
    """``owned_fields``: mapped fields, ``custody`` and ``calibration`` (when configured);
    by default all of them."""
    available = [f for f in mapped if f != KEY]
    available += [CUSTODY] * (custody is not None) + [CALIBRATION] * (calibration is not None)
    if data is None:
        return frozenset(available)
    names = _strings(c, data, "owned_fields")
    for name in names:
        if name in available:
            continue
        if name == KEY:
            why = "the key identifies the asset; it is not a field to own"
        elif name in (CUSTODY, CALIBRATION):
            why = f"there is no [{name}] table"
        elif field_kind(name) is None:
            fields = f"{field_names_help()}, custody, calibration"
            why = f"unknown field {name!r}; the fields are: {fields}"
        else:
            why = f"{name} is not mapped in [columns]"
        c.add(f"owned_fields.{name}", why)
    return frozenset(n for n in names if n in available)


def _strings(c: Checker, data: Any, path: str) -> list[str]:
    if not isinstance(data, list):
        c.add(path, f"must be a list of strings, not {_type_name(data)}")
        return []
    bad = [v for v in data if not isinstance(v, str)]
    if bad:
        c.add(path, f"must be a list of strings, not {_type_name(bad[0])}")
    return [v for v in data if isinstance(v, str)]


def date_formats(c: Checker, data: Any) -> tuple[tuple[str, ...], DateParser]:
    """``dates``: the formats as given, and a parser of the valid ones (plus ISO)."""
    if data is None:
        return ("yyyy-mm-dd",), DateParser(())
    formats = _strings(c, data, "dates")
    valid = []
    for n, text in enumerate(formats):
        try:
            compile_format(text)
        except ValueError as exc:
            c.add(f"dates.{n}", str(exc))
        else:
            valid.append(text)
    return tuple(formats), DateParser(valid)


def value_maps(
    c: Checker, data: Any, mapped: Mapping[str, str], dates: tuple[Any, DateParser]
) -> dict[str, dict[str, str]]:
    """``[values.<field>]``: CMMS value -> register value, for mapped fields."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        c.add("values", f"must be a table, not {_type_name(data)}")
        return {}
    found = {}
    for name, table in data.items():
        path = f"values.{name}"
        problem = _field_problem(name)
        if problem is None and name not in mapped:
            problem = f"{name} is not mapped in [columns]"
        elif problem is None and name == KEY:
            problem = "the key is read as it is: it has no value map"
        if problem is not None:
            c.add(path, problem)
            continue
        found[name] = c.str_map(table, path)
        for cmms, value in found[name].items():
            _check_value(c, f"{path}.{cmms}", name, value, dates[1])
    return found


def defaults(c: Checker, data: Any, dates: tuple[Any, DateParser]) -> dict[str, str]:
    """``[defaults]``: register field -> value for unmapped fields and blank cells."""
    found = c.str_map(data, "defaults")
    for name, value in list(found.items()):
        if name == KEY:
            problem: str | None = "the key cannot have a default"
        elif name == SOURCE_KIND:
            problem = None if value.strip() else "must not be blank"
        else:
            problem = _field_problem(name)
        if problem is not None:
            c.add(f"defaults.{name}", problem)
            del found[name]
        elif name != SOURCE_KIND:
            _check_value(c, f"defaults.{name}", name, value, dates[1])
    found.setdefault(SOURCE_KIND, DEFAULT_SOURCE_KIND)
    return found


def _check_value(c: Checker, path: str, name: str, value: str, parse: DateParser) -> None:
    """A register value the profile gives (value map target or default) must be usable."""
    if name == "status" and value not in STATUSES:
        why = NEVER_DECOMMISSIONS if value == "decommissioned" else None
        c.add(path, why or f"{value!r} is not one of: {', '.join(STATUSES)}")
    elif value.strip():
        typed = typed_value(name, value.strip(), parse)
        if isinstance(typed, Problem):
            c.add(path, typed.reason)


def results(c: Checker, data: Any) -> dict[str, str]:
    """``[calibration.results]``: CMMS result -> readiness state."""
    found = c.str_map(data, "calibration.results")
    for result, state in found.items():
        if state not in READINESS_STATES:
            allowed = ", ".join(READINESS_STATES)
            c.add(f"calibration.results.{result}", f"{state!r} is not one of: {allowed}")
    return {r: s for r, s in found.items() if s in READINESS_STATES}


def codec(c: Checker, path: str, name: str) -> None:
    """``name`` must be a text codec Python knows."""
    problem = codec_problem(name)
    if problem:
        c.add(path, problem)


def codec_problem(name: str) -> str | None:
    """Why ``name`` is no text codec Python knows (None when it is one)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return f"unknown encoding {name!r} (try utf-8, cp1252, latin-1 or utf-16)"
    # bytes-to-bytes codecs (base64, zlib...) are codecs too, but decode no text
    if not getattr(info, "_is_text_encoding", True):
        return f"{name!r} is not a text encoding"
    return None


def is_time_of_day(text: str) -> bool:
    """Whether ``text`` is HH:MM from 00:00 to 23:59."""
    return _TIME_OF_DAY.fullmatch(text) is not None


def is_http_url(text: str) -> bool:
    """Whether ``text`` is an http:// or https:// address with a host."""
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
