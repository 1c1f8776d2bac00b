"""The production HTTP server behind ``registra serve``: Granian serving Django's WSGI
application (decision 0008), with worker processes that each run requests on a fixed number of
threads."""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# What the worker processes load: Django's WSGI application behind the forwarded-header check.
TARGET = "registra.wsgi:served"


def pool_limit() -> int | None:
    """The fewest connections a PostgreSQL pool of this process may hold, or None without a
    pool (SQLite, or ``REGISTRA_DB_POOL_SIZE=0``)."""
    sizes = [
        db["OPTIONS"]["pool"]["max_size"]
        for db in settings.DATABASES.values()
        if isinstance(db.get("OPTIONS", {}).get("pool"), dict)
    ]
    return min(sizes) if sizes else None


def check_threads(threads: int) -> None:
    """Every request thread must be able to hold a connection at once: with more threads than
    the pool has connections, requests would queue for the pool's timeout and answer 503."""
    limit = pool_limit()
    if limit is not None and threads > limit:
        raise ImproperlyConfigured(
            f"--threads {threads} is more than REGISTRA_DB_POOL_SIZE={limit}: each request "
            "thread needs its own database connection; lower --threads or raise the pool size"
        )


def log_config() -> dict[str, Any]:
    """``settings.LOGGING`` for Granian's own loggers too: its messages become JSON lines on
    stderr like every other (it would otherwise print its own text format on stdout)."""
    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    loggers: dict[str, Any] = config.setdefault("loggers", {})
    loggers["_granian"] = {"level": "WARNING"}
    return config


def serve(*, host: str, port: int, workers: int, threads: int) -> None:
    """Collect static files, then serve the WSGI app (static files through WhiteNoise)."""
    from django.core.management import call_command
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    check_threads(threads)  # the command checked it already; a caller of serve() may not have
    call_command("collectstatic", interactive=False, verbosity=0)
    # Printed before Granian binds the port: callers wait for /healthz, not for this line.
    print(
        f"Registra is starting on http://{host}:{port}/ (ready when /healthz answers)", flush=True
    )
    Granian(
        TARGET,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        log_level=LogLevels.warning,
        log_dictconfig=log_config(),
        log_access=False,
        respawn_failed_workers=True,  # a worker that dies is replaced, and the death logged
        workers_kill_timeout=settings.REGISTRA_SERVE_STOP_SECONDS,
    ).serve()
