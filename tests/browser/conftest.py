"""Browser tests: Playwright drives Debian's Chromium against a real ``registra serve``.

Nothing is downloaded at test time: the browser is the ``chromium`` Debian package (the README's
setup and ``.ci/run`` install it) and axe-core's script comes inside the axe-playwright-python
wheel. Each test module gets its own server and database, loaded with the demo register, so a
journey that writes sees no other module's rows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.browser.members import sign_in
from tests.browser.page_checks import save_screenshot
from tests.servers import (
    drop_postgres_database,
    fresh_postgres_database,
    own_env,
    run_registra,
    serving,
)

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet on the network: no updates, sync or field trials reaching out, and no GPU
# on a CI machine. --no-sandbox because CI runs as root, where Chromium's sandbox will not start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_ORG = "skyline-mro"
DEMO_ASSETS = "60"  # enough for a full first page, filters and search; loads in about a second
# With the suite on PostgreSQL (CI's second pass) the servers use it too, in a database and a
# cache prefix of their own, so they never touch the suite's test database or its counters.
POSTGRES_DATABASE = "reg_browser"
CACHE_PREFIX = "reg-browser"


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    # Package scope, not session: while Playwright runs, its event loop can be this thread's
    # running loop, and Django refuses ORM calls "from an async context" then. It stops with
    # the last browser test, before the rest of the suite.
    if not CHROMIUM.is_file():
        missing = f"{CHROMIUM} is missing: `apt-get install chromium` (README, Two commands)"
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run installs it, so CI must not skip these tests")
        pytest.skip(missing)
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of this module's server: a migrated database holding the demo register.
    ``registra`` commands run with it act on the same database as the server."""
    data_dir = tmp_path_factory.mktemp("browser-server")
    # A cache prefix of this module's own, new each run: with Redis, counters such as the
    # sign-in throttle's (per email and per client address, all 127.0.0.1 here) would otherwise
    # carry over from one module, or one run, to the next.
    prefix = f"{CACHE_PREFIX}-{secrets.token_hex(4)}"
    # The sign-in throttle counts in fixed windows, each account's ending at its own moment:
    # with a day's window rather than 15 minutes, a journey's refused sign-ins are 96 times less
    # likely to fall on both sides of an end (the count would start again). The limit is the
    # default's, 5 refusals.
    env = own_env(
        data_dir,
        secret_key="browser-tests-only",
        REGISTRA_CACHE_PREFIX=prefix,
        REGISTRA_SIGN_IN_FAILURES_PER_ACCOUNT="5/1d",
    )
    suite_database = os.environ.get("DATABASE_URL", "")
    on_postgres = suite_database.startswith("postgres")
    if on_postgres:
        env["DATABASE_URL"] = fresh_postgres_database(suite_database, POSTGRES_DATABASE)
        if redis := os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = redis
    run_registra(env, "migrate")
    run_registra(env, "demo-data", "--org", DEMO_ORG, "--assets", DEMO_ASSETS, "--seed", "1")
    yield env
    if on_postgres:
        drop_postgres_database(suite_database, POSTGRES_DATABASE)


@pytest.fixture(scope="module")
def base_url(server_env: dict[str, str]) -> Iterator[str]:
    """The address of this module's ``registra serve``."""
    with serving(server_env, Path(server_env["REGISTRA_DATA_DIR"]) / "server.log") as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A tab in a fresh browser context (no cookies, no storage) whose relative URLs go to this
    module's server."""
    with browser.new_context(base_url=base_url) as context:
        yield context.new_page()


@pytest.fixture(scope="module")
def demo_members(server_env: dict[str, str]) -> dict[str, dict[str, str]]:
    """The demo admin, editor, auditor and viewer by role (``email``, ``password``...), with
    passwords fresh from ``registra demo-members``, as ``make demo`` prints them."""
    printed = run_registra(server_env, "demo-members", "--org", DEMO_ORG, "--json")
    return {member["role"]: member for member in json.loads(printed)}


@pytest.fixture
def signed_in(page: Page, demo_members: dict[str, dict[str, str]]) -> Callable[[str], Page]:
    """``signed_in(role)``: this test's page, signed in through the form as the demo member of
    that role, on the register list it lands on."""

    def as_role(role: str) -> Page:
        member = demo_members[role]
        sign_in(page, member["email"], member["password"])
        expect(page).to_have_url(re.compile(rf"/o/{DEMO_ORG}/$"))
        return page

    return as_role


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page], Path]:
    """Saves the page's full-page screenshot as ``var/screenshots/<this test's name>.png``."""
    return lambda page: save_screenshot(page, request.node.name)
