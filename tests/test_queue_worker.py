"""What `yanex-worker` does with a job: GPUs, allowed roots, the store check, refusals.

End to end with `yanex-worker` subprocesses, and in-process (`YanexWorker.work(burst=True)`,
rq's SimpleWorker) where only the job function's checks are under test.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from queue_support import (
    SHOW_ENV,
    TINY,
    Fleet,
    fleet_fixture,
    wait_until,
    write_script,
)
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

import yanex
from yanex.core.spec import ExperimentSpec
from yanex.core.store import Store
from yanex.queue.connection import connect
from yanex.queue.jobs import make_queue
from yanex.queue.payload import JOB_FUNCTION
from yanex.queue.waiting import wait_for
from yanex.queue.worker import WorkerSettings, YanexWorker, run_worker


@pytest.fixture
def fleet(redis_url: str, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    yield from fleet_fixture(redis_url, experiments_dir, tmp_path)


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """In-process workers install SIGINT/SIGTERM handlers: put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def submit(script: Path, queue: str = "default", **options: object) -> str:
    spec = ExperimentSpec(script_path=script, **options)  # type: ignore[arg-type]
    (result,) = yanex.run_multiple([spec], queue=queue, detach=True)
    return result.experiment_id


def in_failed_registry(url: str, experiment_id: str) -> None:
    """The experiment's RQ job reaches the failed registry (just after the store says so)."""
    client = redis.Redis.from_url(url)
    wait_until(
        lambda: client.zscore("rq:failed:default", f"yanex-{experiment_id}") is not None,
        5,
        f"the job of {experiment_id} in RQ's failed registry",
    )


def stdout_of(store: Store, experiment_id: str) -> str:
    return (store.artifacts_dir(experiment_id) / "stdout.txt").read_text()


def test_gpu_pinning_reaches_the_script_and_is_recorded(fleet: Fleet, tmp_path: Path) -> None:
    script = write_script(tmp_path, SHOW_ENV)
    worker = fleet.start("--gpu", "0,1")
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)], queue="default")
    assert result.status == "completed", fleet.outputs()
    store = Store()
    assert "CUDA_VISIBLE_DEVICES=0,1" in stdout_of(store, result.experiment_id)
    execution = store.read_metadata(result.experiment_id)["execution"]
    assert execution["gpu"] == "0,1"
    assert execution["worker"] == worker.name
    assert execution["queue"] == "default"


def test_worker_without_gpu_leaves_cuda_visible_devices_alone(
    fleet: Fleet, tmp_path: Path
) -> None:
    script = write_script(tmp_path, SHOW_ENV)
    fleet.start(env={"CUDA_VISIBLE_DEVICES": "7"})
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)], queue="default")
    assert "CUDA_VISIBLE_DEVICES=7" in stdout_of(Store(), result.experiment_id)


def test_allow_root_refuses_scripts_outside_and_runs_those_inside(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    inside = write_script(allowed, TINY, "inside.py")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = write_script(elsewhere, TINY, "outside.py")
    monkeypatch.chdir(allowed)
    worker = fleet.start("--allow-root", str(allowed))
    ok, refused = yanex.run_multiple(
        [ExperimentSpec(script_path=inside), ExperimentSpec(script_path=outside)],
        queue="default",
    )
    assert ok.status == "completed", fleet.outputs()
    assert refused.status == "failed"
    assert refused.error_message is not None
    assert f"worker {worker.name} only runs code under {allowed}" in refused.error_message
    assert str(outside) in refused.error_message
    in_failed_registry(fleet.url, refused.experiment_id)
    assert "warning: no --allow-root" not in worker.output()


def test_allow_root_also_checks_the_working_directory(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    script = write_script(allowed, TINY)
    monkeypatch.chdir(tmp_path)  # the experiment's cwd lies outside the allowed root
    fleet.start("--allow-root", str(allowed))
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)], queue="default")
    assert result.status == "failed"
    assert result.error_message is not None and str(tmp_path) in result.error_message


def test_worker_without_allow_root_warns(fleet: Fleet) -> None:
    worker = fleet.start()
    assert "warning: no --allow-root given" in worker.output()


def test_worker_on_another_store_refuses_with_a_clear_message(
    fleet: Fleet, tmp_path: Path
) -> None:
    script = write_script(tmp_path, TINY)
    worker = fleet.start(store_dir=tmp_path / "other-store")
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)], queue="default")
    assert result.status == "failed"
    assert result.error_message is not None
    assert f"worker {worker.name} writes to a different experiments directory" in (
        result.error_message
    )
    in_failed_registry(fleet.url, result.experiment_id)
    assert not (tmp_path / "other-store" / result.experiment_id).exists()


def test_a_refusal_reaches_a_client_that_waits_later(fleet: Fleet, tmp_path: Path) -> None:
    """Detached: nobody waits when the worker refuses; `yanex wait` reads it from the stream."""
    experiment_id = submit(write_script(tmp_path, TINY))
    worker = fleet.start(store_dir=tmp_path / "other-store")
    client = redis.Redis.from_url(fleet.url)
    wait_until(lambda: client.zscore("rq:failed:default", f"yanex-{experiment_id}"), 10,
               "the refused job")
    store = Store()
    assert store.read_metadata(experiment_id)["status"] == "queued"
    (ended,) = wait_for(store, [experiment_id], timeout=10)
    assert ended.status == "failed"
    assert f"worker {worker.name} writes to a different" in (ended.error_message or "")


def test_script_missing_on_the_worker_host_says_so(fleet: Fleet, tmp_path: Path) -> None:
    script = write_script(tmp_path, TINY)
    experiment_id = submit(script)
    script.unlink()  # as if the worker's host did not share the client's filesystem
    fleet.start()
    store = Store()
    (ended,) = wait_for(store, [experiment_id], timeout=20)
    assert ended.status == "failed"
    assert ended.error_message is not None
    assert f"script {script} does not exist on host" in ended.error_message
    assert "shared filesystem" in ended.error_message


def test_queues_are_served_in_priority_order(fleet: Fleet, tmp_path: Path) -> None:
    script = write_script(tmp_path, TINY)
    low = [submit(script, "low") for _ in range(2)]
    high = [submit(script, "high") for _ in range(2)]
    worker = fleet.start("--burst", queues=("high", "low"), wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    store = Store()
    started = {i: store.read_metadata(i)["started_at"] for i in low + high}
    assert max(started[i] for i in high) < min(started[i] for i in low)


def test_max_jobs_stops_the_worker_after_that_many(fleet: Fleet, tmp_path: Path) -> None:
    script = write_script(tmp_path, TINY)
    first, second = submit(script), submit(script)
    worker = fleet.start("--max-jobs", "1", wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    store = Store()
    assert store.read_metadata(first)["status"] == "completed"
    assert store.read_metadata(second)["status"] == "queued"


def test_rq_info_lists_the_yanex_workers(fleet: Fleet) -> None:
    first, second = fleet.start("--gpu", "0"), fleet.start("--gpu", "1")
    info = subprocess.run(
        ["rq", "info", "--url", fleet.url], capture_output=True, text=True, timeout=30
    )
    assert info.returncode == 0, info.stderr
    assert first.name in info.stdout and second.name in info.stdout
    assert "default" in info.stdout


def test_worker_that_cannot_reach_redis_exits_at_once(tmp_path: Path) -> None:
    from redis_server import free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    result = subprocess.run(
        ["yanex-worker", "--redis-url", url, "--experiments-dir", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert result.returncode == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_sigterm_to_an_idle_worker_exits_cleanly(fleet: Fleet) -> None:
    worker = fleet.start()
    worker.signal_main(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.output()
    client = redis.Redis.from_url(fleet.url)
    assert not client.hexists("yanex:workers", worker.name)
    assert f"rq:worker:{worker.name}".encode() not in client.smembers("rq:workers")


# -- in process: the job function's own checks ---------------------------------------


def in_process_worker(url: str, queue: str = "default", **settings: object) -> YanexWorker:
    connection = connect(url)
    return YanexWorker(
        [make_queue(connection, queue)],
        connection,
        WorkerSettings(store=Store(), **settings),  # type: ignore[arg-type]
        name="inproc",
    )


def test_in_process_worker_runs_a_queued_experiment(
    redis_url: str, tmp_path: Path, restore_signals: None
) -> None:
    experiment_id = submit(write_script(tmp_path, SHOW_ENV))
    worked = run_worker(
        WorkerSettings(store=Store(), gpus=["3"], heartbeat_interval=1),
        ["default"],
        redis_url=redis_url,
        name="inproc-run",
        burst=True,
        log_level="WARNING",
    )
    assert worked
    store = Store()
    assert store.read_metadata(experiment_id)["status"] == "completed"
    assert "CUDA_VISIBLE_DEVICES=3" in stdout_of(store, experiment_id)
    job = Job.fetch(f"yanex-{experiment_id}", connection=connect(redis_url),
                    serializer=JSONSerializer)
    assert job.get_status() == "finished"
    assert job.return_value()["status"] == "completed"


def test_a_payload_from_another_yanex_version_is_refused(
    redis_url: str, restore_signals: None
) -> None:
    connection = connect(redis_url)
    queue = make_queue(connection, "default")
    bad = {"experiment_id": "0badf00d", "store_id": "x", "experiments_dir": "/x",
           "events": "yanex:events:x", "attempt": 1, "code": {}, "version": 99}
    job = queue.enqueue(JOB_FUNCTION, kwargs={"payload": bad}, job_id="yanex-0badf00d")
    in_process_worker(redis_url).work(burst=True, logging_level="WARNING")
    job.refresh()
    assert job.get_status() == "failed"
    failure = job.latest_result()
    assert failure is not None and "different yanex versions" in str(failure.exc_string)


def test_an_unknown_experiment_is_refused(redis_url: str, restore_signals: None) -> None:
    connection = connect(redis_url)
    queue = make_queue(connection, "default")
    store = Store()
    payload = {"experiment_id": "0badf00d", "store_id": store.store_id,
               "experiments_dir": str(store.root), "events": "yanex:events:x", "attempt": 1,
               "code": {"source": "shared_path", "script_path": "/x.py", "cwd": "/"},
               "version": 1}
    job = queue.enqueue(JOB_FUNCTION, kwargs={"payload": payload})
    in_process_worker(redis_url).work(burst=True, logging_level="WARNING")
    job.refresh()
    assert job.get_status() == "failed"
    failure = job.latest_result()
    assert failure is not None and "0badf00d is not in" in str(failure.exc_string)
    events = connection.xrange("yanex:events:x")
    assert events and events[0][1][b"event"] == b"error"


def test_a_plain_rq_worker_refuses_yanex_jobs(
    redis_url: str, tmp_path: Path, restore_signals: None
) -> None:
    experiment_id = submit(write_script(tmp_path, TINY))
    connection = connect(redis_url)
    queue = Queue("default", connection=connection, serializer=JSONSerializer)
    SimpleWorker([queue], connection=connection, serializer=JSONSerializer).work(
        burst=True, logging_level="WARNING"
    )
    job = Job.fetch(f"yanex-{experiment_id}", connection=connection, serializer=JSONSerializer)
    assert job.get_status() == "failed"
    failure = job.latest_result()
    assert failure is not None and "must run on a `yanex-worker`" in str(failure.exc_string)
    assert Store().read_metadata(experiment_id)["status"] == "queued"


def test_maintenance_thread_stops_with_the_worker(
    redis_url: str, restore_signals: None
) -> None:
    import threading

    in_process_worker(redis_url, heartbeat_interval=0.2).work(burst=True, logging_level="WARNING")
    wait_until(
        lambda: not any(t.name == "yanex-maintenance" for t in threading.enumerate()),
        5,
        "the maintenance thread to stop",
    )
