"""Template context for every page: what the signed-in member may do here, from the one policy
table (``can.write_register`` and so on), so a page shows only the controls the services will
accept."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from registra.organizations.policy import Permission, may


def permissions(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"can": {}}
    return {"can": {p.name.lower(): may(actor, p) for p in Permission}}
