"""Reads for assets, custody and readiness. Every selector takes the organization first."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, tzinfo
from typing import Any, NamedTuple

import orjson
from django.db.models import (
    Case,
    CharField,
    Count,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Upper
from django.utils import timezone

from registra.assets import history
from registra.assets.choices import (
    AssessmentStatus,
    AssetStatus,
    AssignmentKind,
    CustodyStatus,
    ReadinessState,
)
from registra.assets.models import Asset, AssetReadiness, CustodyAssignment, ReadinessAssessment
from registra.assets.readiness import KindReadiness, Readiness, compute_readiness, kinds_readiness
from registra.core import db, sql
from registra.core.models import AuditEvent
from registra.core.queries import first_or_404, rows_in
from registra.organizations.models import Organization


def asset_get(organization: Organization, asset_id: str) -> Asset:
    assets = Asset.objects.filter(organization=organization, id=asset_id)
    return first_or_404(assets, f"asset {asset_id}")


def asset_get_by_key(organization: Organization, asset_key: str) -> Asset:
    assets = Asset.objects.filter(organization=organization, asset_key=asset_key)
    return first_or_404(assets, f"asset {asset_key}")


def asset_keys_taken(organization: Organization, asset_keys: list[str]) -> set[str]:
    """Which of these asset keys are already registered in the organization."""
    keys = Asset.objects.filter(organization=organization).values_list("asset_key", flat=True)
    return set(rows_in(keys, "asset_key", asset_keys))


class ImportedAsset(NamedTuple):
    """What the CMMS import compares of an asset (``imports.planning.register_value``): a
    plain row, read without building model instances."""

    id: str
    asset_key: str
    asset_kind: str
    display_name: str
    description: str
    source_kind: str
    status: str
    commissioned_at: datetime | None
    asset_snapshot: dict[str, Any]
    external_id: str | None  # the source reference's externalId


def assets_by_keys(organization: Organization, asset_keys: list[str]) -> dict[str, ImportedAsset]:
    """The organization's assets with these keys, by key (the fields an import compares).

    The snapshot is read as text and parsed by orjson, and of the source reference (which
    holds the whole source row) only its external id: for a large import, decoding JSON was
    the largest part of reading the register."""
    rows = (
        Asset.objects.filter(organization=organization)
        .annotate(
            snapshot_text=Cast("asset_snapshot", TextField()),
            external_id=KeyTextTransform("externalId", "source_ref_snapshot"),
        )
        .values_list(*ImportedAsset._fields[:-2], "snapshot_text", "external_id")
    )
    found = {}
    for row in rows_in(rows, "asset_key", asset_keys):
        snapshot = orjson.loads(row[8]) if row[8] else {}
        found[row[1]] = ImportedAsset._make((*row[:8], snapshot, row[9]))
    return found


def asset_ids_by_keys(organization: Organization, asset_keys: list[str]) -> dict[str, str]:
    """The ids of the organization's assets with these keys, by key."""
    rows = Asset.objects.filter(organization=organization).values_list("asset_key", "id")
    return dict(rows_in(rows, "asset_key", asset_keys))


def assets_of_source(
    organization: Organization, source_kind: str
) -> Iterator[tuple[str, str, str]]:
    """``(id, key, status)`` of every asset from this source that is not decommissioned, in
    key order, streamed (an import's absent assets)."""
    rows = (
        Asset.objects.filter(organization=organization, source_kind=source_kind)
        .exclude(status=AssetStatus.DECOMMISSIONED)
        .order_by("asset_key")
        .values_list("id", "asset_key", "status")
    )
    return sql.stream(rows)


def latest_completed(
    organization: Organization, asset_ids: list[str], kind: str
) -> dict[str, CompletedAssessment]:
    """Each asset's latest completed assessment of ``kind`` (by when it was performed)."""
    latest: dict[str, CompletedAssessment] = {}
    for asset_id, done in completed_assessments(organization, asset_ids, [kind]).items():
        performed = [d for d in done if d.performed_at is not None]
        if performed:
            latest[asset_id] = max(performed, key=lambda d: d.performed_at)  # type: ignore[arg-type, return-value]
    return latest


def assets_for_readiness(organization: Organization, asset_ids: Iterable[str]) -> list[Asset]:
    """These assets of the organization with only what readiness depends on (status, kind)
    and their keys (to name them in a reason)."""
    fields = ("id", "asset_key", "status", "asset_kind")
    assets = Asset.objects.filter(organization=organization).only(*fields)
    return list(rows_in(assets, "id", list(asset_ids)))


def assets_of_kind(organization: Organization, asset_kind: str) -> Iterator[Asset]:
    """Every asset of one kind, streamed (readiness recomputed when requirements change)."""
    assets = Asset.objects.filter(organization=organization, asset_kind=asset_kind)
    return assets.only("id", "status", "asset_kind").iterator(chunk_size=2000)


def assets_for_update(organization: Organization, asset_ids: list[str]) -> list[Asset]:
    """Lock the given assets of this organization (for bulk updates)."""
    locked = Asset.objects.select_for_update().filter(organization=organization)
    return list(rows_in(locked, "id", asset_ids))


def _primary_custody(organization: Organization) -> QuerySet[CustodyAssignment]:
    """The organization's active primary custody assignments: who holds what."""
    return CustodyAssignment.objects.filter(
        organization=organization,
        status=CustodyStatus.ACTIVE,
        assignment_kind=AssignmentKind.PRIMARY,
    )


def active_primary(
    organization: Organization, asset_id: str, *, lock: bool = False
) -> CustodyAssignment | None:
    qs = _primary_custody(organization).filter(asset_id=asset_id)
    return (qs.select_for_update() if lock else qs).first()


def active_primaries(
    organization: Organization, asset_ids: list[str], *, lock: bool = False
) -> dict[str, CustodyAssignment]:
    """The active primary custody of each of these assets that has one, by asset id (locked
    ``FOR UPDATE`` when ``lock``)."""
    qs = _primary_custody(organization)
    return {
        c.asset_id: c
        for c in rows_in(qs.select_for_update() if lock else qs, "asset_id", asset_ids)
    }


def active_holders(organization: Organization, asset_ids: list[str]) -> dict[str, str]:
    """Who holds each of these assets (the member id of its active primary custody), by asset
    id; an asset nobody holds is absent."""
    qs = _primary_custody(organization).values_list("asset_id", "subject_resource_id")
    return dict(rows_in(qs, "asset_id", asset_ids))


def active_custody(organization: Organization, asset_id: str) -> list[CustodyAssignment]:
    """The asset's active custody assignments (every kind), oldest first: what decommissioning
    it would end."""
    return list(
        CustodyAssignment.objects.filter(
            organization=organization, asset_id=asset_id, status=CustodyStatus.ACTIVE
        ).order_by("started_at", "id")
    )


def custody_assignment_get(
    organization: Organization, asset_id: str, custody_id: str
) -> CustodyAssignment:
    """One custody assignment of this asset; NotFound otherwise."""
    found = CustodyAssignment.objects.filter(
        organization=organization, asset_id=asset_id, id=custody_id
    )
    return first_or_404(found, f"custody assignment {custody_id}")


def custody_history(organization: Organization, asset_id: str) -> list[CustodyAssignment]:
    return list(
        CustodyAssignment.objects.filter(organization=organization, asset_id=asset_id).order_by(
            "-started_at", "-id"
        )
    )


def assessment_history(organization: Organization, asset_id: str) -> list[ReadinessAssessment]:
    assessments = ReadinessAssessment.objects.select_related("performed_by_responsibility")
    return list(
        assessments.filter(organization=organization, asset_id=asset_id).order_by(
            "-created_at", "-id"
        )
    )


def assessment_get(
    organization: Organization, asset_id: str, assessment_id: str
) -> ReadinessAssessment:
    """One assessment of this asset (with its performer); NotFound otherwise."""
    found = ReadinessAssessment.objects.select_related("performed_by_responsibility").filter(
        organization=organization, asset_id=asset_id, id=assessment_id
    )
    return first_or_404(found, f"readiness assessment {assessment_id}")


def asset_audit_trail(organization: Organization, asset_id: str) -> list[AuditEvent]:
    """The events whose subject is the asset itself, in the chain's order."""
    events = AuditEvent.objects.filter(
        organization_id=organization.id, subject_type="asset", subject_id=asset_id
    )
    return list(events.order_by("seq"))


def asset_readiness(
    organization: Organization,
    asset: Asset,
    *,
    at: datetime,
    assessments: Iterable[ReadinessAssessment] | None = None,
) -> Readiness:
    """The asset's computed readiness at ``at``, with reasons. ``assessments``: the asset's
    assessments when the caller has read them already (otherwise they are read here)."""
    return compute_readiness(
        asset_status=asset.status,
        asset_kind=asset.asset_kind,
        requirements=organization.readiness_requirements or {},
        assessments=_required_assessments(organization, asset, assessments),
        at=at,
        zone=organization.zone,
        validity=organization.readiness_validity or {},
    )


@dataclass(slots=True)
class CompletedAssessment:
    """What the readiness computation reads of a completed assessment
    (``readiness.AssessmentLike``)."""

    asset_id: str
    assessment_kind: str
    status: str
    readiness_state: str
    performed_at: datetime | None
    valid_until: datetime | None


def completed_assessments(
    organization: Organization, asset_ids: list[str], kinds: Iterable[str]
) -> dict[str, list[CompletedAssessment]]:
    """The completed assessments of these kinds of these assets, by asset id (``rows_in``'s
    chunk of assets per query)."""
    by_asset: dict[str, list[CompletedAssessment]] = {}
    kinds = sorted(set(kinds))
    if not kinds:
        return by_asset
    rows = ReadinessAssessment.objects.filter(
        organization=organization,
        assessment_kind__in=kinds,
        status=AssessmentStatus.COMPLETED,
    ).values_list(*(f.name for f in fields(CompletedAssessment)))
    for row in rows_in(rows, "asset_id", asset_ids):
        by_asset.setdefault(row[0], []).append(CompletedAssessment(*row))
    return by_asset


def assets_readiness(
    organization: Organization, assets: list[Asset], *, at: datetime
) -> dict[str, Readiness]:
    """The computed readiness at ``at`` of each of these assets, with reasons, by asset id:
    ``asset_readiness`` for many assets in one query per chunk of assets (``rows_in``)."""
    requirements = organization.readiness_requirements or {}
    kinds = {k for a in assets for k in requirements.get(a.asset_kind, [])}
    history = completed_assessments(organization, [a.id for a in assets], kinds)
    return {
        a.id: compute_readiness(
            asset_status=a.status,
            asset_kind=a.asset_kind,
            requirements=requirements,
            assessments=history.get(a.id, []),
            at=at,
            zone=organization.zone,
            validity=organization.readiness_validity or {},
        )
        for a in assets
    }


def _required_assessments(
    organization: Organization, asset: Asset, given: Iterable[ReadinessAssessment] | None
) -> Iterable[ReadinessAssessment]:
    if given is not None:
        return given
    required = (organization.readiness_requirements or {}).get(asset.asset_kind, [])
    if not required:
        return ReadinessAssessment.objects.none()
    return ReadinessAssessment.objects.filter(
        organization=organization, asset_id=asset.id, assessment_kind__in=required
    )


# --- the asset detail page (web UI) --------------------------------------------------------


@dataclass(frozen=True)
class AssetDetail:
    """Everything the asset page shows, read once: the asset (with its custodian
    responsibility), its custody and assessments (newest first) and its own audit trail
    (oldest first)."""

    asset: Asset
    custody: list[CustodyAssignment]
    assessments: list[ReadinessAssessment]
    events: list[AuditEvent]


def asset_detail(organization: Organization, asset_id: str) -> AssetDetail:
    """The asset page's records in four queries, however long its history."""
    assets = Asset.objects.select_related("custodian_responsibility__holder").filter(
        organization=organization, id=asset_id
    )
    asset = first_or_404(assets, f"asset {asset_id}")
    return AssetDetail(
        asset=asset,
        custody=custody_history(organization, asset.id),
        assessments=assessment_history(organization, asset.id),
        events=asset_audit_trail(organization, asset.id),
    )


def asset_kinds_readiness(
    organization: Organization, detail: AssetDetail, *, at: datetime
) -> list[KindReadiness]:
    """Each assessment kind the asset's kind requires, as it stands at ``at``."""
    return kinds_readiness(
        asset_kind=detail.asset.asset_kind,
        requirements=organization.readiness_requirements or {},
        assessments=detail.assessments,
        at=at,
        zone=organization.zone,
        validity=organization.readiness_validity or {},
    )


def asset_as_of(organization: Organization, detail: AssetDetail, *, at: datetime) -> history.AsOf:
    """Who held the asset, what each required readiness kind was, and its status and fields at
    ``at`` (``assets.history``), from the records ``asset_detail`` read."""
    return history.asset_as_of(
        created_at=detail.asset.created_at,
        events=detail.events,
        custody=detail.custody,
        assessments=detail.assessments,
        requirements=organization.readiness_requirements or {},
        at=at,
        zone=organization.zone,
        validity=organization.readiness_validity or {},
    )


# --- the register list (web UI): filters, sorts, keyset pages, the export's rows ------------

# Sort name -> model field. Every page is ordered by the field, then the id, in one direction,
# so a keyset position is (the field's value, id).
REGISTER_SORTS = {
    "key": "asset_key",
    "name": "display_name",
    "kind": "asset_kind",
    "status": "status",
    "source": "source_kind",
    "created": "created_at",
    "updated": "updated_at",
}
REGISTER_COLUMNS = (
    "id",
    "asset_key",
    "display_name",
    "asset_kind",
    "status",
    "source_kind",
    "description",
    "commissioned_at",
    "decommissioned_at",
    "created_at",
    "updated_at",
    "readiness_now",
    "readiness__next_due",
    "readiness_reasons_json",
)


# Readiness filters of the register list and the dashboard (``readiness_q``).
READINESS_FILTERS = {
    "ready": "Ready",
    "not-ready": "Not ready",
    "due-soon": "Due soon",
    "overdue": "Overdue",
}


def readiness_q(
    choice: str,
    *,
    at: datetime,
    due_soon_days: int,
    prefix: str = "",
    readiness: str | None = None,
) -> Q:
    """Assets by readiness at ``at``, from the stored ``AssetReadiness``: ready until its next
    due date; overdue or due soon by that date (active assets only). ``prefix`` is the path to
    the asset's status (``"asset__"`` from a custody assignment), ``readiness`` the path to its
    readiness record (default ``prefix + "readiness__"``; ``""`` from ``AssetReadiness``
    itself, which copies the status)."""
    path = f"{prefix}readiness__" if readiness is None else readiness

    def q(**lookups: Any) -> Q:
        return Q(**{f"{path}{name}": value for name, value in lookups.items()})

    ready = q(state=ReadinessState.READY) & (q(next_due__isnull=True) | q(next_due__gt=at))
    active = Q(**{f"{prefix}status": AssetStatus.ACTIVE})
    if choice == "ready":
        return ready
    if choice == "not-ready":
        return ~ready
    if choice == "overdue":
        return active & q(next_due__lte=at)
    if choice == "due-soon":
        soon = at + timedelta(days=due_soon_days)
        return active & q(next_due__gt=at, next_due__lte=soon)
    raise ValueError(f"unknown readiness filter {choice!r}")


def not_ready_reasons(
    readiness_now: str, stored_json: str | None, next_due: Any, zone: tzinfo
) -> list[str]:
    """Why an asset of the register list is not ready now (``readiness_now`` from
    ``with_readiness_now``): the reasons stored with its readiness (their JSON text) or, when it
    was stored ready and is not ready now, the due date that has passed since (its day in
    ``zone``)."""
    if readiness_now == ReadinessState.READY:
        return []
    stored: list[str] = orjson.loads(stored_json) if stored_json else []
    if stored:
        return stored
    return [f"overdue since {next_due.astimezone(zone):%Y-%m-%d}"] if next_due else []


@dataclass(frozen=True)
class ReadinessCounts:
    """Active assets of one group (an asset kind, a holder) by readiness now."""

    key: str
    active: int
    not_ready: int
    overdue: int
    due_soon: int


def readiness_dashboard(
    organization: Organization, *, at: datetime
) -> tuple[list[ReadinessCounts], list[ReadinessCounts]]:
    """The readiness dashboard's rows: active assets by asset kind, and by holder (member id:
    the members holding them as primary holder), from one grouped read of ``AssetReadiness``
    (which copies each asset's kind, status and holder)."""
    pick = functools.partial(
        readiness_q, at=at, due_soon_days=organization.due_soon_days, readiness=""
    )
    groups = (
        AssetReadiness.objects.filter(organization=organization, status=AssetStatus.ACTIVE)
        .values("asset_kind", "holder_id")
        .annotate(
            active=Count("pk"),
            not_ready=Count("pk", filter=pick("not-ready")),
            overdue=Count("pk", filter=pick("overdue")),
            due_soon=Count("pk", filter=pick("due-soon")),
        )
        .order_by()
    )
    by_kind: dict[str, list[int]] = {}
    by_holder: dict[str, list[int]] = {}
    for g in groups:
        counts = [g["active"], g["not_ready"], g["overdue"], g["due_soon"]]
        for key, totals in ((g["asset_kind"], by_kind), (g["holder_id"], by_holder)):
            if key is not None:
                totals[key] = [a + b for a, b in zip(totals.get(key, [0] * 4), counts, strict=True)]
    kinds = [ReadinessCounts(k, *c) for k, c in sorted(by_kind.items())]
    holders = [ReadinessCounts(h, *c) for h, c in by_holder.items()]
    holders.sort(key=lambda c: (-c.overdue, -c.due_soon, c.key))
    return kinds, holders


def with_readiness_now(assets: QuerySet[Asset], *, at: datetime) -> QuerySet[Asset]:
    """``assets`` annotated with ``readiness_now`` (``ready`` or ``not-ready`` at ``at``), by
    the same rule as the readiness filters (``readiness_q``), in the same query, and with the
    stored reasons (``readiness_reasons_json``)."""
    ready = readiness_q("ready", at=at, due_soon_days=0)
    return assets.annotate(
        readiness_now=Case(
            When(ready, then=Value(ReadinessState.READY)),
            default=Value(ReadinessState.NOT_READY),
            output_field=CharField(),
        ),
        # As JSON text: parsed only where the asset is not ready (``not_ready_reasons``).
        readiness_reasons_json=Cast("readiness__reasons", TextField()),
    )


def holder_q(member_id: str) -> Q:
    """Assets whose active primary custody is held by this member (as ``AssetReadiness``
    stores it)."""
    return Q(readiness__holder_id=member_id)


@dataclass(frozen=True)
class RegisterFilter:
    """What the register list shows: a search and equality filters (empty means any), the
    computed readiness (a key of ``READINESS_FILTERS``), the current holder (a member id) and
    the custodian responsibility (its id)."""

    search: str = ""
    status: str = ""
    kind: str = ""
    source: str = ""
    readiness: str = ""
    holder: str = ""
    custodian: str = ""


@dataclass(frozen=True)
class RegisterSort:
    """A sort column (a key of ``REGISTER_SORTS``) and its direction."""

    column: str = "key"
    descending: bool = False

    @property
    def field(self) -> str:
        return REGISTER_SORTS[self.column]

    def order(self) -> tuple[str, str]:
        sign = "-" if self.descending else ""
        return f"{sign}{self.field}", f"{sign}id"


def register_assets(
    organization: Organization, flt: RegisterFilter, *, at: datetime | None = None
) -> QuerySet[Asset]:
    """The organization's assets that match the filter at ``at`` (default now), unordered."""
    assets = Asset.objects.filter(organization=organization)
    if flt.readiness:
        at = at or timezone.now()
        assets = assets.filter(
            readiness_q(flt.readiness, at=at, due_soon_days=organization.due_soon_days)
        )
    if flt.holder:
        assets = assets.filter(holder_q(flt.holder))
    if flt.search:
        # Upper-cased by the database, as it upper-cases search_text.
        assets = assets.filter(search_text__contains=Upper(Value(flt.search)))
    for field, value in (
        ("status", flt.status),
        ("asset_kind", flt.kind),
        ("source_kind", flt.source),
        ("custodian_responsibility_id", flt.custodian),
    ):
        if value:
            assets = assets.filter(**{field: value})
    return assets


def register_page(
    organization: Organization,
    flt: RegisterFilter,
    sort: RegisterSort,
    *,
    after: tuple[Any, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[Any, str] | None]:
    """One keyset page of the register list and the position after it (None at the end).

    One query in two steps: the page's ids first, from the filter alone (what the indexes
    answer, without reading the asset rows where they can: decision 0012), then those assets'
    columns and readiness."""
    at = timezone.now()
    matching = register_assets(organization, flt, at=at)
    if after is not None:
        value, last_id = after
        op, bound = ("lt", "lte") if sort.descending else ("gt", "gte")
        # The redundant bound on the field lets the database seek the sort's index to the
        # position instead of walking it from the start and filtering (the OR alone is not an
        # index condition): page 50 costs what the first page does.
        matching = matching.filter(
            Q(**{f"{sort.field}__{bound}": value})
            & (Q(**{f"{sort.field}__{op}": value}) | Q(**{sort.field: value, f"id__{op}": last_id}))
        )
    page_ids = matching.order_by(*sort.order()).values("id")[: limit + 1]
    assets = with_readiness_now(
        Asset.objects.filter(organization=organization, id__in=page_ids), at=at
    )
    rows = list(assets.order_by(*sort.order()).values(*REGISTER_COLUMNS))
    for row in rows:
        row["readiness_reasons"] = not_ready_reasons(
            row["readiness_now"],
            row.pop("readiness_reasons_json"),
            row["readiness__next_due"],
            organization.zone,
        )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, (rows[-1][sort.field], rows[-1]["id"])


def register_asset_ids(organization: Organization, flt: RegisterFilter, *, limit: int) -> list[str]:
    """The ids of the first ``limit`` assets matching the filter (a bulk action's batch)."""
    ids = register_assets(organization, flt).order_by("id").values_list("id", flat=True)
    return list(ids[:limit])


def register_export_rows(
    organization: Organization, flt: RegisterFilter, sort: RegisterSort
) -> Iterator[tuple[Any, ...]]:
    """Every matching asset as a tuple of ``REGISTER_COLUMNS`` (readiness as it is now, the
    next due date, why it is not ready), streamed from the database (``sql.stream``: a million
    rows never sit in memory at once)."""
    at = timezone.now()
    assets = with_readiness_now(register_assets(organization, flt, at=at), at=at)
    rows = assets.order_by(*sort.order()).values_list(*REGISTER_COLUMNS)
    for *row, stored in sql.stream(rows):
        yield (*row, "; ".join(not_ready_reasons(row[-2], stored, row[-1], organization.zone)))


def register_kinds(organization: Organization) -> list[str]:
    """The asset kinds in use, for the kind filter, in order: one probe of the index on
    (organization, kind) per kind (a loose index scan; ``DISTINCT`` would read every asset)."""
    assets, (org, kind) = sql.table(Asset), sql.quoted(Asset, "organization", "asset_kind")
    query = f"""
        WITH RECURSIVE kinds(k) AS (
            SELECT MIN({kind}) FROM {assets} WHERE {org} = %s
            UNION ALL
            SELECT (SELECT MIN({kind}) FROM {assets} WHERE {org} = %s AND {kind} > kinds.k)
            FROM kinds WHERE kinds.k IS NOT NULL
        )
        SELECT k FROM kinds WHERE k IS NOT NULL
    """
    rows = sql.fetch(query, [organization.id, organization.id], using=db.PRIMARY)
    return [k for (k,) in rows]
