"""The writes ``test_replica`` and ``test_database_restart`` make, through the services, in a
process of their own against their throwaway primary (``DATABASE_URL``): ``run(env, "setup")``
or ``run(env, "after-pause", ORG_ID, ACCOUNT_ID)``, which runs ``python -m tests.replica_actions``
and returns the JSON object it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``python -m tests.replica_actions *args`` with this environment (a deployment's own
    database), which must succeed; the JSON object it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.replica_actions", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


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
