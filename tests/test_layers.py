"""Import directions (STYLE.md, "Layout"): ``core <- organizations <- assets <- imports, demo
<- api, web <- wiring``. Each server package has an explicit list of the registra packages it
may import (``ALLOWED``); nothing imports the wiring modules; core depends on Django and no
other framework; the read-only API never imports a ``services`` module; nothing under
``client/`` (the SDK distribution) imports the server.

Imports are read with ``ast`` (every ``import`` statement, including those inside functions),
so the check needs no Django setup and sees imports that only run on some code paths.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "registra"
CLIENT = ROOT / "client"

# Which other registra packages each package may import. Packages planned in STYLE.md are
# listed before they exist. The demo generator and the importer are callers of the asset
# services; the API and the web may read import runs (imports), and only the command line (a
# wiring module) runs the demo generator.
_DOMAIN = frozenset({"core", "organizations", "assets"})
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "organizations": frozenset({"core"}),
    "assets": frozenset({"core", "organizations"}),
    "imports": _DOMAIN,
    "demo": _DOMAIN,
    "api": _DOMAIN | {"imports"},
    "web": _DOMAIN | {"imports"},
}
# Start-up and configuration modules: they may import anything, nothing imports them.
WIRING = {"settings", "urls", "wsgi", "cli", "cli_import", "server", "__main__"}
# "core imports only Django": besides the standard library, only leaf libraries that bring no
# framework of their own: JSON encoding for the audit chain, ULIDs for ids, and the database
# driver Django itself runs on (adapters tuned in core). No API framework, server or HTTP
# client.
# registra_client is ours, the Django-free side shared with the drift check (the cells rule).
CORE_THIRD_PARTY = {"django", "orjson", "ulid", "psycopg", "registra_client"}


@dataclass(frozen=True)
class Import:
    """One imported module name, where it was imported, and by which module."""

    importer: str
    target: str
    path: Path
    line: int

    def __str__(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{where}:{self.line}: {self.importer} imports {self.target}"


def module_name(path: Path, base: Path, package: str) -> str:
    parts = [package, *path.relative_to(base).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, path: Path, *, is_package: bool = False) -> list[Import]:
    """Every module name ``module`` imports: ``import a.b`` gives ``a.b``; ``from a import b``
    gives ``a`` and ``a.b`` (``b`` may be a submodule); relative imports are resolved."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, path, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(Import(module, base, path, node.lineno))
            found += [
                Import(module, f"{base}.{alias.name}", path, node.lineno)
                for alias in node.names
                if alias.name != "*"
            ]
    return found


def _tree_imports(base: Path, package: str) -> list[Import]:
    found = []
    for path in sorted(base.rglob("*.py")):
        module = module_name(path, base, package)
        found += imports_in(
            path.read_text(encoding="utf-8"), module, path, is_package=path.name == "__init__.py"
        )
    return found


def _part(name: str) -> str | None:
    """The top-level part of a ``registra.<part>...`` name, or None outside the server."""
    pieces = name.split(".")
    if pieces[0] != "registra":
        return None
    return pieces[1] if len(pieces) > 1 else ""


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        src, dst = _part(imp.importer), _part(imp.target)
        if dst is None or src == dst or src in WIRING:
            continue
        if dst in WIRING:
            problems.append(f"{imp}: nothing imports the wiring module registra.{dst}")
        elif src not in ALLOWED:
            problems.append(f"{imp}: registra.{src} has no entry; add it to ALLOWED")
        elif dst not in ALLOWED[src]:
            allowed = ", ".join(sorted(ALLOWED[src])) or "no other registra package"
            problems.append(f"{imp}: {src} may import {allowed}; not {dst}")
    return problems


def core_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        top = imp.target.split(".")[0]
        if _part(imp.importer) != "core" or top == "registra" or top in sys.stdlib_module_names:
            continue
        if top not in CORE_THIRD_PARTY:
            problems.append(f"{imp}: core imports only Django and {sorted(CORE_THIRD_PARTY)}")
    return sorted(set(problems))


# The token grant is the one write API v1 makes (SPEC section 4): its handler calls that service.
API_SERVICE_IMPORTS = {
    ("registra.api.v1.token", "registra.organizations.services"),
    ("registra.api.v1.token", "registra.organizations.services.token_issue"),
}


def api_service_violations(imports: list[Import]) -> list[str]:
    return [
        f"{imp}: the read-only API reads through selectors, never a services module"
        for imp in imports
        if _part(imp.importer) == "api"
        and "services" in imp.target.split(".")
        and (imp.importer, imp.target) not in API_SERVICE_IMPORTS
    ]


def client_violations(imports: list[Import]) -> list[str]:
    """One problem per import statement of the server found under ``client/``."""
    found = {
        (imp.path, imp.line): f"{imp}: the client never imports the server"
        for imp in reversed(imports)  # the statement's first name is kept
        if imp.target.split(".")[0] == "registra"
    }
    return sorted(found.values())


def client_imports(base: Path = CLIENT) -> list[Import]:
    """Every import in ``base/**/*.py`` (none while the folder does not exist)."""
    return _tree_imports(base, "client") if base.is_dir() else []


@pytest.fixture(scope="module")
def server_imports() -> list[Import]:
    return _tree_imports(SRC, "registra")


def test_every_server_package_has_an_allow_list():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__"}
    assert packages <= set(ALLOWED), f"give {sorted(packages - set(ALLOWED))} an ALLOWED entry"
    assert modules <= WIRING, f"classify {sorted(modules - WIRING)} as wiring or move them"
    named = set().union(*ALLOWED.values())
    assert named <= set(ALLOWED), f"ALLOWED names unknown packages {sorted(named - set(ALLOWED))}"


def test_imports_follow_the_allow_lists(server_imports):
    assert layer_violations(server_imports) == []


def test_core_imports_only_django(server_imports):
    assert core_violations(server_imports) == []


def test_the_api_never_imports_a_services_module(server_imports):
    assert api_service_violations(server_imports) == []


def test_the_client_never_imports_the_server():
    assert client_violations(client_imports()) == []


# --- the checker itself ----------------------------------------------------------------------


def _check(module: str, source: str, *, is_package: bool = False) -> list[Import]:
    return imports_in(source, module, Path(SRC / "x.py"), is_package=is_package)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("registra.core.audit", "from registra.assets import models"),
        ("registra.core.audit", "import registra.organizations.models"),
        ("registra.organizations.services", "from registra.assets.services import x"),
        ("registra.assets.selectors", "from ..api.v1 import render"),
        ("registra.api.v1.assets", "from registra.web import health"),
        ("registra.web.views", "def f():\n    from registra import settings"),
        ("registra.demo.loader", "from registra.jobs import run"),
        ("registra.demo.loader", "from registra.imports import services"),
        ("registra.assets.selectors", "from registra.demo import plan"),
        ("registra.api.v1.assets", "from registra.demo.loader import load_demo"),
        ("registra.imports.planning", "from ..web import forms"),
        ("registra.core.audit", "from registra.organizations.models import Member"),
    ],
)
def test_the_checker_catches_upward_and_sideways_imports(module, source):
    assert layer_violations(_check(module, source))


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("registra.assets.services", "from registra.core import audit"),
        ("registra.assets.services", "from . import selectors"),
        ("registra.api.v1.api", "from registra.organizations.selectors import TokenContext"),
        ("registra.cli", "from registra.demo.loader import load_demo"),
        ("registra.urls", "from registra.api.v1.api import api"),
        ("registra.demo.loader", "from registra.assets import services"),
        ("registra.web.imports", "from registra.imports import selectors"),
    ],
)
def test_the_checker_allows_downward_imports(module, source):
    assert layer_violations(_check(module, source)) == []


def test_the_checker_catches_frameworks_in_core_and_services_in_the_api():
    assert core_violations(_check("registra.core.errors", "import ninja"))
    assert core_violations(_check("registra.core.errors", "import json, django.db, orjson")) == []
    assert api_service_violations(_check("registra.api.v1.token", "from ...assets import services"))
    assert api_service_violations(_check("registra.api.v1.x", "import registra.assets.services"))
    relative = _check("registra.api.v1", "from .. import services", is_package=True)
    assert [i.target for i in relative] == ["registra.api", "registra.api.services"]


def test_the_client_check_reads_every_file_under_client(tmp_path):
    client = tmp_path / "client"
    package = client / "src" / "registra_client"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from ._client import Client\n")
    (package / "_client.py").write_text("import httpx\nfrom registra_client import _models\n")
    (client / "tests").mkdir()
    (client / "tests" / "test_x.py").write_text("import registra_client\n")
    assert client_violations(client_imports(client)) == []
    # A server import anywhere under client/, even inside a function, is caught.
    (package / "drift.py").write_text("def read():\n    from registra.assets import selectors\n")
    (client / "tests" / "test_y.py").write_text("import registra.settings\n")
    problems = client_violations(client_imports(client))
    assert len(problems) == 2
    assert any("drift.py:2" in p for p in problems) and any("test_y.py:1" in p for p in problems)
    assert client_imports(tmp_path / "absent") == []
