"""Test isolation: every test gets its own experiments directory and a clean YANEX_* env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def experiments_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh store for each test, via YANEX_EXPERIMENTS_DIR (never ~/.yanex)."""
    for name in list(os.environ):
        if name.startswith("YANEX_"):
            monkeypatch.delenv(name)
    root = tmp_path / "experiments"
    monkeypatch.setenv("YANEX_EXPERIMENTS_DIR", str(root))
    return root
