"""API v1 test helpers: the ``api`` fixture (``api.call``, ``api.ok``, ``api.error``,
``api.walk``, ``api.token``) and ``api_get``, which check on every response the contract each
must keep (request id, rate-limit headers, error envelope, and conformance to the served
``/api/v1/openapi.json``); the ``register`` data set; rate-limit helpers."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jsonschema_rs
import pytest
from django.test import Client, override_settings
from django.test.client import MULTIPART_CONTENT

from registra.assets import services as asset_services
from registra.core.timefmt import now
from registra.organizations import services as org_services
from tests.cast import REASON, Cast, Credentials, calibrate, make_asset, operator

BASE = "/api/v1"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
REQUEST_ID_RE = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
ERROR_FIELDS = {"error", "message", "requestId"}
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorOut"}

# Exact record shapes from the seed document (SPEC section 4: "exactly the fields of section 3's
# tables plus id, createdAt, updatedAt").
ASSET_FIELDS = {
    "id",
    "assetKey",
    "assetKind",
    "displayName",
    "description",
    "sourceKind",
    "status",
    "custodianResponsibilityId",
    "commissionedAt",
    "decommissionedAt",
    "createdAt",
    "updatedAt",
}
CUSTODY_FIELDS = {
    "id",
    "assetId",
    "assignmentKey",
    "assignmentKind",
    "subjectModuleKey",
    "subjectResourceType",
    "subjectResourceId",
    "status",
    "startedAt",
    "endedAt",
    "createdAt",
    "updatedAt",
}
READINESS_FIELDS = {
    "id",
    "assetId",
    "readinessAssessmentKey",
    "assessmentKind",
    "readinessState",
    "status",
    "performedAt",
    "performedByResponsibilityId",
    "createdAt",
    "updatedAt",
}
ORGANIZATION_FIELDS = {"id", "slug", "name", "locale", "timezone"}

# Rate limits high enough that no test trips them unless it means to.
NO_RATE_LIMITS = {
    "REGISTRA_RATE_LIMIT_TOKEN_READS": 1_000_000,
    "REGISTRA_RATE_LIMIT_ORG_REQUESTS": 1_000_000,
    "REGISTRA_RATE_LIMIT_GRANTS_PER_CLIENT": 1_000_000,
    "REGISTRA_RATE_LIMIT_GRANTS_PER_ADDRESS": 1_000_000,
}
TOKEN_PATH = f"{BASE}/auth/token"
# The buckets X-RateLimit-Bucket may name: the token endpoint has its own grant buckets.
READ_BUCKETS = {"token-read", "org"}
GRANT_BUCKETS = READ_BUCKETS | {"grant-client", "grant-address"}


class OpenApiContract:
    """Validates real responses against the response schemas of the served OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._operations: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        # Literal paths before templated ones, so /assets/custody-assignments wins over {assetId}.
        for path in sorted(document["paths"], key=lambda p: ("{" in p, p)):
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, operation in document["paths"][path].items():
                self._operations.append((pattern, method.upper(), operation))
        self._validators: dict[str, jsonschema_rs.Validator] = {}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, op_method, operation in self._operations:
            if op_method == method and pattern.match(path):
                return operation
        return None

    def knows_path(self, path: str) -> bool:
        return any(pattern.match(path) for pattern, _, _ in self._operations)

    def _validator(self, schema: dict[str, Any]) -> jsonschema_rs.Validator:
        key = repr(schema)
        if key not in self._validators:
            root = {**schema, "components": self.document["components"]}
            self._validators[key] = jsonschema_rs.Draft202012Validator(root, validate_formats=True)
        return self._validators[key]

    def response_schema(self, method: str, path: str, status: int) -> dict[str, Any]:
        operation = self.operation(method, path)
        if operation is None and method == "GET" and path == f"{BASE}/openapi.json":
            return {"type": "object", "required": ["openapi", "paths", "components"]}
        if operation is None:
            # No such operation (a write on the read-only surface, an unknown path): the body is
            # still the documented error envelope.
            assert status >= 400, f"{method} {path} is undocumented but answered {status}"
            return ERROR_SCHEMA
        responses = operation["responses"]
        assert str(status) in responses, (
            f"{method} {path} answered {status}, which its OpenAPI operation does not document "
            f"(documented: {sorted(responses)})"
        )
        return responses[str(status)]["content"]["application/json"]["schema"]

    def validate_error(self, body: Any) -> None:
        """Against the documented error envelope, for statuses no operation lists (5xx)."""
        errors = [str(e) for e in self._validator(ERROR_SCHEMA).iter_errors(body)]
        assert not errors, f"error body breaks ErrorOut: {errors}"

    def validate(self, method: str, path: str, status: int, body: Any) -> None:
        validator = self._validator(self.response_schema(method, path, status))
        errors = [str(e) for e in validator.iter_errors(body)]
        assert not errors, f"{method} {path} {status} breaks its OpenAPI schema: {errors}"


@pytest.fixture(scope="session")
def openapi_document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.fixture(scope="session")
def contract(openapi_document: dict[str, Any]) -> OpenApiContract:
    return OpenApiContract(openapi_document)


def check_common(response: Any, contract: OpenApiContract, method: str, path: str) -> None:
    """What every API v1 response carries, success or error."""
    request_id = response.headers.get("X-Request-Id", "")
    assert REQUEST_ID_RE.match(request_id), f"bad X-Request-Id {request_id!r}"
    for name in RATE_LIMIT_HEADERS:
        assert response.headers.get(name, "").isdigit(), f"{name} missing or not a number"
    buckets = GRANT_BUCKETS if path == TOKEN_PATH else READ_BUCKETS
    assert response.headers.get("X-RateLimit-Bucket") in buckets
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        assert set(body) >= ERROR_FIELDS, body
        assert set(body) - ERROR_FIELDS <= {"issues"}, body
        assert body["requestId"] == request_id
        assert isinstance(body["message"], str) and body["message"]
        assert ("issues" in body) == (body["error"] == "validation"), body
        assert "Traceback" not in body["message"] and "SELECT" not in body["message"]
    if response.status_code == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    if response.status_code == 429:
        assert response.headers.get("Retry-After", "").isdigit()
    contract.validate(method, path, response.status_code, body)


@dataclass
class Api:
    """A Django test client that checks the common contract on every API v1 response."""

    client: Client
    contract: OpenApiContract

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        data: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        url = path if path.startswith(BASE) else BASE + path
        extra: dict[str, str] = dict(headers or {})
        if token is not None:
            extra["Authorization"] = f"Bearer {token}"
        handler = getattr(self.client, method.lower())
        if method in {"GET", "HEAD"}:
            response = handler(url, data=params, headers=extra)
        else:
            if params:
                url += "?" + urlencode(params)
            response = handler(
                url,
                data=data if data is not None else b"",
                content_type=content_type or MULTIPART_CONTENT,
                headers=extra,
            )
        if method != "HEAD":
            check_common(response, self.contract, method, url.split("?")[0])
        return response

    def get(self, path: str, token: str | None = None, /, **params: Any) -> Any:
        return self.call("GET", path, token=token, params=params)

    def ok(self, path: str, token: str, /, **params: Any) -> dict[str, Any]:
        response = self.get(path, token, **params)
        assert response.status_code == 200, response.json()
        return response.json()

    def error(self, path: str, token: str | None, status: int, code: str, /, **params: Any) -> Any:
        response = self.get(path, token, **params)
        assert response.status_code == status, (response.status_code, response.json())
        assert response.json()["error"] == code, response.json()
        return response.json()

    def grant(self, creds: Credentials) -> Any:
        """The token endpoint's response to these credentials."""
        return self.call(
            "POST",
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.account.id,
                "client_secret": creds.secret,
            },
        )

    def token(self, creds: Credentials) -> str:
        response = self.grant(creds)
        assert response.status_code == 200, response.json()
        return response.json()["access_token"]

    def walk(self, path: str, token: str, /, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a list, following nextCursor with the same filters."""
        cursor = None
        while True:
            query = dict(params, **({"cursor": cursor} if cursor else {}))
            page = self.ok(path, token, **query)
            yield page
            cursor = page["pagination"]["nextCursor"]
            if not cursor:
                return


@pytest.fixture
def api(client: Client, contract: OpenApiContract) -> Api:
    return Api(client, contract)


@pytest.fixture
def api_get(api: Api) -> Callable[..., Any]:
    """``api_get(path, token, **params)``: a checked GET."""
    return api.get


@pytest.fixture
def reader_token(api: Api, cast: Any) -> str:
    return api.token(cast.reader)


@pytest.fixture
def other_token(api: Api, cast: Any) -> str:
    return api.token(cast.other_reader)


@pytest.fixture
def no_rate_limits() -> Iterator[None]:
    with override_settings(**NO_RATE_LIMITS):
        yield


@dataclass
class Register:
    """A small register in ``cast.org`` covering every status and every nullable field both
    null and set; ``other_*`` records live in ``cast.other_org`` under the same keys."""

    custodian: Any
    wrench: Any  # active, custodian set, calibrated, handed off once
    planned: Any  # planned: commissionedAt and custodian null
    van: Any  # inactive vehicle
    scrapped: Any  # decommissioned
    first_custody: Any  # ended by the handoff
    current_custody: Any  # active primary
    calibration: Any  # completed, ready, performed by the custodian responsibility
    inspection: Any  # scheduled: performedAt and performer null
    failed: Any  # completed, not-ready
    other_wrench: Any
    other_custody: Any
    other_calibration: Any


def _later(*, organization: Any, **spec: Any) -> dict[str, Any]:
    return {"reason": REASON, "actor": operator(organization), "organization": organization, **spec}


def build_register(cast: Cast) -> Register:
    org, other = cast.org, cast.other_org
    custodian = org_services.responsibility_assign(
        **_later(organization=org),
        responsibility_key="toolbox-a-custodian",
        title="Custodian of toolbox A",
        holder_id=cast.technician.id,
    )
    wrench = make_asset(
        org,
        "torque-wrench-038",
        display_name="Torque wrench, 50-200 Nm, serial 038",
        description="Calibrated torque wrench, primary toolbox A.",
        source_kind="cmms-import",
        custodian_responsibility_id=custodian.id,
    )
    calibration = asset_services.readiness_schedule(
        **_later(organization=org),
        asset_id=wrench.id,
        assessment_kind="calibration",
        readiness_assessment_key="torque-wrench-038-cal-2026",
    )
    performed = now() - timedelta(days=2)
    calibration = asset_services.readiness_complete(
        **_later(organization=org),
        assessment_id=calibration.id,
        readiness_state="ready",
        performed_at=performed,
        valid_until=performed + timedelta(days=365),
        performed_by_responsibility_id=custodian.id,
    )
    first = asset_services.custody_assign(
        **_later(organization=org),
        asset_id=wrench.id,
        member_id=cast.technician.id,
        assignment_key="torque-wrench-038-tech-2026-04",
    )
    current = asset_services.custody_hand_off(
        **_later(organization=org), asset_id=wrench.id, to_member_id=cast.editor.id
    )
    planned = make_asset(org, "torque-wrench-039", status="planned")
    van = make_asset(org, "van-7", asset_kind="vehicle", status="inactive")
    scrapped = make_asset(org, "torque-wrench-001")
    scrapped = asset_services.asset_decommission(
        **_later(organization=org),
        asset_id=scrapped.id,
        disposal_authorization="DISP-2026-014",
    )
    inspection = asset_services.readiness_schedule(
        **_later(organization=org), asset_id=van.id, assessment_kind="inspection"
    )
    failed = asset_services.readiness_bulk_record(
        **_later(organization=org),
        records=[
            {
                "asset_id": van.id,
                "readiness_assessment_key": "van-7-functional-2026",
                "assessment_kind": "functional-check",
                "readiness_state": "not-ready",
                "status": "completed",
                "performed_at": now() - timedelta(hours=3),
            }
        ],
    )[0]
    # The other organization uses the same keys (SPEC: keys are unique per organization only).
    other_wrench = make_asset(other, "torque-wrench-038")
    other_calibration = calibrate(other, other_wrench)
    other_custody = asset_services.custody_assign(
        **_later(organization=other),
        asset_id=other_wrench.id,
        member_id=cast.outsider.id,
        assignment_key="torque-wrench-038-tech-2026-04",
    )
    asset_services.custody_assign(
        **_later(organization=other),
        asset_id=other_wrench.id,
        member_id=cast.outsider.id,
        assignment_kind="loan",
        assignment_key="torque-wrench-038-loan",
    )
    other_planned = make_asset(other, "torque-wrench-039", status="planned")
    asset_services.readiness_schedule(
        **_later(organization=other), asset_id=other_planned.id, assessment_kind="inspection"
    )
    return Register(
        custodian=custodian,
        wrench=wrench,
        planned=planned,
        van=van,
        scrapped=scrapped,
        first_custody=first,
        current_custody=current,
        calibration=calibration,
        inspection=inspection,
        failed=failed,
        other_wrench=other_wrench,
        other_custody=other_custody,
        other_calibration=other_calibration,
    )


@pytest.fixture
def register(cast: Cast) -> Register:
    return build_register(cast)


# --- rate limits ----------------------------------------------------------------------------

WINDOW = 60


def until_limited(send: Callable[[int], Any], limit: int) -> list[Any]:
    """Send requests until one is refused; return the responses of the last window.

    The limiter counts in fixed one-minute windows. Instead of freezing time this reads
    ``X-RateLimit-Reset``: when the window rolls over mid-test, counting restarts from the first
    response of the new window (whose counters start at zero), so a boundary can't flake."""
    window: str | None = None
    responses: list[Any] = []
    for n in range(3 * (limit + 1)):
        response = send(n)
        reset = response.headers["X-RateLimit-Reset"]
        if reset != window:
            window, responses = reset, []
        responses.append(response)
        if response.status_code == 429:
            return responses
    raise AssertionError(f"no 429 after {3 * (limit + 1)} requests with a limit of {limit}")


def assert_counted_down(responses: list[Any], limit: int, bucket: str) -> None:
    """``limit`` requests passed in one window, counting down, then a proper 429."""
    *allowed, refused = responses
    assert len(allowed) == limit, f"{len(allowed)} requests passed in one window, limit {limit}"
    for i, response in enumerate(allowed):
        assert response.status_code != 429
        assert response.headers["X-RateLimit-Limit"] == str(limit)
        assert response.headers["X-RateLimit-Remaining"] == str(limit - 1 - i)
        assert response.headers["X-RateLimit-Bucket"] == bucket
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["X-RateLimit-Bucket"] == bucket
    assert refused.headers["X-RateLimit-Limit"] == str(limit)
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    retry_after = int(refused.headers["Retry-After"])
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert 1 <= retry_after <= WINDOW
    assert reset - WINDOW - 1 <= time.time() <= reset + 1
    assert abs((reset - int(time.time())) - retry_after) <= 2
