"""API v1's own request handler: a second Django handler with a lean middleware chain and the
API's own URLconf (decision 0003).

``ApiV1Dispatch`` comes first in ``MIDDLEWARE``. It hands every ``/api/v1`` request to the chain
in ``settings.API_V1_MIDDLEWARE`` (security headers, request id, token and rate limits, host
checks) and the ninja API, and sends everything else down the web UI's chain. A browser
session never authenticates an API call, so the session, authentication, CSRF and messages
middleware have nothing to do there. Because it is a middleware, every entry point (the WSGI
application ``registra serve`` runs, Django's test client, a live test server) takes the same
route.

Nothing is dropped silently: a middleware in ``MIDDLEWARE`` that the API chain does not run
and that is not known to be web-only is named in a warning at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.utils.module_loading import import_string

log = logging.getLogger("registra.api")

PREFIX = "/api/v1/"
URLCONF = "registra.api.v1.urls"
DISPATCH = "registra.api.v1.stack.ApiV1Dispatch"
# Middleware of the web UI that has nothing to do on /api/v1, and why.
WEB_ONLY = {
    "whitenoise.middleware.WhiteNoiseMiddleware": "static files are not under /api/v1",
    "django.contrib.sessions.middleware.SessionMiddleware": "a session never authenticates",
    "django.middleware.csrf.CsrfViewMiddleware": "the API reads no cookies",
    "django.contrib.auth.middleware.AuthenticationMiddleware": "members sign in to the web UI",
    "django.contrib.messages.middleware.MessageMiddleware": "the API renders no pages",
}


def is_api(path: str) -> bool:
    return path.startswith(PREFIX) or path == PREFIX[:-1]


def require_dispatch() -> None:
    """At start-up (``ApiConfig.ready``): without the dispatch, nothing would serve /api/v1."""
    if DISPATCH not in settings.MIDDLEWARE:
        raise ImproperlyConfigured(
            f"MIDDLEWARE must include {DISPATCH}: it serves /api/v1 (docs/decisions/0003)"
        )


def unrun_middleware() -> list[str]:
    """Warnings for the middleware after the dispatch that the API chain does not run and
    that is not known to be web-only."""
    chain = list(settings.MIDDLEWARE)
    api_chain = set(settings.API_V1_MIDDLEWARE)
    after = chain[chain.index(DISPATCH) + 1 :]
    return [
        f"{path} is in MIDDLEWARE but not in API_V1_MIDDLEWARE: it does not run for /api/v1"
        for path in after
        if path not in api_chain and path not in WEB_ONLY
    ]


class ApiHandler(BaseHandler):
    """Django's request handling with ``API_V1_MIDDLEWARE`` and the API's URLconf, built as
    ``BaseHandler.load_middleware`` builds a synchronous chain."""

    def __init__(self) -> None:
        super().__init__()
        self._view_middleware: list[Callable[..., Any]] = []
        self._template_response_middleware: list[Callable[..., Any]] = []
        self._exception_middleware: list[Callable[..., Any]] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(settings.API_V1_MIDDLEWARE):
            try:
                instance = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def serve(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = URLCONF  # type: ignore[attr-defined]  # read by resolve_request
        return self._middleware_chain(request)  # type: ignore[return-value]  # built synchronous


class ApiV1Dispatch:
    """First in ``MIDDLEWARE``: ``/api/v1`` to the API's handler, the rest to the web chain."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        for warning in unrun_middleware():
            log.warning(warning)
        self.api = ApiHandler()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if is_api(request.path_info):
            return self.api.serve(request)
        return self.get_response(request)
