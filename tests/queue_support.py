"""Shared by the queue tests: experiment scripts, `yanex-worker` subprocesses, waiting.

Workers run as real `yanex-worker` processes, each the leader of its own session so a
test can SIGKILL its whole process group, and are always killed by the `Fleet` that
started them. Heartbeats are 1 s, so leases (3 x heartbeat, at least 3 s) lapse fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
from support import process_gone as process_gone  # re-exported for the queue tests
from support import wait_until

from yanex.core.store import Store

TINY = 'import yanex\nyanex.log_metrics({"a": 1})\n'

SHOW_ENV = """\
import os, yanex
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))
yanex.log_metrics({"a": 1})
"""

# Prints its pid (so a test can check it died), then sleeps `seconds` (a parameter).
SLEEPER = """\
import os, sys, time, yanex
print("pid=%d" % os.getpid(), flush=True)
time.sleep(float(yanex.get_param("seconds", 60)))
"""

# Sleeps on its first attempt (long enough to be killed), finishes at once on the next.
FIRST_ATTEMPT_HANGS = """\
import os, time, yanex
marker = yanex.get_param("marker")
print("pid=%d" % os.getpid(), flush=True)
if not os.path.exists(marker):
    open(marker, "w").close()
    time.sleep(60)
yanex.log_metrics({"done": 1})
"""


def write_script(directory: Path, text: str, name: str = "script.py") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def status_of(store: Store, experiment_id: str) -> str:
    return str(store.read_metadata(experiment_id).get("status"))


def wait_status(
    store: Store, experiment_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    """Wait until the experiment has one of `statuses`; return its metadata."""

    def reached() -> dict[str, Any] | None:
        metadata = store.read_metadata(experiment_id)
        return metadata if metadata.get("status") in statuses else None

    return dict(wait_until(reached, timeout, f"{experiment_id} to be {'/'.join(statuses)}"))


def child_pid(store: Store, experiment_id: str, timeout: float = 10) -> int:
    """The pid of the experiment's process, once its script printed it."""

    def printed() -> int | None:
        stdout = store.artifacts_dir(experiment_id) / "stdout.txt"
        text = stdout.read_text() if stdout.exists() else ""
        for line in text.splitlines():
            if line.startswith("pid="):
                return int(line[4:])
        return None

    return int(wait_until(printed, timeout, f"{experiment_id} to print its pid"))


class WorkerProcess:
    """One `yanex-worker` subprocess, leader of its own process group."""

    def __init__(
        self,
        url: str,
        store_dir: Path,
        name: str,
        log: Path,
        queues: tuple[str, ...] = ("default",),
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = log
        command = ["yanex-worker", "--redis-url", url, "--experiments-dir", str(store_dir)]
        for queue in queues:
            command += ["-q", queue]
        command += ["--heartbeat", "1", "--name", name, *extra]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
        environment.update(env or {})
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass

    def signal_main(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.signal_group(signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class Fleet:
    """Starts workers against one Redis and one store; kills them all at the end."""

    def __init__(self, url: str, store_dir: Path, logs: Path) -> None:
        self.url = url
        self.store_dir = store_dir
        self.logs = logs
        self.workers: list[WorkerProcess] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(
        self,
        *extra: str,
        queues: tuple[str, ...] = ("default",),
        store_dir: Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> WorkerProcess:
        name = f"w{len(self.workers) + 1}-{os.getpid()}"
        worker = WorkerProcess(
            self.url,
            store_dir or self.store_dir,
            name,
            self.logs / f"{name}.log",
            queues,
            extra,
            env,
        )
        self.workers.append(worker)
        if wait:
            self.wait_registered(worker)
        return worker

    def wait_registered(self, worker: WorkerProcess, timeout: float = 15) -> None:
        """Wait until the worker registered itself (it is then about to listen)."""
        client = redis.Redis.from_url(self.url)

        def registered() -> bool:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{worker.output()}")
            return bool(client.hexists("yanex:workers", worker.name))

        try:
            wait_until(registered, timeout, f"worker {worker.name} to register")
        finally:
            client.close()

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()

    def outputs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.output()}" for w in self.workers)


def fleet_fixture(url: str, store_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    """The body of each test module's `fleet` fixture."""
    fleet = Fleet(url, store_dir, tmp_path / "worker-logs")
    try:
        yield fleet
    finally:
        fleet.stop()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the `yanex` CLI as a subprocess (for flows that need signals or real exits)."""
    return subprocess.run(
        ["yanex", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def job_payload(client: redis.Redis, job_id: str) -> dict[str, Any]:
    """The kwargs of a stored RQ job, decoded with the JSON serializer."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
    return dict(job.kwargs)


def python() -> str:
    return sys.executable


def dump(store: Store, experiment_id: str) -> str:
    """The metadata of an experiment, for assertion messages."""
    return json.dumps(store.read_metadata(experiment_id), indent=1, default=str)
