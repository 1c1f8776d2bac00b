"""Health endpoints: ``/healthz`` (the process is up) and ``/readyz`` (what serving needs answers).

``/readyz`` checks the database, the replica when ``DATABASE_REPLICA_URL`` is set and Redis when
``REDIS_URL`` is set. A database must answer and hold every migration this code knows; a SQLite
file must exist first, because connecting to a missing one would create it empty. The answer is
always JSON: 200 with the checks, or 503 naming what failed (the details go to the log only).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.db.backends.sqlite3.creation import DatabaseCreation as SQLiteCreation
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse

from registra.core import db

log = logging.getLogger(__name__)

OK = "ok"
_REDIS_PROBE_KEY = "readyz"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(db.PRIMARY)}
    if db.REPLICA in settings.DATABASES:
        checks["replica"] = _database(db.REPLICA)
    if settings.REDIS_URL:
        checks["redis"] = _redis()
    failed = [name for name, state in checks.items() if state != OK]
    body: dict[str, object] = {"status": "unavailable" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    return response


def _database(alias: str) -> str:
    """``ok``, or what is wrong with the database ``alias``."""
    connection = connections[alias]
    if connection.vendor == "sqlite":
        name = connection.settings_dict["NAME"]
        if not _sqlite_file_exists(name):
            log.error("readiness: the SQLite file %s does not exist", name)
            return "file missing"
        # A kept connection still reads the file it opened, even if that was moved or replaced
        # since: check the file now at the path. (Django keeps in-memory databases open.)
        connection.close()
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        log.exception("readiness: database %r is unreachable", alias)
        return "unreachable"
    if pending:
        log.error("readiness: database %r lacks %d migrations", alias, len(pending))
        return "not migrated"
    return OK


def _sqlite_file_exists(name: str) -> bool:
    """Whether the SQLite database file exists (an in-memory database always does)."""
    return SQLiteCreation.is_in_memory_db(name) or Path(name).is_file()


def _redis() -> str:
    """``ok`` when Redis takes a write (the rate-limit counters write on every request)."""
    try:
        caches["default"].set(_REDIS_PROBE_KEY, "1", timeout=10)
    except Exception:
        log.exception("readiness: Redis is unreachable")
        return "unreachable"
    return OK
