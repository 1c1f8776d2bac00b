"""What the browser tests check on a page besides its content: accessibility with axe-core, and
a full-page screenshot kept for people to look at."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

# The bar: no serious or critical violation. Minor and moderate ones are advice.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
# The CI run keeps var/ (git ignores it); docs/ gets a chosen few by hand.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

_AXE = Axe()  # axe-core's script from the package's wheel: nothing is fetched


def check_accessibility(page: Page) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail listing every serious or critical violation
    (rule id, help, the nodes it found). The full list of violations when none blocks."""
    violations: list[dict[str, Any]] = _AXE.run(page).response["violations"]
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe-core on {page.url}:\n" + "\n".join(map(_describe, blocking))
    return violations


def save_screenshot(page: Page, test_name: str) -> Path:
    """A full-page screenshot at ``var/screenshots/<test name>.png``; its path."""
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', test_name)}.png"
    page.screenshot(path=path, full_page=True)
    return path


def _describe(violation: dict[str, Any]) -> str:
    targets = "\n".join(f"    {json.dumps(node['target'])}" for node in violation["nodes"])
    return f"- {violation['id']} ({violation['impact']}): {violation['help']}\n{targets}"
