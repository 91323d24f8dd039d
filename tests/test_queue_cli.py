"""The fleet from a shell: `yanex queue`, `yanex doctor`, `yanex list`, configuration,
and the Redis password, which is masked wherever a URL is printed or stored."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from queue_support import (
    SLEEPER,
    TINY,
    Fleet,
    fleet_fixture,
    wait_status,
    wait_until,
    write_script,
)
from redis_server import free_port, redis_binary

import yanex
from yanex.cli.main import cli
from yanex.cli.worker import worker_command
from yanex.core.spec import ExperimentSpec
from yanex.core.store import Store
from yanex.core.urls import mask_password
from yanex.queue.connection import connect

PASSWORD = "hunter2"


@pytest.fixture
def fleet(redis_url: str, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    yield from fleet_fixture(redis_url, experiments_dir, tmp_path)


@pytest.fixture
def secret_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server that wants a password; yields its URL with the password in it."""
    port = free_port()
    server = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", PASSWORD, "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    try:
        wait_until(lambda: _pings(url), 10, "the password-protected redis-server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _pings(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_queue_shows_queues_and_workers_with_host_gpu_experiment_and_heartbeat(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    (result,) = yanex.run_multiple(
        [ExperimentSpec(script_path=write_script(tmp_path, SLEEPER))], queue="default",
        detach=True
    )
    yanex.run_multiple([ExperimentSpec(script_path=write_script(tmp_path, TINY, "t.py"))],
                       queue="later", detach=True)
    worker = fleet.start("--gpu", "3")
    wait_status(store, result.experiment_id, {"running"}, 20)

    code, output = invoke("queue")
    assert code == 0, output
    assert "default" in output and "later" in output
    assert worker.name in output
    worker_row = next(line for line in output.splitlines() if worker.name in line)
    assert "3" in worker_row and "busy" in worker_row
    assert result.experiment_id in worker_row
    assert "s ago" in worker_row


def test_queue_without_workers_says_how_to_start_one(redis_url: str) -> None:
    code, output = invoke("queue")
    assert code == 0, output
    assert "No workers are running (start one: yanex-worker --queue default)" in output


def test_list_shows_queued_and_running_experiments_with_their_worker(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    running, queued = yanex.run_multiple(
        [ExperimentSpec(script_path=write_script(tmp_path, SLEEPER), name=f"e{i}")
         for i in range(2)],
        queue="default",
        detach=True,
    )
    worker = fleet.start()
    wait_status(store, running.experiment_id, {"running"}, 20)
    code, output = invoke("list")
    assert code == 0, output
    running_row = next(line for line in output.splitlines() if running.experiment_id in line)
    queued_row = next(line for line in output.splitlines() if queued.experiment_id in line)
    assert "running" in running_row and worker.name[:10] in running_row
    assert "queued" in queued_row and "default" in queued_row


def test_doctor_passes_with_a_worker_on_the_queue(fleet: Fleet) -> None:
    fleet.start(queues=("gpu",))
    code, output = invoke("doctor", "--queue", "gpu")
    assert code == 0, output
    assert "✓ redis:" in output
    assert "✓ workers: 1 listening" in output
    assert "appendonly is off" in output, "the test Redis has no AOF: doctor says so"


def test_doctor_fails_without_a_worker_and_says_what_to_do(redis_url: str) -> None:
    code, output = invoke("doctor", "--queue", "gpu")
    assert code == 1
    assert "no yanex-worker is listening on queue 'gpu'" in output
    assert "start one: yanex-worker --queue gpu" in output


def test_doctor_names_workers_writing_to_another_store(fleet: Fleet, tmp_path: Path) -> None:
    worker = fleet.start(store_dir=tmp_path / "elsewhere")
    code, output = invoke("doctor", "--queue", "default")
    assert code == 1
    assert f"{worker.name} write to a different experiments directory" in output
    assert "--experiments-dir" in output


def test_doctor_without_redis_is_fine_for_local_runs(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    code, output = invoke("doctor", "--redis-url", url)
    assert code == 0, output
    assert f"cannot reach Redis at {url}" in output
    assert "only needed for --queue" in output
    code, output = invoke("doctor", "--redis-url", url, "--queue", "default")
    assert code == 1, output


def test_without_a_queue_runs_locally_and_needs_no_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YANEX_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    code, output = invoke("run", str(write_script(tmp_path, TINY)))
    assert code == 0, output
    (metadata,) = Store().iter_metadata()
    assert metadata["status"] == "completed"
    assert metadata["execution"]["backend"] == "local"


def test_yanex_queue_environment_variable_selects_the_queue(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YANEX_QUEUE", "fromenv")
    code, output = invoke("run", str(write_script(tmp_path, TINY)), "--detach")
    assert code == 0, output
    (metadata,) = Store().iter_metadata()
    assert metadata["status"] == "queued"
    assert metadata["execution"]["queue"] == "fromenv"
    assert connect(redis_url).llen("rq:queue:fromenv") == 1


def test_detach_without_a_queue_is_a_usage_error(tmp_path: Path) -> None:
    code, output = invoke("run", str(write_script(tmp_path, TINY)), "--detach")
    assert code == 2
    assert "--detach needs a queue" in output


def test_password_is_masked_in_output_metadata_and_listings(
    secret_redis: str, experiments_dir: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, TINY)
    code, submitted = invoke("run", str(script), "-p", "i=range(2)", "--queue", "default",
                             "--redis-url", secret_redis, "--detach")
    assert code == 0, submitted
    (batch,) = Store().batch_ids()
    fleet = Fleet(secret_redis, experiments_dir, tmp_path / "logs")
    try:
        fleet.start(queues=("default",))
        code, waited = invoke("wait", batch, "--redis-url", secret_redis)
        assert code == 0, waited + fleet.outputs()
        _, queue_output = invoke("queue", "--redis-url", secret_redis)
        _, doctor_output = invoke("doctor", "--redis-url", secret_redis, "--queue", "default")
        worker_log = fleet.outputs()
    finally:
        fleet.stop()
    masked = mask_password(secret_redis)
    assert masked is not None and PASSWORD not in masked
    assert masked in doctor_output
    for text in (submitted, waited, queue_output, doctor_output, worker_log):
        assert PASSWORD not in text
    stored = [p.read_text() for p in experiments_dir.rglob("*") if p.is_file()]
    assert not [text for text in stored if PASSWORD in text]
    assert any(masked in text for text in stored), "the masked URL is recorded"


def test_a_wrong_password_fails_with_the_url_masked(secret_redis: str) -> None:
    wrong = secret_redis.replace(PASSWORD, "letmein")
    code, output = invoke("queue", "--redis-url", wrong)
    assert code == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1" in output
    assert "letmein" not in output


def test_tls_urls_are_masked_too() -> None:
    assert mask_password("rediss://ops:s3cret@redis.example:6380/1") == (
        "rediss://ops:***@redis.example:6380/1"
    )
    assert mask_password("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_a_tls_url_that_cannot_connect_is_reported_masked() -> None:
    started = time.monotonic()
    code, output = invoke("queue", "--redis-url", f"rediss://:s3cret@127.0.0.1:{free_port()}/0")
    assert code == 1
    assert "cannot reach Redis at rediss://:***@127.0.0.1" in output
    assert "s3cret" not in output
    assert time.monotonic() - started < 10


def test_worker_help_names_every_option_of_the_issue() -> None:
    result = CliRunner().invoke(worker_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--queue", "--redis-url", "--name", "--burst", "--max-jobs", "--gpu",
                   "--experiments-dir", "--allow-root", "--heartbeat", "--grace"):
        assert option in result.output


def test_run_help_names_the_queue_options() -> None:
    code, output = invoke("run", "--help")
    assert code == 0
    for option in ("--queue", "--redis-url", "--detach", "--retry"):
        assert option in output
    for command in ("queue", "wait", "cancel", "doctor"):
        code, output = invoke(command, "--help")
        assert code == 0, output
