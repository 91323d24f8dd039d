"""Redis restarting (with AOF persistence) mid-batch: clients and workers carry on."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from queue_support import SLEEPER, Fleet, dump, wait_until, write_script
from redis_server import RedisServer

from yanex.core.store import Store


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis-aof", appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture
def fleet(persistent_redis: RedisServer, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(persistent_redis.url, experiments_dir, tmp_path / "worker-logs")
    yield fleet
    fleet.stop()


def completed(store: Store) -> int:
    return sum(1 for m in store.iter_metadata() if m.get("status") == "completed")


@pytest.mark.slow
def test_batch_completes_across_a_redis_restart(
    persistent_redis: RedisServer, fleet: Fleet, experiments_dir: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, SLEEPER)
    fleet.start()
    fleet.start()
    client = subprocess.Popen(
        ["yanex", "run", str(script), "-p", "seconds=0.4", "-p", "i=range(10)",
         "--queue", "default", "--redis-url", persistent_redis.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        store = Store()
        wait_until(lambda: completed(store) >= 2, 30, "the first experiments to complete")
        persistent_redis.restart(down_for=1.0)
        output, _ = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    records = list(store.iter_metadata())
    assert client.returncode == 0, output + fleet.outputs()
    assert len(records) == 10
    assert {m["status"] for m in records} == {"completed"}, "\n".join(
        dump(store, str(m["id"])) for m in records if m["status"] != "completed"
    )
    assert all(w.process.poll() is None for w in fleet.workers), "workers carry on"


@pytest.mark.slow
def test_a_redis_outage_longer_than_the_lease_does_not_kill_running_experiments(
    persistent_redis: RedisServer, fleet: Fleet, tmp_path: Path
) -> None:
    """Redis away for longer than the lease TTL (3 s here): the key expires meanwhile, but
    the worker keeps writing store heartbeats and puts its lease back; nobody reaps it."""
    script = write_script(tmp_path, SLEEPER)
    fleet.start()
    client = subprocess.Popen(
        ["yanex", "run", str(script), "-p", "seconds=7", "--queue", "default",
         "--redis-url", persistent_redis.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        store = Store()
        wait_until(
            lambda: any(m.get("status") == "running" for m in store.iter_metadata()),
            20,
            "the experiment to start",
        )
        persistent_redis.restart(down_for=4.0)
        output, _ = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
    (metadata,) = store.iter_metadata()
    assert client.returncode == 0, output + fleet.outputs()
    assert metadata["status"] == "completed", dump(store, str(metadata["id"]))
