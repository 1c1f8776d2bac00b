"""The resources of a client (``client.assets``...), written once for ``Client`` and
``AsyncClient``: each builds the call and hands it to its client, whose ``walk`` gives an
iterator (an async iterator for ``AsyncClient``) and whose ``one`` gives the record (an
awaitable for ``AsyncClient``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from registra_client import _protocol as p
from registra_client._records import (
    Asset,
    Organization,
)

ListT = TypeVar("ListT")  # what a list gives
OneT = TypeVar("OneT")  # what a get gives


class Runner(Protocol):
    """What the resources need of a client."""

    def walk(self, listing: p.Listing[Any], filters: dict[str, str]) -> Any: ...

    def one(self, path: str, key: str, parse: Any) -> Any: ...


class Assets(Generic[ListT, OneT]):
    """``client.assets``: the register's assets."""

    def __init__(self, client: Runner) -> None:
        self._client = client

    def list(
        self,
        *,
        status: str | None = None,
        asset_kind: str | None = None,
        created_after: datetime | None = None,
        updated_after: datetime | None = None,
    ) -> ListT:
        """Every asset (newest first) matching the filters, fetched page by page as the
        iteration goes."""
        filters = p.query(
            status=status,
            asset_kind=asset_kind,
            created_after=created_after,
            updated_after=updated_after,
        )
        return cast(ListT, self._client.walk(p.ASSETS, filters))

    def get(self, asset_id: str) -> OneT:
        """One asset; ``NotFoundError`` if the organization has none of that id."""
        return cast(OneT, self._client.one(p.asset_path(asset_id), "asset", Asset.from_api))


class CustodyAssignments(Generic[ListT]):
    """``client.custody_assignments``: who holds (and held) each asset."""

    def __init__(self, client: Runner) -> None:
        self._client = client

    def list(
        self,
        *,
        asset_id: str | None = None,
        status: str | None = None,
        created_after: datetime | None = None,
        updated_after: datetime | None = None,
    ) -> ListT:
        """Every custody assignment (newest first) matching the filters, fetched lazily."""
        filters = p.query(
            asset_id=asset_id,
            status=status,
            created_after=created_after,
            updated_after=updated_after,
        )
        return cast(ListT, self._client.walk(p.CUSTODY_ASSIGNMENTS, filters))


class ReadinessAssessments(Generic[ListT]):
    """``client.readiness_assessments``: calibrations, inspections and other assessments."""

    def __init__(self, client: Runner) -> None:
        self._client = client

    def list(
        self,
        *,
        asset_id: str | None = None,
        readiness_state: str | None = None,
        created_after: datetime | None = None,
        updated_after: datetime | None = None,
    ) -> ListT:
        """Every readiness assessment (newest first) matching the filters, fetched lazily."""
        filters = p.query(
            asset_id=asset_id,
            readiness_state=readiness_state,
            created_after=created_after,
            updated_after=updated_after,
        )
        return cast(ListT, self._client.walk(p.READINESS_ASSESSMENTS, filters))


class CustodyHolders(Generic[ListT]):
    """``client.custody_holders``: members by the employee id a CMMS knows them by."""

    def __init__(self, client: Runner) -> None:
        self._client = client

    def list(self, *, external_employee_id: str | None = None) -> ListT:
        """Every member with an external employee id (newest first), fetched lazily."""
        filters = p.query(external_employee_id=external_employee_id)
        return cast(ListT, self._client.walk(p.CUSTODY_HOLDERS, filters))


class OrganizationResource(Generic[OneT]):
    """``client.organization``: the service account's organization (scope
    ``organization:read``)."""

    def __init__(self, client: Runner) -> None:
        self._client = client

    def get(self) -> OneT:
        """The organization."""
        one = self._client.one(p.ORGANIZATION_PATH, "organization", Organization.from_api)
        return cast(OneT, one)
