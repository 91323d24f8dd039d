"""The queue's figures: throughput next to plain RQ, submission, latency, lost-worker detection.

Everything runs on this machine against redis-servers this script starts on free ports:

- throughput: N tiny experiments (`import yanex; yanex.log_metrics({"a": 1})`) through 1
  and 2 `yanex-worker`s (a blocking `yanex.run_multiple(..., queue=...)`, records
  included), next to plain RQ measured in the same run on its own redis-server: forking
  `rq worker`s whose job runs the same script with `subprocess.run`, N jobs enqueued,
  timed until all finished;
- submission: `yanex.run_multiple(<1,000 specs>, queue=..., detach=True)`, split into
  record creation and enqueueing;
- latency: one tiny experiment through an idle worker against the same run done locally
  (medians);
- lost worker: SIGKILL of a busy worker's process group until a waiting client has
  recorded `worker_lost`, at the default heartbeat (5 s: lease 15 s) and at 1 s.

Example:
    python benchmarks/bench_queue.py                 # everything, about two minutes
    python benchmarks/bench_queue.py --count 100 --skip-lost
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TINY = 'import yanex\nyanex.log_metrics({"a": 1})\n'
SLEEPER = "import time\ntime.sleep(600)\n"
ROOT = Path(__file__).resolve().parent.parent


def run_script(script: str) -> int:
    """The plain-RQ job: run the script as a subprocess, like a yanex worker does."""
    return subprocess.run([sys.executable, script], check=True).returncode


# -- processes ---------------------------------------------------------------------------


@contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from redis_server import RedisServer  # the tests' helper: a redis-server on a free port

    server = RedisServer(directory).start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def processes(
    commands: list[list[str]], env: dict[str, str]
) -> Iterator[list[subprocess.Popen[bytes]]]:
    started = [
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for command in commands
    ]
    try:
        yield started
    finally:
        for process in started:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)


def rq_workers(url: str) -> int:
    from redis import Redis
    from rq import Worker

    return len(Worker.all(connection=Redis.from_url(url)))


def yanex_worker_commands(url: str, store: Path, count: int, *extra: str) -> list[list[str]]:
    return [
        ["yanex-worker", "-q", "bench", "--redis-url", url, "--experiments-dir", str(store),
         "--name", f"bench-{i}", "--log-level", "WARNING", *extra]
        for i in range(count)
    ]


def environment(store: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
    env.update(YANEX_EXPERIMENTS_DIR=str(store), YANEX_REDIS_URL=url)
    return env


@contextmanager
def yanex_setup(tmp: Path, name: str) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """A redis-server and a store, set in this process's environment for run_multiple."""
    store = tmp / f"store-{name}"
    with redis_server(tmp / f"redis-{name}") as url:
        env = environment(store, url)
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            yield url, store, env
        finally:
            os.environ.clear()
            os.environ.update(saved)


# -- throughput ------------------------------------------------------------------------


def yanex_throughput(tmp: Path, script: Path, workers: int, count: int) -> float:
    """Experiments per second through `workers` yanex-workers (blocking run_multiple)."""
    import yanex

    with yanex_setup(tmp, f"yanex-{workers}") as (url, store, env):
        with processes(yanex_worker_commands(url, store, workers), env):
            wait_for(lambda: rq_workers(url) == workers, 30, "yanex workers")
            specs = [
                yanex.ExperimentSpec(script_path=script, config={"i": i}) for i in range(count)
            ]
            started = time.perf_counter()
            results = yanex.run_multiple(specs, queue="bench")
            elapsed = time.perf_counter() - started
    failed = [r for r in results if r.status != "completed"]
    if failed:
        raise SystemExit(f"{len(failed)} experiments did not complete: {failed[0]}")
    return count / elapsed


def plain_rq_throughput(tmp: Path, script: Path, workers: int, count: int) -> float:
    """Jobs per second through `workers` forking `rq worker`s running the same script."""
    from redis import Redis
    from rq import Queue

    with redis_server(tmp / f"redis-rq-{workers}") as url:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
        commands = [["rq", "worker", "bench", "--url", url, "--quiet"] for _ in range(workers)]
        with processes(commands, env):
            wait_for(lambda: rq_workers(url) == workers, 30, "rq workers")
            connection = Redis.from_url(url)
            queue = Queue("bench", connection=connection)
            started = time.perf_counter()
            with connection.pipeline() as pipe:
                queue.enqueue_many(
                    [Queue.prepare_data("bench_queue.run_script", (str(script),))
                     for _ in range(count)],
                    pipeline=pipe,
                )
                pipe.execute()
            registry = queue.finished_job_registry
            wait_for(lambda: registry.count + queue.failed_job_registry.count >= count,
                     600, "plain RQ jobs")
            elapsed = time.perf_counter() - started
            if queue.failed_job_registry.count:
                raise SystemExit("plain RQ jobs failed")
    return count / elapsed


# -- submission, latency, lost workers -------------------------------------------------


def submission(tmp: Path, script: Path, count: int) -> tuple[float, float, float]:
    """Seconds to submit `count` specs detached: total, records, enqueueing."""
    import yanex
    from yanex.execution.multiple import execute, submit

    with yanex_setup(tmp, "submit"):
        specs = [yanex.ExperimentSpec(script_path=script, config={"i": i}) for i in range(count)]
        started = time.perf_counter()
        batch, store = submit(specs, queue="bench")
        recorded = time.perf_counter()
        execute(batch, store, queue="bench", detach=True)
        ended = time.perf_counter()
    return ended - started, recorded - started, ended - recorded


def latency(tmp: Path, script: Path, repeats: int) -> tuple[float, float]:
    """Median seconds of one tiny experiment: locally, and through an idle yanex-worker."""
    import yanex

    spec = [yanex.ExperimentSpec(script_path=script)]
    with yanex_setup(tmp, "latency") as (url, store, env):
        local = [_timed(lambda: yanex.run_multiple(spec)) for _ in range(repeats)]
        with processes(yanex_worker_commands(url, store, 1), env):
            wait_for(lambda: rq_workers(url) == 1, 30, "the yanex worker")
            yanex.run_multiple(spec, queue="bench")  # warm up the worker
            queued = [
                _timed(lambda: yanex.run_multiple(spec, queue="bench")) for _ in range(repeats)
            ]
    return statistics.median(local), statistics.median(queued)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def lost_worker_detection(tmp: Path, heartbeat: float) -> float:
    """Seconds from SIGKILL of a busy worker's process group to `worker_lost` recorded."""
    import yanex
    from yanex.core.store import Store
    from yanex.queue.waiting import wait_for as wait_experiments

    script = tmp / "sleeper.py"
    script.write_text(SLEEPER)
    with yanex_setup(tmp, f"lost-{heartbeat:g}") as (url, store_dir, env):
        commands = yanex_worker_commands(url, store_dir, 1, "--heartbeat", str(heartbeat))
        with processes(commands, env) as (worker,):
            (result,) = yanex.run_multiple(
                [yanex.ExperimentSpec(script_path=script)], queue="bench", detach=True
            )
            store = Store()
            wait_for(lambda: store.read_metadata(result.experiment_id)["status"] == "running",
                     30, "the experiment to start")
            os.killpg(worker.pid, signal.SIGKILL)
            killed = time.perf_counter()
            (ended,) = wait_experiments(store, [result.experiment_id], timeout=120)
            elapsed = time.perf_counter() - killed
    if ended.failure_reason != "worker_lost":
        raise SystemExit(f"expected worker_lost, got {ended}")
    return elapsed


# -- the report ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="experiments per throughput run")
    parser.add_argument("--submit-count", type=int, default=1000, help="specs to submit")
    parser.add_argument("--repeats", type=int, default=10, help="latency samples")
    parser.add_argument("--skip-lost", action="store_true", help="skip lost-worker timing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="yanex-bench-") as directory:
        tmp = Path(directory)
        script = tmp / "tiny.py"
        script.write_text(TINY)
        print(f"throughput: {args.count} tiny experiments (experiments/s)")
        for workers in (1, 2):
            plain = plain_rq_throughput(tmp, script, workers, args.count)
            ours = yanex_throughput(tmp, script, workers, args.count)
            print(f"  {workers} worker(s): yanex {ours:6.1f}   plain RQ {plain:6.1f}   "
                  f"ratio {ours / plain:4.2f}")
        total, records, enqueue = submission(tmp, script, args.submit_count)
        print(f"submission of {args.submit_count} specs: {total:.2f} s "
              f"(records {records:.2f} s, enqueue {enqueue:.2f} s)")
        local, queued = latency(tmp, script, args.repeats)
        print(f"latency of one tiny experiment (median of {args.repeats}): local "
              f"{local * 1000:.0f} ms, queued {queued * 1000:.0f} ms, "
              f"+{(queued - local) * 1000:.0f} ms")
        if not args.skip_lost:
            for heartbeat in (5.0, 1.0):
                seconds = lost_worker_detection(tmp, heartbeat)
                print(f"worker SIGKILL -> worker_lost recorded (heartbeat {heartbeat:g} s): "
                      f"{seconds:.1f} s")


if __name__ == "__main__":
    main()
