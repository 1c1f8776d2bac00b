"""ASGI entry point used by ``registra serve``."""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

# Idle request threads kept for reuse; more are made when more requests are in flight.
IDLE_THREADS = 64
# Threads serving hot-path requests (each holds a pooled database connection while it serves).
HOT_THREADS = 4


class SyncASGIHandler(ASGIHandler):
    """Django's ASGI handler, tuned for an app whose middleware and views are all synchronous.

    The stock handler builds an async middleware chain and crosses between the event loop and a
    worker thread around each synchronous piece (middleware hooks, view middleware, the view),
    and it starts a new thread for every request (and another to join it). Together these
    dominated the CPU profile of the API list endpoint. Here the chain is built synchronous and
    runs in one ``sync_to_async`` call, as under WSGI, on a request thread taken from a pool.
    uvicorn still serves the connections asynchronously; middleware, order, thread affinity
    within a request and the responses are unchanged.

    Plain list GETs of API v1 go first to the hot path (``registra.api.v1.hotpath``), which
    serves them on its own thread pool without Django's request cycle and hands back to Django
    whatever it does not serve.
    """

    def __init__(self) -> None:
        super().__init__()
        self._idle: list[ThreadPoolExecutor] = []  # only touched on the event loop
        self.hot: Any = None  # the hot path's server, when the settings allow it
        self.hot_served = 0  # requests the hot path answered (only touched on the event loop)
        from registra.api.v1 import hotpath  # imports models: only after django.setup()

        if hotpath.enabled():
            self.hot = hotpath.Server()
            self._hot_accept = hotpath.accept
            self._hot_threads = ThreadPoolExecutor(HOT_THREADS, thread_name_prefix="registra-hot")

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        if self.hot is not None and await self._serve_hot(scope, send):
            return
        worker = self._idle.pop() if self._idle else self._new_worker()
        try:
            async with ThreadSensitiveContext(executor=worker):
                await self.handle(scope, receive, send)
        finally:
            if len(self._idle) < IDLE_THREADS:
                self._idle.append(worker)
            else:
                worker.shutdown(wait=False)

    async def _serve_hot(self, scope: dict[str, Any], send: Any) -> bool:
        plan = self._hot_accept(scope)
        if plan is None:
            return False
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self._hot_threads, self.hot.serve_on_thread, plan)
        if response is None:
            return False
        status, headers, body = response
        self.hot_served += 1
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    @staticmethod
    def _new_worker() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="registra-request")


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
django.setup(set_prefix=False)
application = SyncASGIHandler()
