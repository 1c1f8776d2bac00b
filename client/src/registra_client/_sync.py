"""The blocking client: ``Client`` and its resources, performing ``_protocol``'s steps with an
``httpx.Client``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
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


def drive(step: p.Step[T], http: httpx.Client, sleep: Callable[[float], None]) -> T:
    """Run one protocol operation to its result, blocking."""
    try:
        action = next(step)
        while True:
            if isinstance(action, p.Wait):
                sleep(action.seconds)
                action = step.send(None)
                continue
            try:
                answer = http.request(
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


class Client:
    """A client of Registra's API v1 for one service account.

    ``Client("https://registra.example", "svc_...", "secret")`` gets a token on first use and
    a new one before it expires (and once more if the server answers 401). Reads are retried
    on 429, 5xx and connection failures (see ``RetryPolicy``). ``transport`` replaces httpx's
    own (an ``httpx.MockTransport``, a proxy...); ``sleep`` replaces ``time.sleep`` between
    retries. Close it, or use it as a context manager.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        retry: p.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        page_size: int = p.PAGE_SIZE,
    ) -> None:
        self.session = p.Session(client_id, client_secret, retry=retry, clock=clock)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
        )
        self._sleep = sleep
        self.page_size = page_size
        self.assets: Assets[Iterator[Asset], Asset] = Assets(self)
        self.custody_assignments: CustodyAssignments[Iterator[CustodyAssignment]] = (
            CustodyAssignments(self)
        )
        self.readiness_assessments: ReadinessAssessments[Iterator[ReadinessAssessment]] = (
            ReadinessAssessments(self)
        )
        self.custody_holders: CustodyHolders[Iterator[CustodyHolder]] = CustodyHolders(self)
        self.organization: OrganizationResource[Organization] = OrganizationResource(self)

    def run(self, step: p.Step[T]) -> T:
        """Perform one protocol operation (used by the resources)."""
        return drive(step, self._http, self._sleep)

    def walk(self, listing: p.Listing[R], filters: dict[str, str]) -> Iterator[R]:
        """Every record of a list, page after page, fetched as the iteration goes."""
        walk = p.Walk(listing, filters, self.page_size)
        while not walk.done:
            yield from self.run(walk.next_page(self.session))

    def one(self, path: str, key: str, parse: Callable[[Any], R]) -> R:
        """One record: GET ``path``, parse the body's ``key``."""
        return self.run(p.one(self.session, path, key, parse))

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
