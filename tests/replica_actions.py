"""The writes ``test_replica`` makes, through the services, in a process of their own against the
throwaway primary (``DATABASE_URL``): ``python -m tests.replica_actions setup`` or
``... after-pause ORG_ID ACCOUNT_ID``. Prints one JSON object."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def setup() -> dict[str, Any]:
    """The schema, an organization, two service accounts and one asset."""
    from django.core.management import call_command

    from registra.organizations import services as org_services
    from tests.cast import REASON, make_asset, operator

    call_command("migrate", interactive=False, verbosity=0)
    org = org_services.organization_create(
        actor=operator(), reason=REASON, slug="replica-test", name="Replica test"
    )
    accounts = {}
    for name in ("reader", "doomed"):
        issued = org_services.service_account_create(
            organization=org,
            actor=operator(org),
            reason=REASON,
            name=name,
            scopes="assets:read organization:read",
        )
        accounts[name] = [issued.account.id, issued.secret]
    asset = make_asset(org, "before-pause")
    return {"org": org.id, "asset": asset.id, **accounts}


def after_pause(org_id: str, account_id: str) -> dict[str, Any]:
    """A new asset, and the service account ``account_id`` disabled."""
    from registra.organizations import selectors
    from registra.organizations import services as org_services
    from tests.cast import REASON, make_asset, operator

    org = selectors.organization_get(org_id)
    asset = make_asset(org, "after-pause")
    org_services.service_account_disable(
        organization=org, actor=operator(org), reason=REASON, account_id=account_id
    )
    return {"asset": asset.id}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registra.settings")
    import django

    django.setup()
    command, *args = argv
    result = setup() if command == "setup" else after_pause(*args)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
