"""Cancelling queued and running experiments: Ctrl-C on a blocking client, `yanex cancel`."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from queue_support import (
    SLEEPER,
    TINY,
    Fleet,
    child_pid,
    fleet_fixture,
    process_gone,
    wait_status,
    wait_until,
    write_script,
)

import yanex
from yanex.cli.main import cli
from yanex.core.spec import ExperimentSpec
from yanex.core.store import Store
from yanex.queue import jobs
from yanex.queue.connection import connect


@pytest.fixture
def fleet(redis_url: str, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    yield from fleet_fixture(redis_url, experiments_dir, tmp_path)


def running(store: Store) -> list[str]:
    return [str(m["id"]) for m in store.iter_metadata() if m.get("status") == "running"]


def blocking_client(script: Path, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["yanex", "run", str(script), "-p", f"i=range({count})", "-p", "seconds=60",
         "--queue", "default"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def finish(client: subprocess.Popen[str], timeout: float) -> str:
    try:
        output, _ = client.communicate(timeout=timeout)
    finally:
        if client.poll() is None:
            client.kill()
    return output


def test_ctrl_c_on_a_blocking_client_cancels_its_whole_batch(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    worker = fleet.start("--grace", "5")
    client = blocking_client(write_script(tmp_path, SLEEPER), 4)
    (first,) = wait_until(lambda: running(store), 20, "an experiment to start")
    pid = child_pid(store, first)

    client.send_signal(signal.SIGINT)
    started = time.monotonic()
    output = finish(client, 30)

    assert client.returncode == 130, output
    assert time.monotonic() - started < 15
    records = list(store.iter_metadata())
    assert {m["status"] for m in records} == {"cancelled"}, output
    assert process_gone(pid)
    connection = redis.Redis.from_url(fleet.url)
    assert connection.llen("rq:queue:default") == 0
    assert connection.zcard("rq:canceled:default") == 3, "the queued ones left the queue"
    job = jobs.fetch(connect(fleet.url), f"yanex-{first}")
    assert job is not None
    wait_until(lambda: job.get_status(refresh=True) == "stopped", 5, "RQ to record the stop")
    assert worker.process.poll() is None, "the worker lives on"
    (after,) = yanex.run_multiple([ExperimentSpec(script_path=write_script(tmp_path, TINY,
                                                                           "t.py"))],
                                  queue="default")
    assert after.status == "completed", "and takes the next job"


def test_yanex_cancel_of_a_batch_wakes_its_blocking_client(fleet: Fleet, tmp_path: Path) -> None:
    store = Store()
    fleet.start("--grace", "5")
    client = blocking_client(write_script(tmp_path, SLEEPER), 3)
    (first,) = wait_until(lambda: running(store), 20, "an experiment to start")
    (batch,) = store.batch_ids()

    result = CliRunner().invoke(cli, ["cancel", batch])
    assert result.exit_code == 0, result.output
    assert result.output.count("cancelled ") == 3
    output = finish(client, 20)

    assert client.returncode == 1, output
    assert {m["status"] for m in store.iter_metadata()} == {"cancelled"}
    metadata = store.read_metadata(first)
    assert metadata["failure_reason"] == "cancelled"
    again = CliRunner().invoke(cli, ["cancel", batch])
    assert "Nothing to cancel" in again.output


def test_a_cancelled_queued_experiment_is_never_run(redis_url: str, tmp_path: Path) -> None:
    script = write_script(tmp_path, TINY)
    kept, dropped = yanex.run_multiple(
        [ExperimentSpec(script_path=script), ExperimentSpec(script_path=script)],
        queue="default",
        detach=True,
    )
    result = CliRunner().invoke(cli, ["cancel", dropped.experiment_id])
    assert result.exit_code == 0, result.output
    assert f"cancelled {dropped.experiment_id}" in result.output

    worker = subprocess.run(
        ["yanex-worker", "--burst", "--redis-url", redis_url, "--heartbeat", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    store = Store()
    assert store.read_metadata(kept.experiment_id)["status"] == "completed"
    assert store.read_metadata(dropped.experiment_id)["status"] == "cancelled"
    assert not (store.artifacts_dir(dropped.experiment_id) / "stdout.txt").exists()


def test_cancel_of_a_running_experiment_by_id_records_it_cancelled(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    (result,) = yanex.run_multiple(
        [ExperimentSpec(script_path=write_script(tmp_path, SLEEPER))], queue="default",
        detach=True
    )
    fleet.start()
    wait_status(store, result.experiment_id, {"running"}, 20)
    pid = child_pid(store, result.experiment_id)

    cancelled = CliRunner().invoke(cli, ["cancel", result.experiment_id])
    assert cancelled.exit_code == 0, cancelled.output
    metadata = wait_status(store, result.experiment_id, {"cancelled"}, 15)
    assert "RQ stop-job" in metadata["error_message"] or "cancel" in metadata["error_message"]
    wait_until(lambda: process_gone(pid), 5, "the experiment to stop")
