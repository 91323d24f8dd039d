"""Leases: how a dead worker's experiment is found and ended within seconds, not minutes.

A worker running an experiment holds `yanex:lease:<id>`, a key with a short TTL that its
heartbeat renews, and lists the run in the `yanex:leases` hash. If the worker is
SIGKILLed, powered off or cut from the network, the key expires; the next scan (by the
waiting client, or by any live worker's maintenance thread) finds a hash entry without
a key and ends the experiment: failed with `worker_lost`, or queued again as a new
attempt when `--retry` allows. The RQ job follows: into the failed registry, or back
onto its queue. RQ alone notices a lost job only at its maintenance interval.

A missing key alone is not proof: Redis may have been restarted, or out of reach for
longer than the TTL, while the worker went on. So a run is judged lost only when its
worker has also stopped writing heartbeats into the store (the source of truth, which
does not depend on Redis); a worker that finds its key gone puts it back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from yanex.core import timestamps
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.errors import ExperimentNotFoundError
from yanex.queue import events, keys
from yanex.queue.fleet import forget_worker

if TYPE_CHECKING:
    from redis import Redis

LEASE_TTL = 15  # seconds; renewed at every heartbeat (default every 5 s)
LEASE_MISSED_BEATS = 3  # a lease lapses after this many missed heartbeats...
LEASE_FLOOR = 3  # ...but never sooner than this many seconds


@dataclass
class Lease:
    """Who runs an experiment, as recorded in the `yanex:leases` hash."""

    experiment_id: str
    worker: str
    host: str
    job_id: str
    attempt: int
    store_id: str
    events: str
    ttl: int = LEASE_TTL


def acquire(connection: Redis, lease: Lease, ttl: int | None = None) -> None:
    """Take the lease (key first, then the hash entry: a scan never sees an entry without a key
    unless the key expired)."""
    with connection.pipeline() as pipe:
        pipe.set(keys.lease(lease.experiment_id), lease.worker, ex=ttl or lease.ttl)
        pipe.hset(keys.LEASES, lease.experiment_id, json.dumps(asdict(lease)))
        pipe.execute()


def renew(connection: Redis, lease: Lease) -> None:
    """Extend the lease by its TTL; put it back if Redis lost it (restarted, or unreachable
    for longer than the TTL) while this worker went on running the experiment."""
    if not connection.expire(keys.lease(lease.experiment_id), lease.ttl):
        acquire(connection, lease)


def release(connection: Redis, experiment_id: str) -> None:
    """Give the lease back (hash entry first, then the key)."""
    with connection.pipeline() as pipe:
        pipe.hdel(keys.LEASES, experiment_id)
        pipe.delete(keys.lease(experiment_id))
        pipe.execute()


def reap_expired(connection: Redis, store: Store, only: Collection[str] | None = None) -> list[str]:
    """End every experiment (of `store`, optionally only those in `only`) whose lease expired.

    Returns the ids that this call ended or re-queued. Several scanners may race: the
    store's attempt-guarded status change lets exactly one of them act.
    """
    entries = connection.hgetall(keys.LEASES)
    candidates = []
    for raw_id, raw in entries.items():
        experiment_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        if only is not None and experiment_id not in only:
            continue
        candidates.append((experiment_id, Lease(**json.loads(raw))))
    if not candidates:
        return []
    with connection.pipeline() as pipe:
        for experiment_id, _ in candidates:
            pipe.exists(keys.lease(experiment_id))
        alive = pipe.execute()
    store_id = store.store_id
    ended = []
    for (experiment_id, lease), exists in zip(candidates, alive, strict=True):
        if exists or lease.store_id != store_id:
            continue  # alive, or another store's run: not ours to judge
        if _still_beating(store, lease):
            continue  # Redis lost the key, not the worker: it will put the key back
        if _end_lost(connection, store, lease):
            ended.append(experiment_id)
            forget_worker(connection, lease.worker)
        connection.hdel(keys.LEASES, experiment_id)
    return ended


def _still_beating(store: Store, lease: Lease) -> bool:
    """Whether the lease's worker wrote a heartbeat into the store within the lease TTL."""
    try:
        execution = store.read_metadata(lease.experiment_id).get("execution") or {}
    except ExperimentNotFoundError:
        return False
    if execution.get("worker") != lease.worker or execution.get("attempt", 1) != lease.attempt:
        return False
    beat = timestamps.parse(execution.get("heartbeat"))
    return beat is not None and time.time() - beat.timestamp() < lease.ttl


def _end_lost(connection: Redis, store: Store, lease: Lease) -> bool:
    from yanex.queue.dependents import cancel_dependents
    from yanex.queue.jobs import fail_job, retry_job

    outcome: dict[str, Any] = {
        "failure_reason": FailureReason.WORKER_LOST.value,
        "error_message": (
            f"worker {lease.worker} on {lease.host} stopped renewing its lease (killed, powered "
            "off or cut from the network); the run's result is unknown"
        ),
        "exit_code": None,
    }
    try:
        metadata = store.read_metadata(lease.experiment_id)
    except ExperimentNotFoundError:
        return False
    max_attempts = (metadata.get("execution") or {}).get("max_attempts", 1)
    if lease.attempt < max_attempts and store.retry(
        lease.experiment_id, attempt=lease.attempt, outcome=outcome
    ):
        retry_job(connection, lease.job_id)
        events.publish(connection, lease.events, lease.experiment_id, events.ENDED, "retrying")
        return True
    if not store.transition(lease.experiment_id, Status.FAILED, attempt=lease.attempt, **outcome):
        return False
    fail_job(connection, lease.job_id, outcome["error_message"])
    cancel_dependents(connection, store, lease.experiment_id)
    events.publish(connection, lease.events, lease.experiment_id, events.ENDED)
    return True
