"""Which database serves which work: the one place that says it.

Every write (the services), the token grant and the token lookup use the primary (``default``).
API v1's data reads (list pages, single records, the organization) use ``api_reads()``: the
streaming replica when ``DATABASE_REPLICA_URL`` is set, else the primary. The token lookup stays on
the primary so that a token works the moment it is granted and stops the moment its service
account is rotated, disabled or deleted, however far the replica lags (decision 0006).
"""

from __future__ import annotations

from django.conf import settings

PRIMARY = "default"
REPLICA = "replica"


def api_reads() -> str:
    """The database alias of API v1's data reads."""
    return REPLICA if REPLICA in settings.DATABASES else PRIMARY
