"""What the fleet looks like right now: queues with their counts, workers with their work.

Read from RQ's own registries and worker records (the same ones `rq info` shows), plus
the GPU and store that each yanex worker registered under `yanex:workers`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from yanex.queue import keys
from yanex.queue.jobs import serializer

if TYPE_CHECKING:
    from redis import Redis


@dataclass
class QueueInfo:
    name: str
    queued: int
    started: int
    deferred: int
    failed: int
    finished: int
    canceled: int


@dataclass
class WorkerInfo:
    name: str
    host: str | None
    state: str
    queues: list[str]
    gpu: str | None
    experiment_id: str | None
    last_heartbeat: datetime | None
    successful: int
    failed: int
    is_yanex: bool
    store_id: str | None = None


def fleet_status(connection: Redis) -> tuple[list[QueueInfo], list[WorkerInfo]]:
    """Every RQ queue and worker on this Redis, yanex's and others'."""
    from rq import Queue, Worker

    queues = [
        QueueInfo(
            name=q.name,
            queued=q.count,
            started=q.started_job_registry.count,
            deferred=q.deferred_job_registry.count,
            failed=q.failed_job_registry.count,
            finished=q.finished_job_registry.count,
            canceled=q.canceled_job_registry.count,
        )
        for q in sorted(
            Queue.all(connection=connection, serializer=serializer()), key=lambda q: q.name
        )
    ]
    registered = {
        (k.decode() if isinstance(k, bytes) else k): json.loads(v)
        for k, v in connection.hgetall(keys.WORKERS).items()
    }
    workers = [_worker(w, registered.get(w.name)) for w in Worker.all(connection=connection)]
    return queues, sorted(workers, key=lambda w: w.name)


def _worker(worker: object, yanex: dict[str, object] | None) -> WorkerInfo:
    from rq import Worker

    assert isinstance(worker, Worker)
    job = worker.get_current_job_id()
    gpu = yanex.get("gpu") if yanex else None
    return WorkerInfo(
        name=worker.name,
        host=worker.hostname,
        state=str(worker.get_state()),
        queues=worker.queue_names(),
        gpu=str(gpu) if gpu else None,
        experiment_id=keys.experiment_of_job(job) if job else None,
        last_heartbeat=worker.last_heartbeat,
        successful=worker.successful_job_count,
        failed=worker.failed_job_count,
        is_yanex=yanex is not None,
        store_id=str(yanex.get("store_id")) if yanex else None,
    )


def forget_worker(connection: Redis, name: str) -> None:
    """Unregister a worker known to be dead (its lease expired), so no listing shows it busy.

    RQ would keep showing it until its worker key expires, minutes later.
    """
    from rq import Queue, Worker
    from rq.worker_registration import clean_worker_registry

    connection.delete(Worker.redis_worker_namespace_prefix + name)
    connection.hdel(keys.WORKERS, name)
    for queue in Queue.all(connection=connection, serializer=serializer()):
        clean_worker_registry(queue)
