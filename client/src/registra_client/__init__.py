"""Registra's Python client: the API v1 SDK, the drift check, and the CMMS import's profile
and export readers (which the server's import uses too). It needs no part of the server.

- ``Client`` (blocking) and ``AsyncClient`` (asyncio) read the register through API v1 with a
  service account: ``client.assets.list(status=...)`` walks every page lazily,
  ``client.assets.get(id)`` reads one; also ``custody_assignments``, ``readiness_assessments``,
  ``custody_holders`` and ``organization``. Tokens are renewed and reads retried on their own
  (``RetryPolicy``); errors are ``RegistraError`` subclasses, one per API error id. Records are
  typed: ``Asset``, ``CustodyAssignment``, ``ReadinessAssessment``, ``CustodyHolder``,
  ``Organization``.
- ``drift`` compares the register with a CMMS export (``registra-drift`` on the command line):
  a ``DriftReport`` of ``Finding`` records, written by ``write_report`` as a table, JSON, CSV
  or HTML. ``Register`` and ``compare`` are its two halves, for a register read another way.
- ``load_profile``/``loads_profile`` read an import profile (TOML; ``examples/cmms-profile.toml``
  documents it), ``dump_profile`` writes one, ``profile_from_dict``/``profile_to_dict`` convert
  the plain data the server stores. ``ProfileError`` lists every problem at once.
- ``read_table`` streams an export (CSV, JSON Lines, XLSX) as ``Row`` records.
- ``Mapper`` turns rows into ``MappedRow`` records of typed register fields, or the row's issues.
- ``formula_safe`` keeps a text cell from being run as a formula by a spreadsheet.
"""

from registra_client._async import AsyncClient
from registra_client._cells import formula_safe
from registra_client._drift import Comparison, Register, compare, drift, read_holder_file
from registra_client._errors import (
    AuthenticationError,
    ConnectionFailedError,
    InvalidCursorError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RegistraError,
    ServerError,
    UnavailableError,
    ValidationError,
)
from registra_client._fields import FIELDS
from registra_client._findings import DriftReport, Finding, Source
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
from registra_client._protocol import RetryPolicy
from registra_client._readers import read_table
from registra_client._records import (
    Asset,
    CustodyAssignment,
    CustodyHolder,
    Organization,
    ReadinessAssessment,
)
from registra_client._render import write_report
from registra_client._sync import Client
from registra_client._table import ReadError, Row, RowIssue, Table

__all__ = [
    "FIELDS",
    "Asset",
    "AsyncClient",
    "AuthenticationError",
    "Calibration",
    "CalibrationColumns",
    "Client",
    "Comparison",
    "ConnectionFailedError",
    "CsvOptions",
    "CustodyAssignment",
    "CustodyColumns",
    "CustodyHolder",
    "DriftReport",
    "Finding",
    "InvalidCursorError",
    "MappedRow",
    "Mapper",
    "MethodNotAllowedError",
    "NotFoundError",
    "Organization",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Profile",
    "ProfileError",
    "RateLimitedError",
    "ReadError",
    "ReadinessAssessment",
    "Register",
    "RegistraError",
    "RetryPolicy",
    "Row",
    "RowIssue",
    "Schedule",
    "ServerError",
    "Source",
    "Table",
    "UnavailableError",
    "ValidationError",
    "XlsxOptions",
    "compare",
    "drift",
    "dump_profile",
    "formula_safe",
    "load_profile",
    "loads_profile",
    "profile_from_dict",
    "profile_to_dict",
    "read_holder_file",
    "read_table",
    "write_report",
]
