#!/usr/bin/env bash
# Install ./client alone into a fresh virtual environment (no Django, no server dependency) and
# run its tests there. Used by `make test` and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
venv=$(mktemp -d -t registra-client-alone-XXXXXX)
trap 'rm -rf "$venv"' EXIT
"$PYTHON" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet ./client pytest
"$venv/bin/python" - <<'PY'
import importlib.util
import sys

leaked = [m for m in ("django", "ninja", "registra") if importlib.util.find_spec(m)]
if leaked:
    sys.exit(f"the client's environment can import {', '.join(leaked)}: it must not")
PY
# The tests import the installed package (not ./client/src) and run from a copy of the tests,
# so nothing of the repository's own configuration or sources is on the path.
work=$(mktemp -d -t registra-client-tests-XXXXXX)
trap 'rm -rf "$venv" "$work"' EXIT
mkdir "$work/client"
cp -r client/tests "$work/client/tests"
cp client/pyproject.toml "$work/client/pyproject.toml"
cp -r examples "$work/examples"
echo "== the client alone: $("$venv/bin/pip" show registra-client | grep -E '^(Name|Version)' | tr '\n' ' ')"
(cd "$work/client" && "$venv/bin/pytest" -q)
