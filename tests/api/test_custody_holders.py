"""``GET /api/v1/assets/custody-holders`` (decision 0017): the members custody can name, by
their external employee id, for the drift check's holder matching with an ``assets:read``
token. Exactly four fields, revoked members and members without an external id left out, the
filters, keyset pages and cursors as every list, sealed organizations, the scope, the query
count, and the document. Every response also passes ``check_common`` (request id, rate-limit
headers, OpenAPI conformance) inside the ``api`` helper."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from registra.api.v1.listing import CUSTODY_HOLDERS
from registra.core.models import AuditEvent
from registra.core.timefmt import api_format
from registra.organizations import services as org_services
from registra.organizations.models import Member, Organization
from tests.api.conftest import BASE, TIMESTAMP_RE, Api, Register
from tests.cast import REASON, Cast, operator

PATH = "/assets/custody-holders"
KEY = "custodyHolders"
HOLDER_FIELDS = {"id", "externalEmployeeId", "createdAt", "updatedAt"}


def _people(org: Organization, prefix: str, count: int, *, ext: str = "") -> list[Member]:
    """``count`` active viewers created together (one created_at: the id breaks the ties)."""
    return org_services.member_bulk_create_active(
        organization=org,
        actor=operator(org),
        reason=REASON,
        people=[
            {
                "email": f"{prefix}-{i}@example.test",
                "fullName": f"Person {prefix} {i}",
                "role": "viewer",
                "externalEmployeeId": f"{ext}{i:04d}" if ext else "",
            }
            for i in range(count)
        ],
    )


def _revoke(org: Organization, member: Member) -> Member:
    return org_services.member_revoke(
        organization=org, actor=operator(org), reason=REASON, member_id=member.id
    )


def _holders(org: Organization) -> list[Member]:
    """The holders as the database has them, newest first (created_at, then id)."""
    rows = Member.objects.filter(organization=org).exclude(external_employee_id="")
    rows = rows.exclude(status="revoked")
    return sorted(rows, key=lambda m: (m.created_at, m.id), reverse=True)


def _expected(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "externalEmployeeId": m.external_employee_id,
        "createdAt": api_format(m.created_at),
        "updatedAt": api_format(m.updated_at),
    }


def _walk(api: Api, token: str, **params: Any) -> list[str]:
    ids: list[str] = []
    for page in api.walk(PATH, token, **params):
        ids += [r["id"] for r in page[KEY]]
    return ids


def _ext_ids(api: Api, token: str, **params: Any) -> set[str]:
    return {r["externalEmployeeId"] for r in api.ok(PATH, token, **params)[KEY]}


# --- records --------------------------------------------------------------------------------


def test_holders_are_the_members_with_an_external_id_and_nothing_else_of_them(
    api: Api, cast: Cast, reader_token: str
) -> None:
    events = AuditEvent.objects.count()
    response = api.get(PATH, reader_token)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {KEY, "pagination"}
    assert body["pagination"] == {"nextCursor": None, "limit": 50}
    holders = _holders(cast.org)
    # The cast's five members with SKY-000..SKY-004; the revoked and the pending one have none.
    assert {m.external_employee_id for m in holders} == {f"SKY-{i:03d}" for i in range(5)}
    assert body[KEY] == [_expected(m) for m in holders]
    for record in body[KEY]:
        assert set(record) == HOLDER_FIELDS
        assert record["id"].startswith("user_")
        assert TIMESTAMP_RE.match(record["createdAt"]) and TIMESTAMP_RE.match(record["updatedAt"])
    # Least data: no name, email, role or status of anyone anywhere in the body.
    text = response.content.decode()
    for member in Member.objects.filter(organization=cast.org):
        assert member.email not in text and member.full_name not in text
    for word in ("email", "fullName", "role", "status", "viewer", "admin", "active"):
        assert word not in text, word
    assert AuditEvent.objects.count() == events  # a read records nothing


def test_a_holder_is_named_as_custody_names_it(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    # The drift check's join: the CMMS's employee id -> the holder's id -> subjectResourceId.
    (holder,) = api.ok(PATH, reader_token, externalEmployeeId=cast.editor.external_employee_id)[KEY]
    custody = api.ok("/assets/custody-assignments", reader_token, status="active")
    (current,) = custody["custodyAssignments"]
    assert current["subjectResourceId"] == holder["id"] == cast.editor.id


def test_the_list_has_the_condition_of_the_unique_constraint() -> None:
    # So an external id names at most one holder: the database refuses a second one.
    (constraint,) = [c for c in Member._meta.constraints if c.name == "member_org_extid_uniq"]
    fixed = Q()
    for lookup, value in CUSTODY_HOLDERS.where:
        name, op = lookup.split("__")
        assert op == "ne"
        fixed &= ~Q(**{name: value})
    assert constraint.condition == fixed  # type: ignore[attr-defined]
    assert tuple(constraint.fields) == ("organization", "external_employee_id")  # type: ignore[attr-defined]


def test_revoked_members_and_members_without_an_external_id_are_left_out(
    api: Api, cast: Cast, reader_token: str
) -> None:
    (former,) = _people(cast.org, "former", 1, ext="E-GONE-")
    _revoke(cast.org, former)
    (blank,) = _people(cast.org, "blank", 1)
    # The id a revoked member had may be given again: it then names the new member only.
    (leaver,) = _people(cast.org, "leaver", 1, ext="E-REUSED-")
    _revoke(cast.org, leaver)
    (joiner,) = _people(cast.org, "joiner", 1, ext="E-REUSED-")
    invited = org_services.member_invite(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        email="new.starter@example.test",
        role="editor",
        external_employee_id="E-PENDING",
    ).member
    assert Member.objects.get(id=former.id).status == "revoked"
    assert Member.objects.get(id=former.id).external_employee_id == "E-GONE-0000"
    assert Member.objects.get(id=blank.id).external_employee_id == ""
    ids = _walk(api, reader_token, limit=2)
    assert ids == [m.id for m in _holders(cast.org)]
    assert former.id not in ids and leaver.id not in ids and blank.id not in ids
    assert cast.revoked.id not in ids and cast.pending.id not in ids
    # A pending member is not revoked: the constraint counts it, and so does the list.
    assert joiner.id in ids and invited.id in ids
    assert [
        r["id"] for r in api.ok(PATH, reader_token, externalEmployeeId="E-REUSED-0000")[KEY]
    ] == [joiner.id]
    assert api.ok(PATH, reader_token, externalEmployeeId="E-GONE-0000")[KEY] == []


def test_revoking_a_holder_takes_it_off_the_list(api: Api, cast: Cast, reader_token: str) -> None:
    before = _ext_ids(api, reader_token)
    _revoke(cast.org, cast.viewer)
    assert _ext_ids(api, reader_token) == before - {cast.viewer.external_employee_id}


# --- filters --------------------------------------------------------------------------------


def test_external_employee_id_filter_is_exact(api: Api, cast: Cast, reader_token: str) -> None:
    ext = cast.technician.external_employee_id
    body = api.ok(PATH, reader_token, externalEmployeeId=ext)
    assert body[KEY] == [_expected(Member.objects.get(id=cast.technician.id))]
    assert body["pagination"] == {"nextCursor": None, "limit": 50}
    for near in (ext.lower(), ext[:-1], f"{ext} ", f" {ext}", f"{ext}0", "SKY-%", "SKY-_04"):
        assert api.ok(PATH, reader_token, externalEmployeeId=near)[KEY] == [], near
    # An empty value is a filter like any other: no holder has an empty id.
    assert api.ok(PATH, reader_token, externalEmployeeId="")[KEY] == []


def test_external_employee_id_filter_is_as_long_as_the_field(
    api: Api, cast: Cast, reader_token: str
) -> None:
    (long,) = _people(cast.org, "long", 1, ext="L" * 124)
    assert len(long.external_employee_id) == 128
    found = api.ok(PATH, reader_token, externalEmployeeId=long.external_employee_id)[KEY]
    assert [r["id"] for r in found] == [long.id]
    body = api.error(PATH, reader_token, 400, "validation", externalEmployeeId="L" * 129)
    assert [issue["path"] for issue in body["issues"]] == [["externalEmployeeId"]]


@pytest.mark.parametrize("value", ["\x00", "SKY\x00-001"])
def test_nul_in_the_external_id_filter_is_a_validation_error(
    api: Api, cast: Cast, reader_token: str, value: str
) -> None:
    body = api.error(PATH, reader_token, 400, "validation", externalEmployeeId=value)
    assert [issue["path"] for issue in body["issues"]] == [["externalEmployeeId"]]


def test_created_after_and_updated_after(api: Api, cast: Cast, reader_token: str) -> None:
    cast_ids = {m.external_employee_id for m in _holders(cast.org)}
    # The cast's members were created together; the filter is exclusive, to the microsecond.
    created = Member.objects.get(id=cast.admin.id).created_at
    assert _ext_ids(api, reader_token, createdAfter=created.isoformat()) == set()
    assert _ext_ids(api, reader_token, createdAfter="2000-01-01T00:00:00Z") == cast_ids
    mark = max(m.updated_at for m in Member.objects.filter(organization=cast.org)).isoformat()
    newcomers = _people(cast.org, "newcomer", 2, ext="N-")
    org_services.member_update(
        organization=cast.org,
        actor=operator(cast.org),
        reason=REASON,
        member_id=cast.auditor.id,
        full_name="Audrey Renamed",
    )
    new_ids = {m.external_employee_id for m in newcomers}
    assert _ext_ids(api, reader_token, createdAfter=mark) == new_ids
    auditor = cast.auditor.external_employee_id
    assert _ext_ids(api, reader_token, updatedAfter=mark) == new_ids | {auditor}
    assert _ext_ids(api, reader_token, updatedAfter=mark, externalEmployeeId=auditor) == {auditor}
    assert _ext_ids(api, reader_token, createdAfter=mark, externalEmployeeId=auditor) == set()


def test_unknown_query_parameters_are_ignored(api: Api, cast: Cast, reader_token: str) -> None:
    plain = api.ok(PATH, reader_token)
    noisy = api.ok(PATH, reader_token, status="revoked", email="x", organization="org_x")
    assert noisy == plain


@pytest.mark.parametrize("name", ["createdAfter", "updatedAfter"])
@pytest.mark.parametrize("value", ["yesterday", "2026-05-25", "1700000000"])
def test_bad_timestamp_filter_is_a_validation_error(
    api: Api, reader_token: str, name: str, value: str
) -> None:
    body = api.error(PATH, reader_token, 400, "validation", **{name: value})
    assert [issue["path"] for issue in body["issues"]] == [[name]]


# --- pages and cursors ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 7, 50, 200])
def test_walk_returns_every_holder_once_newest_first(
    api: Api, cast: Cast, reader_token: str, limit: int
) -> None:
    # Three batches, each sharing one created_at, and members left out between them.
    _people(cast.org, "batch-a", 40, ext="A-")
    _revoke(cast.org, _people(cast.org, "gone", 3, ext="G-")[1])
    _people(cast.org, "blank", 5)
    _people(cast.org, "batch-b", 30, ext="B-")
    expected = [m.id for m in _holders(cast.org)]
    assert len(expected) == 5 + 40 + 2 + 30
    pages = list(api.walk(PATH, reader_token, limit=limit))
    for page in pages[:-1]:
        assert len(page[KEY]) == limit and page["pagination"]["limit"] == limit
        assert page["pagination"]["nextCursor"]
    assert pages[-1]["pagination"]["nextCursor"] is None
    ids = [r["id"] for page in pages for r in page[KEY]]
    assert ids == expected and len(set(ids)) == len(ids)


def test_limit_is_clamped_and_defaults_to_50(api: Api, cast: Cast, reader_token: str) -> None:
    _people(cast.org, "many", 240, ext="M-")
    default = api.ok(PATH, reader_token)
    assert len(default[KEY]) == 50 and default["pagination"]["limit"] == 50
    clamped = api.ok(PATH, reader_token, limit=500)
    assert len(clamped[KEY]) == 200 and clamped["pagination"]["limit"] == 200
    assert clamped["pagination"]["nextCursor"]


def test_walk_with_a_filter_keeps_the_filter(api: Api, cast: Cast, reader_token: str) -> None:
    mark = max(m.updated_at for m in Member.objects.filter(organization=cast.org)).isoformat()
    newcomers = _people(cast.org, "later", 9, ext="X-")
    expected = [m.id for m in _holders(cast.org) if m.id in {n.id for n in newcomers}]
    assert _walk(api, reader_token, limit=4, createdAfter=mark) == expected
    first = api.ok(PATH, reader_token, limit=4, createdAfter=mark)
    cursor = first["pagination"]["nextCursor"]
    # The cursor is bound to its filters: without them, or with another value, it is refused.
    api.error(PATH, reader_token, 400, "invalid_cursor", limit=4, cursor=cursor)
    api.error(
        PATH, reader_token, 400, "invalid_cursor",
        limit=4, cursor=cursor, createdAfter=mark, externalEmployeeId="X-0001",
    )  # fmt: skip


def test_cursor_of_another_list_is_invalid_cursor(
    api: Api, cast: Cast, register: Register, reader_token: str
) -> None:
    holders_cursor = api.ok(PATH, reader_token, limit=1)["pagination"]["nextCursor"]
    custody_cursor = api.ok("/assets/custody-assignments", reader_token, limit=1)["pagination"][
        "nextCursor"
    ]
    assets_cursor = api.ok("/assets", reader_token, limit=1)["pagination"]["nextCursor"]
    assert holders_cursor and custody_cursor and assets_cursor
    for foreign in (custody_cursor, assets_cursor):
        body = api.error(PATH, reader_token, 400, "invalid_cursor", limit=1, cursor=foreign)
        assert "issues" not in body
    for path in ("/assets/custody-assignments", "/assets", "/assets/readiness-assessments"):
        api.error(path, reader_token, 400, "invalid_cursor", limit=1, cursor=holders_cursor)
    api.ok(PATH, reader_token, limit=1, cursor=holders_cursor)


def test_tampered_cursor_is_invalid_cursor(api: Api, cast: Cast, reader_token: str) -> None:
    cursor = api.ok(PATH, reader_token, limit=2)["pagination"]["nextCursor"]
    assert cursor and cursor.isascii() and "user_" not in cursor
    for edited in (cursor[:-1], cursor + "A", cursor[::-1], "not a cursor!"):
        api.error(PATH, reader_token, 400, "invalid_cursor", limit=2, cursor=edited)


def test_page_query_count_is_pinned_and_independent_of_depth(
    api: Api, cast: Cast, reader_token: str, django_assert_max_num_queries: Any
) -> None:
    _people(cast.org, "deep", 115, ext="D-")
    counts = []
    cursor = None
    for _ in range(6):
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        # At most the token lookup and one keyset page query, at every depth.
        with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(2):
            page = api.ok(PATH, reader_token, **params)
        assert len(page[KEY]) == 20
        counts.append(len(queries))
        for q in queries.captured_queries:
            assert "OFFSET" not in q["sql"].upper(), q["sql"]
        cursor = page["pagination"]["nextCursor"]
    assert len(set(counts)) == 1, counts


# --- organizations and scopes ---------------------------------------------------------------


def test_another_organizations_members_never_appear(
    api: Api, cast: Cast, reader_token: str, other_token: str
) -> None:
    # The other organization uses the same external ids as this one, and more of them.
    same = [m.external_employee_id for m in _holders(cast.org)]
    theirs = org_services.member_bulk_create_active(
        organization=cast.other_org,
        actor=operator(cast.other_org),
        reason=REASON,
        people=[
            {"email": f"harbor-{i}@example.test", "role": "viewer", "externalEmployeeId": ext}
            for i, ext in enumerate(same)
        ],
    )
    _people(cast.other_org, "harbor-more", 4, ext="H-")
    for token, org, foreign in (
        (reader_token, cast.org, cast.other_org),
        (other_token, cast.other_org, cast.org),
    ):
        ids = _walk(api, token, limit=1)
        assert ids == [m.id for m in _holders(org)]
        assert not set(ids) & set(
            Member.objects.filter(organization=foreign).values_list("id", flat=True)
        )
    ext = cast.editor.external_employee_id
    mine = api.ok(PATH, reader_token, externalEmployeeId=ext)[KEY]
    other = api.ok(PATH, other_token, externalEmployeeId=ext)[KEY]
    assert [r["id"] for r in mine] == [cast.editor.id]
    assert [r["id"] for r in other] == [next(m.id for m in theirs if m.external_employee_id == ext)]
    # Cursors are bound to their organization.
    my_cursor = api.ok(PATH, reader_token, limit=1)["pagination"]["nextCursor"]
    their_cursor = api.ok(PATH, other_token, limit=1)["pagination"]["nextCursor"]
    api.error(PATH, other_token, 400, "invalid_cursor", limit=1, cursor=my_cursor)
    api.error(PATH, reader_token, 400, "invalid_cursor", limit=1, cursor=their_cursor)


def test_a_token_without_assets_read_is_forbidden(api: Api, cast: Cast) -> None:
    org_only = api.token(cast.org_reader)
    body = api.error(PATH, org_only, 403, "forbidden")
    assert cast.admin.id not in body["message"]
    # The scope comes before the parameters: such a token learns nothing from them either.
    api.error(PATH, org_only, 403, "forbidden", limit="0", externalEmployeeId="x" * 200)
    api.error(PATH, org_only, 403, "forbidden", cursor="tampered")
    api.error(PATH, None, 401, "unauthenticated")


# --- the document ---------------------------------------------------------------------------


def test_the_document_describes_the_operation(openapi_document: dict[str, Any]) -> None:
    operation = openapi_document["paths"][f"{BASE}{PATH}"]["get"]
    assert operation["operationId"] == "listCustodyHolders"
    assert operation["summary"] == "List custody holders"
    assert operation["security"] == [{"BearerScope": []}]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"externalEmployeeId", "createdAfter", "updatedAfter", "limit", "cursor"}
    assert all(p["in"] == "query" and not p.get("required") for p in params.values())
    assert set(operation["responses"]) == {"200", "400", "401", "403", "429", "500", "503"}
    schemas = openapi_document["components"]["schemas"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    page = schemas[ok["$ref"].rsplit("/", 1)[-1]]
    assert set(page["properties"]) == {KEY, "pagination"}
    assert set(page["required"]) == {KEY, "pagination"}
    item = page["properties"][KEY]["items"]["$ref"].rsplit("/", 1)[-1]
    assert item == "CustodyHolderOut"
    holder = schemas[item]
    assert set(holder["properties"]) == set(holder["required"]) == HOLDER_FIELDS
    for name in HOLDER_FIELDS:
        assert holder["properties"][name]["type"] == "string", name
    for name in ("createdAt", "updatedAt"):
        assert holder["properties"][name]["format"] == "date-time"
