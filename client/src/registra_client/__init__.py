"""Registra's client side of the CMMS import, usable without the server (the drift check
reads exports with it; the server's import calls it).

- ``load_profile``/``loads_profile`` read an import profile (TOML; ``examples/cmms-profile.toml``
  documents it), ``dump_profile`` writes one, ``profile_from_dict``/``profile_to_dict`` convert
  the plain data the server stores. ``ProfileError`` lists every problem at once.
- ``read_table`` streams an export (CSV, JSON Lines, XLSX) as ``Row`` records.
- ``Mapper`` turns rows into ``MappedRow`` records of typed register fields, or the row's issues.
"""

from registra_client._fields import FIELDS
from registra_client._mapping import Calibration, MappedRow, Mapper
from registra_client._profile import (
    CalibrationColumns,
    CsvOptions,
    CustodyColumns,
    Profile,
    ProfileError,
    Schedule,
    XlsxOptions,
    dump_profile,
    load_profile,
    loads_profile,
    profile_from_dict,
    profile_to_dict,
)
from registra_client._readers import read_table
from registra_client._table import ReadError, Row, RowIssue, Table

__all__ = [
    "FIELDS",
    "Calibration",
    "CalibrationColumns",
    "CsvOptions",
    "CustodyColumns",
    "MappedRow",
    "Mapper",
    "Profile",
    "ProfileError",
    "ReadError",
    "Row",
    "RowIssue",
    "Schedule",
    "Table",
    "XlsxOptions",
    "dump_profile",
    "load_profile",
    "loads_profile",
    "profile_from_dict",
    "profile_to_dict",
    "read_table",
]
