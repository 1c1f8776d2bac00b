"""The package's public surface: what ``__all__`` names, and that it needs no server."""

from __future__ import annotations

import subprocess
import sys

import registra_client

PUBLIC = {
    *("Client", "AsyncClient", "RetryPolicy", "Asset", "CustodyAssignment", "CustodyHolder"),
    *("Organization", "ReadinessAssessment", "RegistraError", "AuthenticationError"),
    *("ConnectionFailedError", "InvalidCursorError", "MethodNotAllowedError", "NotFoundError"),
    *("PayloadTooLargeError", "PermissionDeniedError", "RateLimitedError", "ServerError"),
    *("UnavailableError", "ValidationError", "drift", "compare", "Comparison", "Register"),
    *("read_holder_file", "DriftReport", "Finding", "Source", "write_report"),
    *("Profile", "CsvOptions", "XlsxOptions", "CustodyColumns", "CalibrationColumns"),
    *("Schedule", "ProfileError", "load_profile", "loads_profile", "dump_profile"),
    *("profile_from_dict", "profile_to_dict", "read_table", "Table", "Row", "RowIssue"),
    *("ReadError", "Mapper", "MappedRow", "Calibration", "FIELDS", "formula_safe"),
}


def test_all_names_the_public_interface() -> None:
    assert set(registra_client.__all__) == PUBLIC
    assert all(hasattr(registra_client, name) for name in PUBLIC)
    assert all(registra_client.__dict__[n].__doc__ for n in PUBLIC - {"FIELDS"})


def test_fields_and_their_kinds() -> None:
    fields = registra_client.FIELDS
    assert fields["assetKey"] == fields["status"] == fields["externalId"] == "text"
    assert fields["commissionedAt"] == fields["acquisition.date"] == "date"
    assert fields["acquisition.costEur"] == "number"
    assert "sourceKind" not in fields


def test_importing_it_imports_no_django() -> None:
    code = "import sys, registra_client; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
