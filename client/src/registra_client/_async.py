"""The asyncio client: ``AsyncClient``, performing ``_protocol``'s steps with an
``httpx.AsyncClient`` (the resources and the protocol are the blocking client's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx

from registra_client import _protocol as p
from registra_client._records import (
    Asset,
    CustodyAssignment,
    CustodyHolder,
    Organization,
    ReadinessAssessment,
)
from registra_client._resources import (
    Assets,
    CustodyAssignments,
    CustodyHolders,
    OrganizationResource,
    ReadinessAssessments,
)

T = TypeVar("T")
R = TypeVar("R")
USER_AGENT = "registra-client"


async def drive(
    step: p.Step[T], http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]]
) -> T:
    """Run one protocol operation to its result, awaiting."""
    try:
        action = next(step)
        while True:
            if isinstance(action, p.Wait):
                await sleep(action.seconds)
                action = step.send(None)
                continue
            try:
                answer = await http.request(
                    action.method,
                    action.path,
                    params=action.params,
                    json=action.json,
                    headers=action.headers,
                )
                outcome: p.Outcome = p.Reply(answer.status_code, answer.headers, answer.content)
            except httpx.TransportError as exc:
                outcome = p.Failure(exc)
            action = step.send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class AsyncClient:
    """``Client`` for asyncio: the same arguments, resources and behaviour, with
    ``await client.assets.get(...)`` and ``async for asset in client.assets.list(...)``.
    ``transport`` is an ``httpx.AsyncBaseTransport``; ``sleep`` is awaited (default
    ``asyncio.sleep``). Close it with ``await client.aclose()``, or use ``async with``.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        retry: p.RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = p.PAGE_SIZE,
    ) -> None:
        self.session = p.Session(client_id, client_secret, retry=retry, clock=clock)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )
        self._sleep = sleep
        self.page_size = page_size
        self.assets: Assets[AsyncIterator[Asset], Awaitable[Asset]] = Assets(self)
        self.custody_assignments: CustodyAssignments[AsyncIterator[CustodyAssignment]] = (
            CustodyAssignments(self)
        )
        self.readiness_assessments: ReadinessAssessments[AsyncIterator[ReadinessAssessment]] = (
            ReadinessAssessments(self)
        )
        self.custody_holders: CustodyHolders[AsyncIterator[CustodyHolder]] = CustodyHolders(self)
        self.organization: OrganizationResource[Awaitable[Organization]] = OrganizationResource(
            self
        )

    async def run(self, step: p.Step[T]) -> T:
        """Perform one protocol operation (used by the resources)."""
        return await drive(step, self._http, self._sleep)

    async def walk(self, listing: p.Listing[R], filters: dict[str, str]) -> AsyncIterator[R]:
        """Every record of a list, page after page, fetched as the iteration goes."""
        walk = p.Walk(listing, filters, self.page_size)
        while not walk.done:
            for record in await self.run(walk.next_page(self.session)):
                yield record

    async def one(self, path: str, key: str, parse: Callable[[Any], R]) -> R:
        """One record: GET ``path``, parse the body's ``key``."""
        return await self.run(p.one(self.session, path, key, parse))

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
