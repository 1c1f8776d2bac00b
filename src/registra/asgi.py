"""ASGI entry point used by ``registra serve``."""

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

# Idle request threads kept for reuse; more are made when more requests are in flight.
IDLE_THREADS = 64


class SyncASGIHandler(ASGIHandler):
    """Django's ASGI handler, tuned for an app whose middleware and views are all synchronous.

    The stock handler builds an async middleware chain and crosses between the event loop and a
    worker thread around each synchronous piece (middleware hooks, view middleware, the view),
    and it starts a new thread for every request (and another to join it). Together these
    dominated the CPU profile of the API list endpoint. Here the chain is built synchronous and
    runs in one ``sync_to_async`` call, as under WSGI, on a request thread taken from a pool.
    uvicorn still serves the connections asynchronously; middleware, order, thread affinity
    within a request and the responses are unchanged.

    API v1 requests take the same route, then API v1's own lean chain
    (``registra.api.v1.stack``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []  # only touched on the event loop

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        worker = self._idle.pop() if self._idle else self._new_worker()
        try:
            async with ThreadSensitiveContext(executor=worker):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS:
                self._idle.append(worker)
            else:
                worker.shutdown(wait=False)

    @staticmethod
    def _new_worker() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="registra-request")


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
django.setup(set_prefix=False)
application = SyncASGIHandler()
