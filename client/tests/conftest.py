"""Fixtures for the client's tests (plain pytest: nothing here needs the server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(data, name="export.csv") -> the path of a new file holding ``data``."""

    def _write(data: bytes | str, name: str = "export.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    return _write
