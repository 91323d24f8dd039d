"""The client side of the queue: submit experiments as RQ jobs, then wait for them.

Records already exist in the shared store (status `queued`). Submission enqueues one
RQ job per experiment with `enqueue_many`, pipelined in chunks. Waiting blocks on the
batch's event stream (no per-job polling); each `ended` event sends the client to the
store, which holds the outcome. While waiting, the client also ends experiments whose
worker was lost (expired leases) and notices jobs that vanished from Redis. Ctrl-C
cancels the batch: queued jobs come off the queue in one pipeline, running ones get
RQ's stop-job command, which yanex workers answer with the Runner's graceful ladder.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from yanex.core.dependencies import as_ids
from yanex.core.spec import ExperimentResult
from yanex.core.status import FailureReason, Status
from yanex.core.store import Metadata, Store
from yanex.errors import ExperimentNotFoundError
from yanex.execution.events import Reporter
from yanex.execution.executor import Executor, Interrupted
from yanex.queue import events, jobs, keys, leases
from yanex.queue.cancel import cancel_experiments
from yanex.queue.connection import connect, redis_url
from yanex.queue.payload import JobPayload, shared_path_code

if TYPE_CHECKING:
    from redis import Redis

WAIT_BLOCK = 5.0  # seconds per blocking read; also the maintenance period while waiting
CANCEL_WAIT = 60.0  # how long Ctrl-C waits for running experiments to record their end


class QueueExecutor(Executor):
    """Runs experiments on `yanex-worker`s listening on an RQ queue."""

    def __init__(
        self,
        store: Store,
        queue: str,
        *,
        parallel: int = 1,
        redis_url: str | None = None,
        detach: bool = False,
        retry: int = 0,
    ) -> None:
        self.store = store
        self.queue = queue
        self.redis_url = redis_url
        self.detach = detach
        self.retry = retry
        self._noted: set[str] = set()

    def execute(self, experiment_ids: Sequence[str], reporter: Reporter) -> list[ExperimentResult]:
        connection = connect(self.redis_url)
        records = [self._prepare(i) for i in experiment_ids]
        self.submit(connection, records)
        if self.detach:
            return [ExperimentResult.from_metadata(m) for m in records]
        waiter = Waiter(connection, self.store, experiment_ids, reporter)
        return waiter.wait()

    def _prepare(self, experiment_id: str) -> Metadata:
        """Bring a record to `queued` for this queue (staged records move now).

        A record that `submit` already wrote as queued for this queue is not written
        again: a second write per record made submitting a big sweep twice as slow. Its
        batch manifest notes the (masked) Redis URL instead, once per batch.
        """
        metadata = self.store.read_metadata(experiment_id)
        previous = metadata.get("execution") or {}
        wanted = {
            "backend": "rq",
            "queue": self.queue,
            "max_attempts": max(self.retry + 1, previous.get("max_attempts", 1)),
        }
        if metadata.get("status") == Status.QUEUED.value and all(
            previous.get(k) == v for k, v in wanted.items()
        ):
            self._note_batch(str(metadata.get("batch") or ""))
            return metadata
        execution = {
            **previous,
            **wanted,
            "job_id": keys.job_id(experiment_id),
            "redis": _masked(self.redis_url),
        }
        if metadata.get("status") == Status.QUEUED.value:
            return self.store.update_metadata(experiment_id, {"execution": execution})
        self.store.transition(experiment_id, Status.QUEUED, execution=execution)
        return self.store.read_metadata(experiment_id)

    def _note_batch(self, batch_id: str) -> None:
        if not batch_id or batch_id in self._noted:
            return
        self._noted.add(batch_id)
        with contextlib.suppress(ExperimentNotFoundError):
            self.store.update_batch(
                batch_id, {"queue": self.queue, "redis": _masked(self.redis_url)}
            )

    def submit(self, connection: Redis, records: Sequence[Metadata]) -> None:
        """Enqueue one RQ job per record (in pipelined `enqueue_many` chunks)."""
        store_id = self.store.store_id
        pairs = []
        for metadata in records:
            if metadata.get("status") != Status.QUEUED.value:
                continue
            payload = JobPayload(
                experiment_id=str(metadata["id"]),
                store_id=store_id,
                experiments_dir=str(self.store.root),
                events=keys.events(str(metadata.get("batch") or metadata["id"])),
                code=shared_path_code(metadata),
            )
            pairs.append(
                (payload, jobs.job_options(metadata, _job_dependencies(self.store, metadata)))
            )
        jobs.enqueue(jobs.make_queue(connection, self.queue), pairs)


class Waiter:
    """Blocks until experiments end, woken by their batches' event streams."""

    def __init__(
        self, connection: Redis, store: Store, experiment_ids: Sequence[str], reporter: Reporter
    ) -> None:
        self.connection = connection
        self.store = store
        self.order = list(experiment_ids)
        self.reporter = reporter
        self.pending = set(experiment_ids)
        self.results: dict[str, ExperimentResult] = {}
        streams = {keys.events(str(self._metadata(i).get("batch") or i)) for i in self.order}
        self.positions = events.start_positions(streams)
        self.last_maintenance = 0.0

    def wait(
        self, deadline: float | None = None, *, cancel_on_interrupt: bool = True
    ) -> list[ExperimentResult]:
        """Block until all ended (or the monotonic `deadline`); Ctrl-C cancels them if asked."""
        for experiment_id in list(self.pending):
            self._check(experiment_id)
        try:
            self._loop(deadline)
        except KeyboardInterrupt:
            if not cancel_on_interrupt:
                raise
            self.reporter.interrupted(second=False)
            cancel_experiments(
                self.store, sorted(self.pending), self.connection, "cancelled by Ctrl-C"
            )
            try:
                self._loop(deadline=time.monotonic() + CANCEL_WAIT)
            except KeyboardInterrupt:
                self.reporter.interrupted(second=True)
            raise Interrupted(self._collect()) from None
        return self._collect()

    def _loop(self, deadline: float | None = None) -> None:
        while self.pending and (deadline is None or time.monotonic() < deadline):
            # Never block past the deadline (`yanex wait --timeout 0.5` means 0.5 s), and
            # never for 0 ms, which XREAD takes as "forever".
            block = WAIT_BLOCK if deadline is None else deadline - time.monotonic()
            for experiment_id, kind, message in events.read(
                self.connection, self.positions, max(0.001, min(WAIT_BLOCK, block))
            ):
                self._on_event(experiment_id, kind, message)
            if time.monotonic() - self.last_maintenance >= WAIT_BLOCK:
                self._maintain()

    def _on_event(self, experiment_id: str, kind: str, message: str) -> None:
        if experiment_id not in self.pending:
            return
        if kind == events.STARTED:
            metadata = self._metadata(experiment_id)
            self.reporter.experiment_started(
                experiment_id, str(metadata.get("name") or experiment_id)
            )
        elif kind == events.FAILED_TO_START:
            self.store.transition(
                experiment_id,
                Status.FAILED,
                failure_reason=FailureReason.ERROR.value,
                error_message=message,
            )
            self._check(experiment_id)
        else:
            self._check(experiment_id)

    def _check(self, experiment_id: str) -> None:
        metadata = self._metadata(experiment_id)
        if Status(metadata.get("status", "created")).is_terminal:
            self.pending.discard(experiment_id)
            result = ExperimentResult.from_metadata(metadata)
            self.results[experiment_id] = result
            self.reporter.experiment_finished(result)

    def _maintain(self) -> None:
        """End lost runs (expired leases) and jobs that vanished from Redis."""
        self.last_maintenance = time.monotonic()
        for experiment_id in leases.reap_expired(self.connection, self.store, only=self.pending):
            self._check(experiment_id)
        queued = [i for i in self.pending if self._metadata(i).get("status") == Status.QUEUED.value]
        if not queued:
            return
        from rq.job import Job

        with self.connection.pipeline() as pipe:
            for experiment_id in queued:
                pipe.exists(Job.key_for(_current_job(self._metadata(experiment_id))))
            present = pipe.execute()
        for experiment_id, exists in zip(queued, present, strict=True):
            if not exists:
                self._lost_job(experiment_id)

    def _lost_job(self, experiment_id: str) -> None:
        self.store.transition(
            experiment_id,
            Status.FAILED,
            failure_reason=FailureReason.ERROR.value,
            error_message=(
                "its RQ job is gone from Redis (was Redis restarted without persistence, or "
                "the job deleted?); run it again with `yanex run --clone-from`"
            ),
        )
        self._check(experiment_id)

    def _metadata(self, experiment_id: str) -> Metadata:
        return self.store.read_metadata(experiment_id)

    def _collect(self) -> list[ExperimentResult]:
        return [
            self.results.get(i) or ExperimentResult.from_metadata(self._metadata(i))
            for i in self.order
        ]


def _current_job(metadata: Metadata) -> str:
    execution = metadata.get("execution") or {}
    return str(execution.get("job_id") or keys.job_id(str(metadata["id"])))


def _job_dependencies(store: Store, metadata: Metadata) -> list[str]:
    """RQ jobs this experiment's job must wait for: its dependencies still on the queue.

    A completed dependency needs no waiting (its job may be long expired); a failed one
    was refused at submission unless allowed.
    """
    waiting = []
    for dependency in as_ids(metadata.get("dependencies")):
        upstream = store.read_metadata(dependency)
        execution = upstream.get("execution") or {}
        if upstream.get("status") in (Status.QUEUED.value, Status.RUNNING.value) and (
            execution.get("backend") == "rq"
        ):
            waiting.append(str(execution.get("job_id") or keys.job_id(dependency)))
    return waiting


def _masked(url: str | None) -> str | None:
    from yanex.core.urls import mask_password

    return mask_password(redis_url(url))
