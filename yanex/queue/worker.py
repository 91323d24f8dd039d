"""`yanex-worker`: an RQ worker whose jobs run experiments through the Runner.

It is an RQ `SimpleWorker` (registered like any RQ worker, so `rq info` and
rq-dashboard see it): the job runs in the worker process itself, which is then the
experiment's supervisor, so the experiment dies with it (parent-death signal) and its
lease lapses. What it adds to RQ:

- GPU pinning (`CUDA_VISIBLE_DEVICES` for every experiment), allowed script roots,
  and a check that it writes into the same store as the client that submitted the job.
- Heartbeats that renew the experiment's lease and RQ's own execution heartbeat.
- RQ's stop-job command answered with the Runner's termination ladder (graceful).
- SIGTERM/SIGINT (systemd stop, Slurm preemption, Ctrl-C): take nothing new, pass
  SIGTERM to the running experiment, give it `grace` seconds, record it failed
  (`preempted`, or queued again when `--retry` allows), and exit. A second signal kills
  the experiment at once.
- A maintenance thread that ends experiments whose worker was lost (expired leases).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rq.worker import SimpleWorker

from yanex.core import liveness
from yanex.core.spec import ExperimentResult
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.execution.runner import RunControl, Runner, RunOptions
from yanex.queue import events, keys, leases
from yanex.queue.dependents import cancel_dependents
from yanex.queue.jobs import serializer
from yanex.queue.payload import JobPayload

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue
    from rq.job import Job

_active: YanexWorker | None = None


def active_worker() -> YanexWorker | None:
    """The yanex worker running the current job (jobs run inside the worker process)."""
    return _active


@dataclass
class WorkerSettings:
    """What a yanex worker adds to an RQ worker."""

    store: Store
    gpus: list[str] = field(default_factory=list)
    allowed_roots: list[Path] = field(default_factory=list)
    heartbeat_interval: float = liveness.HEARTBEAT_INTERVAL
    grace: float = 30.0

    @property
    def lease_ttl(self) -> int:
        """Seconds a lease outlives the last heartbeat: 15 at the default 5 s heartbeat.

        Three missed heartbeats, at least `leases.LEASE_FLOOR`: so a lost worker is
        found within about 3 heartbeats plus one maintenance period.
        """
        return max(
            leases.LEASE_FLOOR, math.ceil(self.heartbeat_interval * leases.LEASE_MISSED_BEATS)
        )


class YanexWorker(SimpleWorker):
    """An RQ worker that runs yanex experiments (see the module docstring)."""

    def __init__(
        self,
        queues: list[Queue],
        connection: Redis,
        settings: WorkerSettings,
        *,
        beat_connection: Redis | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(queues, connection=connection, serializer=serializer(), **kwargs)
        self.settings = settings
        self.control: RunControl | None = None
        self.current: Job | None = None
        self.lease: leases.Lease | None = None
        # Heartbeats must not stall while Redis is away: the store heartbeat written
        # beside them is what keeps the run from being judged lost meanwhile.
        self.beat_connection = beat_connection or connection
        self._maintenance_stop = threading.Event()

    # -- the job ------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue) -> None:
        global _active
        self.current, _active = job, self
        try:
            super().execute_job(job, queue)
        finally:
            self.current, _active = None, None

    def run_payload(self, payload: JobPayload) -> dict[str, Any]:
        """Run one experiment attempt (called by the job function, in this process)."""
        from yanex.queue.job import ExperimentNotCompleted, locate_code

        store = self.settings.store
        metadata = store.read_metadata(payload.experiment_id)
        problem = self.refusal(locate_code(payload))
        if problem:
            store.transition(
                payload.experiment_id,
                Status.FAILED,
                failure_reason=FailureReason.ERROR.value,
                error_message=problem,
            )
            events.publish(self.connection, payload.events, payload.experiment_id, events.ENDED)
            cancel_dependents(self.connection, store, payload.experiment_id)
            raise ExperimentNotCompleted(problem)
        attempt = int((metadata.get("execution") or {}).get("attempt", 1))
        result = self._supervise(payload, attempt)
        events.publish(self.connection, payload.events, payload.experiment_id, events.ENDED)
        if result.status == Status.COMPLETED.value:
            return result.to_dict()
        if self.current is not None:  # let RQ retry exactly when the store says so
            self.current.retries_left = 1 if result.status == Status.QUEUED.value else 0
        if result.status != Status.QUEUED.value:
            cancel_dependents(self.connection, store, payload.experiment_id)
        raise ExperimentNotCompleted(
            f"experiment {result.experiment_id} {result.status}: {result.error_message or ''}"
        )

    def _supervise(self, payload: JobPayload, attempt: int) -> ExperimentResult:
        lease = leases.Lease(
            experiment_id=payload.experiment_id,
            worker=self.name,
            host=liveness.this_host(),
            job_id=self.current.id if self.current else keys.job_id(payload.experiment_id),
            attempt=attempt,
            store_id=payload.store_id,
            events=payload.events,
            ttl=self.settings.lease_ttl,
        )
        leases.acquire(self.connection, lease)
        self.lease, self.control = lease, RunControl()
        events.publish(self.connection, payload.events, payload.experiment_id, events.STARTED)
        try:
            return Runner(self.settings.store, self._run_options(lease)).run(
                payload.experiment_id, self.control
            )
        finally:
            self.lease, self.control = None, None
            leases.release(self.connection, payload.experiment_id)

    def _run_options(self, lease: leases.Lease) -> RunOptions:
        gpu = ",".join(self.settings.gpus) or None
        execution = {
            "backend": "rq",
            "queue": self.current.origin if self.current else None,
            "job_id": lease.job_id,
            "worker": self.name,
            "gpu": gpu,
        }
        return RunOptions(
            execution=execution,
            extra_env={"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {},
            heartbeat_interval=self.settings.heartbeat_interval,
            terminate_grace=self.settings.grace,
            on_heartbeat=self._beat,
        )

    def _beat(self, experiment_id: str) -> None:
        from redis.exceptions import RedisError

        if self.lease is None:
            return
        try:
            leases.renew(self.beat_connection, self.lease)
            if self.current is not None and self.execution is not None:
                self.maintain_heartbeats(self.current)
        except RedisError as error:  # the run goes on; the next heartbeat tries again
            self.log.warning("yanex: cannot renew the lease of %s: %s", experiment_id, error)

    def refusal(self, paths: list[str]) -> str | None:
        """Why this worker will not run code at `paths` (outside its allowed roots), or None."""
        roots = [root.resolve() for root in self.settings.allowed_roots]
        if not roots:
            return None
        for path in paths:
            resolved = Path(path).resolve()
            if not any(resolved == root or root in resolved.parents for root in roots):
                allowed = ", ".join(str(r) for r in roots)
                return (
                    f"worker {self.name} only runs code under {allowed}; {path} is outside "
                    "(start the worker with --allow-root to widen it)"
                )
        return None

    # -- stopping -------------------------------------------------------------------

    def kill_horse(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """RQ's stop-job command: stop the experiment gracefully, record it cancelled."""
        if self.control is not None:
            self.control.cancel(f"stopped on request (RQ stop-job) on worker {self.name}")

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.control is not None:
            self.control.stop(
                f"worker {self.name} was stopped ({signal.Signals(signum).name}) while running it",
                status=Status.FAILED,
                failure_reason=FailureReason.PREEMPTED,
            )
        self.request_stop(signum, frame)  # type: ignore[no-untyped-call]  # RQ: take no new job

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """A second signal: kill the experiment now, record it, then exit (not mid-write)."""
        if self.control is not None:
            self.control.kill()
        self._stop_requested = True

    # -- registration and maintenance ---------------------------------------------

    def register_birth(self, *args: Any, **kwargs: Any) -> None:
        # rq installs its signal handlers only after registering; until then a SIGTERM
        # would kill the worker with no cleanup. Ask the work loop to stop instead.
        signal.signal(signal.SIGINT, self._stop_before_start)
        signal.signal(signal.SIGTERM, self._stop_before_start)
        super().register_birth(*args, **kwargs)  # type: ignore[no-untyped-call]
        info = {
            "host": liveness.this_host(),
            "pid": os.getpid(),
            "gpu": ",".join(self.settings.gpus) or None,
            "store_id": self.settings.store.store_id,
            "experiments_dir": str(self.settings.store.root),
        }
        self.connection.hset(keys.WORKERS, self.name, json.dumps(info))
        threading.Thread(target=self._maintain, name="yanex-maintenance", daemon=True).start()

    def _stop_before_start(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True

    def register_death(self, *args: Any, **kwargs: Any) -> None:
        self._maintenance_stop.set()
        self.connection.hdel(keys.WORKERS, self.name)
        super().register_death(*args, **kwargs)  # type: ignore[no-untyped-call]

    def _maintain(self) -> None:
        """End the experiments of lost workers (any live worker does this, every few seconds)."""
        while not self._maintenance_stop.wait(self.settings.heartbeat_interval):
            try:
                leases.reap_expired(self.connection, self.settings.store)
            except Exception as error:  # keep maintaining through Redis restarts
                self.log.warning("yanex maintenance: %s", error)


def worker_name(gpus: list[str]) -> str:
    """A readable, unique default name: host, GPUs, pid."""
    gpu = f".gpu{'+'.join(gpus)}" if gpus else ""
    return f"{liveness.this_host()}{gpu}.{os.getpid()}"


def run_worker(
    settings: WorkerSettings,
    queues: list[str],
    *,
    redis_url: str | None = None,
    name: str | None = None,
    burst: bool = False,
    max_jobs: int | None = None,
    log_level: str = "INFO",
) -> bool:
    """Start a yanex worker on `queues` (in priority order); return whether it ran any job."""
    from yanex.queue.connection import connect
    from yanex.queue.jobs import make_queue

    settings.store.ensure()
    connection = connect(redis_url)
    worker = YanexWorker(
        [make_queue(connection, q) for q in queues],
        connection,
        settings,
        beat_connection=connect(redis_url, check=False, patient=False),
        name=name or worker_name(settings.gpus),
    )
    return bool(worker.work(burst=burst, max_jobs=max_jobs, logging_level=log_level))
