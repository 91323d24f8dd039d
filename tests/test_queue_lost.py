"""Nothing is lost: dead workers, preempted workers, leases and retries.

Workers heart-beat every second, so their leases lapse 3 s after they die (the lease is
3 missed heartbeats, at least 3 s; 15 s at the default 5 s heartbeat).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from queue_support import (
    FIRST_ATTEMPT_HANGS,
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
from yanex.core.status import Status
from yanex.core.store import Store
from yanex.queue import keys, leases
from yanex.queue.connection import connect
from yanex.queue.waiting import wait_for

DETECTION_BUDGET = 30.0  # the issue: worker_lost is recorded within 30 s


@pytest.fixture
def fleet(redis_url: str, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    yield from fleet_fixture(redis_url, experiments_dir, tmp_path)


def submit(script: Path, retry: int = 0, **config: object) -> str:
    spec = ExperimentSpec(script_path=script, config=dict(config))
    (result,) = yanex.run_multiple([spec], queue="default", detach=True, retry=retry)
    return result.experiment_id


def running_on(store: Store, experiment_id: str, worker: str) -> int:
    """Wait until `worker` runs the experiment; return the experiment's pid."""
    metadata = wait_status(store, experiment_id, {"running"}, 20)
    assert metadata["execution"]["worker"] == worker
    return child_pid(store, experiment_id)


def failed_job(url: str, experiment_id: str, attempt_job: str | None = None) -> bool:
    job = attempt_job or keys.job_id(experiment_id)
    return redis.Redis.from_url(url).zscore("rq:failed:default", job) is not None


@pytest.mark.slow
def test_sigkill_of_the_worker_group_is_found_by_the_waiting_client(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    experiment_id = submit(write_script(tmp_path, SLEEPER))
    worker = fleet.start()
    pid = running_on(store, experiment_id, worker.name)

    worker.signal_group(signal.SIGKILL)
    killed_at = time.monotonic()
    (result,) = wait_for(store, [experiment_id], timeout=DETECTION_BUDGET + 5)
    detected_after = time.monotonic() - killed_at

    assert result.status == "failed", json.dumps(store.read_metadata(experiment_id))
    assert result.failure_reason == "worker_lost"
    assert detected_after < DETECTION_BUDGET
    assert worker.name in (result.error_message or "")
    wait_until(lambda: process_gone(pid), 5, "the orphaned experiment process to die")
    assert failed_job(fleet.url, experiment_id), "the RQ job goes to the failed registry"
    client = redis.Redis.from_url(fleet.url)
    assert not client.hexists("yanex:leases", experiment_id)
    assert not client.hexists("yanex:workers", worker.name), "the dead worker is forgotten"


@pytest.mark.slow
def test_sigkill_of_the_main_process_kills_the_experiment_and_a_live_worker_reaps_it(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    experiment_id = submit(write_script(tmp_path, SLEEPER))
    victim = fleet.start()
    pid = running_on(store, experiment_id, victim.name)
    fleet.start(queues=("elsewhere",))  # alive, idle: its maintenance finds the lost run

    victim.signal_main(signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: process_gone(pid), 5, "the experiment to die with its worker")
    metadata = wait_status(store, experiment_id, {"failed"}, DETECTION_BUDGET)
    assert time.monotonic() - killed_at < DETECTION_BUDGET
    assert metadata["failure_reason"] == "worker_lost"
    wait_until(lambda: failed_job(fleet.url, experiment_id), 5, "the job in the failed registry")


@pytest.mark.slow
def test_retry_after_a_lost_worker_completes_on_another_worker(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    marker = tmp_path / "first-attempt-started"
    experiment_id = submit(write_script(tmp_path, FIRST_ATTEMPT_HANGS), retry=1, marker=str(marker))
    lost = fleet.start()
    running_on(store, experiment_id, lost.name)
    rescuer = fleet.start()

    lost.signal_group(signal.SIGKILL)
    (result,) = wait_for(store, [experiment_id], timeout=DETECTION_BUDGET + 20)

    metadata = store.read_metadata(experiment_id)
    assert result.status == "completed", json.dumps(metadata, indent=1)
    assert metadata["execution"]["attempt"] == 2
    assert metadata["execution"]["worker"] == rescuer.name
    (first,) = metadata["attempts"]
    assert first["attempt"] == 1
    assert first["failure_reason"] == "worker_lost"
    assert first["worker"] == lost.name
    artifacts = store.artifacts_dir(experiment_id)
    assert "pid=" in (artifacts / "stdout.attempt1.txt").read_text(), "attempt 1's log is kept"
    assert "pid=" in (artifacts / "stdout.txt").read_text()


def test_a_listing_on_the_worker_host_does_not_defeat_retry(fleet: Fleet, tmp_path: Path) -> None:
    store = Store()
    marker = tmp_path / "first-attempt-started"
    experiment_id = submit(write_script(tmp_path, FIRST_ATTEMPT_HANGS), retry=1, marker=str(marker))
    lost = fleet.start()
    running_on(store, experiment_id, lost.name)
    lost.signal_group(signal.SIGKILL)
    lost.wait(timeout=10)
    assert CliRunner().invoke(cli, ["list"]).exit_code == 0
    fleet.start()
    (result,) = wait_for(store, [experiment_id], timeout=DETECTION_BUDGET)
    assert result.status == "completed", json.dumps(store.read_metadata(experiment_id))


def test_sigterm_preempts_the_running_experiment_and_the_worker_exits(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    experiment_id = submit(write_script(tmp_path, SLEEPER))
    queued_behind = submit(write_script(tmp_path, TINY, "tiny.py"))
    worker = fleet.start("--grace", "5")
    pid = running_on(store, experiment_id, worker.name)

    worker.signal_main(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.output()

    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "failed", json.dumps(metadata, indent=1)
    assert metadata["failure_reason"] == "preempted"
    assert worker.name in metadata["error_message"]
    assert process_gone(pid)
    assert store.read_metadata(queued_behind)["status"] == "queued", "nothing new is started"
    assert failed_job(fleet.url, experiment_id)
    assert not redis.Redis.from_url(fleet.url).hexists("yanex:leases", experiment_id)


def test_sigterm_with_retries_left_requeues_for_another_worker(
    fleet: Fleet, tmp_path: Path
) -> None:
    store = Store()
    marker = tmp_path / "first-attempt-started"
    experiment_id = submit(write_script(tmp_path, FIRST_ATTEMPT_HANGS), retry=1, marker=str(marker))
    preempted = fleet.start("--grace", "5")
    running_on(store, experiment_id, preempted.name)

    preempted.signal_main(signal.SIGTERM)
    assert preempted.wait(timeout=15) == 0, preempted.output()
    metadata = wait_status(store, experiment_id, {"queued"}, 5)
    assert metadata["attempts"][0]["failure_reason"] == "preempted"

    successor = fleet.start()
    (result,) = wait_for(store, [experiment_id], timeout=20)
    assert result.status == "completed"
    assert store.read_metadata(experiment_id)["execution"]["worker"] == successor.name


IGNORES_SIGTERM = (
    "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('pid=%d' % os.getpid(), flush=True)\ntime.sleep(60)\n"
)


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_period(
    fleet: Fleet, tmp_path: Path
) -> None:
    stubborn = write_script(tmp_path, IGNORES_SIGTERM)
    store = Store()
    experiment_id = submit(stubborn)
    worker = fleet.start("--grace", "1")
    pid = running_on(store, experiment_id, worker.name)
    started = time.monotonic()
    worker.signal_main(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.output()
    assert time.monotonic() - started < 8
    assert process_gone(pid)
    assert store.read_metadata(experiment_id)["failure_reason"] == "preempted"


def test_a_second_sigterm_kills_the_experiment_at_once(fleet: Fleet, tmp_path: Path) -> None:
    stubborn = write_script(tmp_path, IGNORES_SIGTERM)
    store = Store()
    experiment_id = submit(stubborn)
    worker = fleet.start("--grace", "60")
    pid = running_on(store, experiment_id, worker.name)
    started = time.monotonic()
    worker.signal_main(signal.SIGTERM)
    time.sleep(1.2)
    worker.signal_main(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.output()
    assert time.monotonic() - started < 10, "not the 60 s grace"
    assert process_gone(pid)
    assert store.read_metadata(experiment_id)["failure_reason"] == "preempted"


def test_retry_runs_a_failing_script_again_as_new_attempts(fleet: Fleet, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    flaky = write_script(
        tmp_path,
        "import pathlib, sys\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "n = len(counter.read_text()) if counter.exists() else 0\n"
        "counter.write_text('x' * (n + 1))\n"
        "print('attempt', n + 1)\n"
        "sys.exit(0 if n >= 2 else 3)\n",
    )
    fleet.start()
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=flaky)], queue="default", retry=2)
    assert result.status == "completed"
    store = Store()
    metadata = store.read_metadata(result.experiment_id)
    assert metadata["execution"]["attempt"] == 3
    assert [a["exit_code"] for a in metadata["attempts"]] == [3, 3]
    artifacts = store.artifacts_dir(result.experiment_id)
    assert "attempt 1" in (artifacts / "stdout.attempt1.txt").read_text()
    assert "attempt 2" in (artifacts / "stdout.attempt2.txt").read_text()
    assert "attempt 3" in (artifacts / "stdout.txt").read_text()


def test_retries_run_out_and_the_experiment_fails(fleet: Fleet, tmp_path: Path) -> None:
    failing = write_script(tmp_path, "raise SystemExit(4)\n", "fail.py")
    fleet.start()
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=failing)], queue="default", retry=1)
    assert result.status == "failed"
    assert result.exit_code == 4
    metadata = Store().read_metadata(result.experiment_id)
    assert metadata["execution"]["attempt"] == 2
    assert len(metadata["attempts"]) == 1
    wait_until(lambda: failed_job(fleet.url, result.experiment_id), 5, "the failed job")


def test_a_job_that_vanished_from_redis_is_reported_failed(redis_url: str, tmp_path: Path) -> None:
    (result,) = yanex.run_multiple(
        [ExperimentSpec(script_path=write_script(tmp_path, TINY))],
        queue="default",
        detach=True,
    )
    connect(redis_url).flushall()  # a Redis restart without persistence
    (ended,) = wait_for(Store(), [result.experiment_id], timeout=20)
    assert ended.status == "failed"
    assert "gone from Redis" in (ended.error_message or "")


# -- the lease reaper, without processes ----------------------------------------------


def lease_for(experiment_id: str, store: Store, worker: str = "gone") -> leases.Lease:
    return leases.Lease(
        experiment_id=experiment_id,
        worker=worker,
        host="elsewhere",
        job_id=keys.job_id(experiment_id),
        attempt=1,
        store_id=store.store_id,
        events=keys.events(experiment_id),
    )


def running_record(store: Store) -> str:
    experiment_id = store.create(
        {"status": "queued", "execution": {"backend": "rq", "attempt": 1}}, {}
    )
    store.transition(experiment_id, Status.RUNNING)
    return experiment_id


def test_an_expired_lease_ends_the_run_as_worker_lost(redis_url: str) -> None:
    store = Store()
    connection = connect(redis_url)
    experiment_id = running_record(store)
    leases.acquire(connection, lease_for(experiment_id, store), ttl=1)
    assert leases.reap_expired(connection, store) == [], "a live lease is left alone"
    connection.delete(keys.lease(experiment_id))  # as if it expired

    assert leases.reap_expired(connection, store) == [experiment_id]
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "failed"
    assert metadata["failure_reason"] == "worker_lost"
    assert not connection.hexists(keys.LEASES, experiment_id)
    events = connection.xrange(keys.events(experiment_id))
    assert [e[1][b"event"] for e in events] == [b"ended"]


def test_an_expired_lease_never_overwrites_a_terminal_status(redis_url: str) -> None:
    store = Store()
    connection = connect(redis_url)
    experiment_id = running_record(store)
    store.transition(experiment_id, Status.COMPLETED)
    leases.acquire(connection, lease_for(experiment_id, store), ttl=1)
    connection.delete(keys.lease(experiment_id))

    assert leases.reap_expired(connection, store) == []
    assert store.read_metadata(experiment_id)["status"] == "completed"
    assert not connection.hexists(keys.LEASES, experiment_id), "the stale entry is dropped"


def test_a_lease_from_another_store_is_not_judged(redis_url: str, tmp_path: Path) -> None:
    store, other = Store(), Store(tmp_path / "other")
    connection = connect(redis_url)
    experiment_id = running_record(store)
    leases.acquire(connection, lease_for(experiment_id, store), ttl=1)
    connection.delete(keys.lease(experiment_id))

    assert leases.reap_expired(connection, other) == []
    assert connection.hexists(keys.LEASES, experiment_id), "left for a client of its store"
    assert store.read_metadata(experiment_id)["status"] == "running"


def beat_now(store: Store, experiment_id: str, worker: str = "gone") -> None:
    """Write a store heartbeat, as the worker's Runner does every heartbeat."""
    from yanex.core import timestamps

    def beat(metadata: dict[str, object]) -> None:
        execution = metadata.setdefault("execution", {})
        assert isinstance(execution, dict)
        execution.update(worker=worker, heartbeat=timestamps.now())

    store.update_metadata(experiment_id, beat)


def test_a_missing_key_with_a_fresh_store_heartbeat_is_not_lost(redis_url: str) -> None:
    """Redis restarted (or was out of reach) past the TTL while the worker went on."""
    store = Store()
    connection = connect(redis_url)
    experiment_id = running_record(store)
    beat_now(store, experiment_id)
    leases.acquire(connection, lease_for(experiment_id, store), ttl=1)
    connection.delete(keys.lease(experiment_id))

    assert leases.reap_expired(connection, store) == []
    assert store.read_metadata(experiment_id)["status"] == "running"
    assert connection.hexists(keys.LEASES, experiment_id)


def test_a_stale_store_heartbeat_does_not_save_a_lost_run(redis_url: str) -> None:
    store = Store()
    connection = connect(redis_url)
    experiment_id = running_record(store)
    beat_now(store, experiment_id)
    lease = lease_for(experiment_id, store)
    lease.ttl = 1
    leases.acquire(connection, lease)
    connection.delete(keys.lease(experiment_id))
    time.sleep(1.1)

    assert leases.reap_expired(connection, store) == [experiment_id]


def test_renewing_puts_back_a_lease_that_redis_lost(redis_url: str) -> None:
    store = Store()
    connection = connect(redis_url)
    lease = lease_for(running_record(store), store)
    leases.acquire(connection, lease)
    connection.flushall()  # Redis restarted without the key

    leases.renew(connection, lease)
    assert connection.ttl(keys.lease(lease.experiment_id)) > 0
    assert connection.hexists(keys.LEASES, lease.experiment_id)


def test_the_lease_lapses_after_three_missed_heartbeats() -> None:
    from yanex.queue.worker import WorkerSettings

    assert WorkerSettings(store=Store()).lease_ttl == 15  # default 5 s heartbeat
    assert WorkerSettings(store=Store(), heartbeat_interval=1).lease_ttl == 3
    assert WorkerSettings(store=Store(), heartbeat_interval=0.2).lease_ttl == 3  # the floor
    assert WorkerSettings(store=Store(), heartbeat_interval=10).lease_ttl == 30
