"""The hot path: plain ``GET`` requests for the three API v1 lists, served straight from ASGI.

Integrations walk these lists page by page, so they carry most of the API's traffic. Through
Django's request cycle a page cost about four times the server CPU of the benchmark's floor
(``docs/benchmarks.md``); the cycle itself (request object, middleware chain, URL resolving,
ninja's parameter model, the event-loop/thread bridge) was most of the difference. This module
serves the same response without that cycle, using the same pieces as the ninja views: the
token lookup, the rate-limit counter, the parameter types, ``listing.page_body`` and the error
envelope (``docs/decisions/0002-api-hot-path.md``).

It takes only requests it can serve exactly as Django would. ``accept`` (on the event loop, no
I/O) and the start of ``serve`` (token and scope) hand everything else back to Django before
anything is counted: other methods and paths, repeated, empty or invalid parameters,
a missing, unknown or under-scoped token, an unexpected ``Host``. Django then answers with its
own error, counted once. ``enabled`` switches the path off for settings whose effect on a
response it does not reproduce (TLS redirects, HSTS, another middleware chain).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from pydantic import TypeAdapter, ValidationError

from registra.api.v1 import errors
from registra.api.v1.assets import SCOPE  # the scope the list views demand
from registra.api.v1.listing import DEFAULT_LIMIT, LISTS, ListSpec, page_body
from registra.api.v1.middleware import bearer_token, count, rate_headers, refusal
from registra.core.errors import RegistraError
from registra.core.ids import new_id
from registra.organizations.selectors import access_token_resolve

log = logging.getLogger("registra.api")
# Django's handler logs every response from 400 up here; the hot path logs its own alike.
request_log = logging.getLogger("django.request")

# The chain the responses are reproduced for (settings.MIDDLEWARE when this was written).
MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "registra.core.middleware.RequestIdMiddleware",
    "registra.api.v1.middleware.ApiV1Middleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
)

# A response: status, headers, body.
Response = tuple[int, list[tuple[bytes, bytes]], bytes]


@dataclass(frozen=True)
class Route:
    spec: ListSpec
    adapters: Mapping[str, TypeAdapter[Any]]  # every query parameter the list takes


@dataclass(frozen=True)
class Plan:
    """A request ``accept`` took: its list, validated parameters and bearer token."""

    route: Route
    params: dict[str, Any]
    token: str
    address: str


_ROUTES = {
    spec.path: Route(
        spec=spec,
        adapters={
            **{name: TypeAdapter(kind) for name, _, kind in spec.filters},
            "limit": TypeAdapter(int),
            "cursor": TypeAdapter(str),
        },
    )
    for spec in LISTS
}


def enabled() -> bool:
    """Whether the settings allow the hot path: it is on (``REGISTRA_API_HOT_PATH``) and every
    setting that changes these responses has the effect reproduced here."""
    return bool(
        settings.REGISTRA_API_HOT_PATH
        and tuple(settings.MIDDLEWARE) == MIDDLEWARE
        and not settings.SECURE_SSL_REDIRECT
        and not settings.SECURE_HSTS_SECONDS
        and not settings.USE_X_FORWARDED_HOST
        and not settings.PREPEND_WWW
        and not settings.DISALLOWED_USER_AGENTS
        and not settings.FORCE_SCRIPT_NAME
    )


def framework_headers() -> dict[str, str]:
    """The headers Django's security and clickjacking middleware put on an API response under
    the current settings, found by running them on a probe (they don't depend on the request
    while ``enabled`` holds)."""
    probe = HttpResponse()
    request = HttpRequest()
    SecurityMiddleware(lambda r: probe).process_response(request, probe)
    XFrameOptionsMiddleware(lambda r: probe).process_response(request, probe)
    return {name: value for name, value in probe.headers.items() if name != "Content-Type"}


def _single_headers(scope: Mapping[str, Any]) -> dict[bytes, bytes] | None:
    """The request headers, or None when one the hot path reads came more than once."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in (b"authorization", b"host"):
            if name in found:
                return None
            found[name] = value
    return found


def _host_allowed(host: bytes | None) -> bool:
    # As CommonMiddleware's request.get_host(): refused hosts go to Django for its 400.
    if not host:
        return False
    domain, _ = split_domain_port(host.decode("latin-1"))
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def _params(route: Route, query_string: bytes) -> dict[str, Any] | None:
    """The validated query parameters, or None unless each known one is given once, non-empty
    and valid (ninja then reports the problem, with every issue). Unknown parameters are
    ignored, as ninja ignores them."""
    if not query_string.isascii():
        return None
    try:
        pairs = parse_qsl(
            query_string.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,  # Django's own limit
        )
    except ValueError:
        return None
    params: dict[str, Any] = {}
    for name, raw in pairs:
        adapter = route.adapters.get(name)
        if adapter is None:
            continue
        if name in params or not raw or "\ufffd" in raw:
            return None
        try:
            params[name] = adapter.validate_python(raw)
        except ValidationError:
            return None
    return params


def accept(scope: Mapping[str, Any]) -> Plan | None:
    """A plan for a request the hot path can serve, or None for Django. No I/O."""
    if scope["method"] != "GET" or scope.get("root_path"):
        return None
    route = _ROUTES.get(scope["path"])
    if route is None:
        return None
    headers = _single_headers(scope)
    if headers is None or not _host_allowed(headers.get(b"host")):
        return None
    token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
    if token is None:
        return None
    params = _params(route, scope.get("query_string", b""))
    if params is None:
        return None
    client = scope.get("client")
    return Plan(route=route, params=params, token=token, address=client[0] if client else "")


def _respond(status: int, headers: dict[str, str], body: bytes) -> Response:
    head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    head += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    return status, head, body


class Server:
    """Serves plans on a worker thread: ``serve`` blocks on the database and Redis."""

    def __init__(self) -> None:
        self.static = framework_headers()

    def serve_on_thread(self, plan: Plan) -> Response | None:
        """``serve`` on a server thread, with Django's connection upkeep around it (as its
        request_started and request_finished signals do)."""
        close_old_connections()
        try:
            return self.serve(plan)
        finally:
            close_old_connections()

    def serve(self, plan: Plan) -> Response | None:
        """The response to a plan, or None to hand the request to Django (nothing counted)."""
        try:
            ctx = access_token_resolve(plan.token)
            if ctx is None or SCOPE not in ctx.scopes:
                return None
            bucket = count(ctx, address=plan.address or "unknown", method="GET")
        except Exception:  # the lookup or the count failed: Django's path reports it
            return None
        request_id = new_id("req")
        headers = {**self.static, "X-Request-Id": request_id, **rate_headers(bucket)}
        try:
            refused = refusal(bucket)
            if refused is not None:
                raise refused
            params = plan.params
            body = page_body(
                plan.route.spec,
                organization_id=ctx.organization_id,
                params=params,
                limit=params.get("limit", DEFAULT_LIMIT),
                cursor=params.get("cursor"),
            )
            return _respond(200, headers, orjson.dumps(body))
        except RegistraError as exc:
            status, error, extra = errors.exception_parts(exc, request_id)
        except Exception:
            log.exception("unhandled error in API v1", extra={"request_id": request_id})
            status, error, extra = errors.status_parts(500, request_id)
        level = logging.ERROR if status >= 500 else logging.WARNING
        request_log.log(
            level,
            "%s: %s",
            HTTPStatus(status).phrase,
            plan.route.spec.path,
            extra={"status_code": status, "request_id": request_id},
        )
        return _respond(status, {**headers, **extra}, orjson.dumps(error))
