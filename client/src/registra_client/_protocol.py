"""The API protocol, written once for the sync and the asyncio client: building requests,
the token and its refresh, retry decisions, error mapping and cursor walks.

Nothing here does I/O. Each operation is a generator that yields what it needs done (``Send``
a request, ``Wait`` some seconds) and receives the outcome (a ``Reply``, or a ``Failure`` when
no answer came); its return value is the operation's result. ``_sync.drive`` and
``_async.drive`` perform the steps with httpx, one blocking and one awaiting.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from registra_client._errors import (
    ConnectionFailedError,
    InvalidCursorError,
    RegistraError,
    error_from_reply,
    retry_after,
)
from registra_client._records import (
    Asset,
    CustodyAssignment,
    CustodyHolder,
    Organization,
    ReadinessAssessment,
)

T = TypeVar("T")
R = TypeVar("R")

PAGE_SIZE = 200
TOKEN_PATH = "/api/v1/auth/token"


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request; the answer comes back as a ``Reply`` or a ``Failure``."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait this many seconds before going on."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer (header names lower-case)."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    """No answer: the connection was refused, broke or timed out."""

    error: Exception


Outcome = Reply | Failure
Step = Generator[Send | Wait, Outcome | None, T]


@dataclass
class RetryPolicy:
    """At most ``attempts`` tries of a GET or the token grant when the answer is 429 or 5xx
    or none came. The wait is the server's ``Retry-After`` when it sends one (at most
    ``max_retry_after`` seconds: a longer one is not waited for), else exponential backoff
    from ``base`` seconds, at most ``cap``, with full jitter from ``random``."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    max_retry_after: float = 120.0
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, outcome: Outcome) -> float | None:
        """Seconds to wait before the next try after try ``attempt`` (1-based) had
        ``outcome``, or None when it is final."""
        if attempt >= self.attempts:
            return None
        if isinstance(outcome, Reply):
            if outcome.status != 429 and outcome.status < 500:
                return None
            asked = retry_after(outcome.headers)
            if asked is not None:
                return asked if asked <= self.max_retry_after else None
        backoff = min(self.cap, self.base * 2 ** (attempt - 1))
        return backoff * self.random()


class Session:
    """One client's credentials, its current token and its retry policy (shared by every
    operation of that client)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.token: str | None = None
        self.refresh_at = 0.0
        self.grants = 0

    def forget_token(self) -> None:
        self.token = None


def _attempts(session: Session, send: Send) -> Step[Reply]:
    """``send`` until it is answered for good (see ``RetryPolicy``)."""
    attempt = 0
    while True:
        attempt += 1
        outcome = yield send
        assert outcome is not None
        wait = session.retry.delay(attempt, outcome)
        if wait is None:
            if isinstance(outcome, Failure):
                raise ConnectionFailedError(
                    f"no answer from the server after {attempt} attempt(s): {outcome.error}"
                ) from outcome.error
            return outcome
        yield Wait(wait)


def _ok_body(reply: Reply) -> Any:
    if reply.status >= 400:
        raise error_from_reply(reply.status, reply.headers, reply.body)
    try:
        return json.loads(reply.body)
    except ValueError as exc:
        raise RegistraError(
            f"the server's answer is not JSON (HTTP {reply.status})", status=reply.status
        ) from exc


def token(session: Session) -> Step[str]:
    """The current token, granted anew when there is none or it is near its expiry (a tenth
    of its lifetime before, at most a minute)."""
    if session.token is not None and session.clock() < session.refresh_at:
        return session.token
    granted_at = session.clock()
    body = _ok_body(
        (
            yield from _attempts(
                session,
                Send(
                    "POST",
                    TOKEN_PATH,
                    json={
                        "grant_type": "client_credentials",
                        "client_id": session.client_id,
                        "client_secret": session.client_secret,
                    },
                ),
            )
        )
    )
    lifetime = float(body.get("expires_in") or 0)
    session.token = str(body["access_token"])
    session.refresh_at = granted_at + lifetime - min(60.0, lifetime / 10)
    session.grants += 1
    return session.token


def get(session: Session, path: str, params: Mapping[str, str] | None = None) -> Step[Any]:
    """GET ``path`` with the token: the JSON body, or the error's exception. A 401 (the token
    expired or was revoked early) is tried once more with a new token."""
    renewed = False
    while True:
        bearer = yield from token(session)
        headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
        reply = yield from _attempts(session, Send("GET", path, params=params, headers=headers))
        if reply.status == 401 and not renewed:
            renewed = True
            session.forget_token()
            continue
        return _ok_body(reply)


# --- resources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing(Generic[R]):
    """A list endpoint: its path, the body's key and the record it holds."""

    path: str
    key: str
    parse: Callable[[Mapping[str, Any]], R]


ASSETS = Listing("/api/v1/assets", "assets", Asset.from_api)
CUSTODY_ASSIGNMENTS = Listing(
    "/api/v1/assets/custody-assignments", "custodyAssignments", CustodyAssignment.from_api
)
READINESS_ASSESSMENTS = Listing(
    "/api/v1/assets/readiness-assessments", "readinessAssessments", ReadinessAssessment.from_api
)
CUSTODY_HOLDERS = Listing(
    "/api/v1/assets/custody-holders", "custodyHolders", CustodyHolder.from_api
)


def query(**filters: object) -> dict[str, str]:
    """The query parameters of the given filters (None left out; camelCase names; timestamps
    in the API's UTC form, a naive one taken as UTC)."""
    params = {}
    for name, value in filters.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            value = aware.isoformat(timespec="microseconds").replace("+00:00", "Z")
        params[_camel(name)] = str(value)
    return params


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def one(session: Session, path: str, key: str, parse: Callable[[Mapping[str, Any]], R]) -> Step[R]:
    """One record: GET ``path`` and parse the body's ``key``."""
    body = yield from get(session, path)
    return parse(body[key])


def asset_path(asset_id: str) -> str:
    return f"{ASSETS.path}/{quote(asset_id, safe='')}"


ORGANIZATION_PATH = "/api/v1/organization"
parse_organization = Organization.from_api


class Walk(Generic[R]):
    """A walk through every page of a list, newest first, ``page_size`` records a page.

    When the server refuses the cursor as ``invalid_cursor`` mid-walk (it expired), the walk
    starts again from the first page with the same filters and skips what it already returned:
    everything newer than its last record, and the records of that same millisecond it
    returned (timestamps are shown to the millisecond). So no record comes twice, and none
    that existed when the walk began is missed. A record created meanwhile comes as it would
    by cursor: skipped when its creation time is newer than the last record returned, walked
    to when it is older (a record loaded with its original, earlier creation time)."""

    def __init__(
        self, listing: Listing[R], filters: Mapping[str, str], page_size: int = PAGE_SIZE
    ) -> None:
        self.listing = listing
        self.filters = dict(filters)
        self.page_size = page_size
        self.cursor: str | None = None
        self.done = False
        self.restarts = 0
        self._last: datetime | None = None  # created_at of the last record returned
        self._last_ids: set[str] = set()  # the ids returned with that created_at
        self._skipping = False

    def next_page(self, session: Session) -> Step[list[R]]:
        """The next page's records (maybe none, while skipping); sets ``done`` at the end."""
        params = {**self.filters, "limit": str(self.page_size)}
        if self.cursor is not None:
            params["cursor"] = self.cursor
        try:
            body = yield from get(session, self.listing.path, params)
        except InvalidCursorError:
            if self.cursor is None:
                raise
            self.cursor, self._skipping = None, self._last is not None
            self.restarts += 1
            return []
        records = [self.listing.parse(raw) for raw in body[self.listing.key]]
        if self._skipping:
            records = self._unseen(records)
        self._remember(records)
        self.cursor = (body.get("pagination") or {}).get("nextCursor")
        self.done = not self.cursor
        return records

    def _unseen(self, records: list[R]) -> list[R]:
        """While skipping: drop what is newer than the last record returned, and the records
        of its millisecond that were returned; the first older record ends the skipping."""
        last, ids, kept = self._last, self._last_ids, []
        assert last is not None
        for record in records:
            if self._skipping:
                created = record.created_at  # type: ignore[attr-defined]
                if created > last or (created == last and record.id in ids):  # type: ignore[attr-defined]
                    continue
                if created < last:
                    self._skipping = False
            kept.append(record)
        return kept

    def _remember(self, records: list[R]) -> None:
        if not records:
            return
        newest_last = records[-1].created_at  # type: ignore[attr-defined]
        if newest_last != self._last:
            self._last, self._last_ids = newest_last, set()
        for record in reversed(records):
            if record.created_at != newest_last:  # type: ignore[attr-defined]
                break
            self._last_ids.add(record.id)  # type: ignore[attr-defined]
