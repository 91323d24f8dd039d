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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real redis-server for the whole session (no persistence)."""
    from redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """A flushed database on the session's redis-server, also set as YANEX_REDIS_URL."""
    redis_server.client().flushall()
    monkeypatch.setenv("YANEX_REDIS_URL", redis_server.url)
    return str(redis_server.url)
