"""Cancelling experiments anywhere: queued RQ jobs, runs on workers, and local runs.

Used by a blocking client on Ctrl-C and by `yanex cancel <id|batch>` from any machine.
Queued experiments are marked cancelled and their jobs leave the queue in one
pipeline; running ones on workers get RQ's stop-job command (the worker stops them
gracefully and records them cancelled); local ones are handled by
`yanex.execution.cancel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from yanex.core.status import Status
from yanex.core.store import Store
from yanex.execution.cancel import cancel_local
from yanex.queue import events, jobs, keys
from yanex.queue.dependents import cancel_dependents

if TYPE_CHECKING:
    from redis import Redis


def cancel_experiments(
    store: Store,
    experiment_ids: Sequence[str],
    connection: Redis | None,
    reason: str = "cancelled by the user",
) -> list[str]:
    """Cancel what can be cancelled; return the ids asked to stop (some end a bit later)."""
    queued_jobs: list[str] = []
    running_jobs: list[str] = []
    touched: list[str] = []
    for experiment_id in experiment_ids:
        metadata = store.read_metadata(experiment_id)
        execution = metadata.get("execution") or {}
        status = Status(metadata.get("status", Status.CREATED.value))
        on_queue = execution.get("backend") == "rq"
        if status.is_terminal:
            continue
        if on_queue and status is Status.RUNNING:
            running_jobs.append(str(execution.get("job_id") or keys.job_id(experiment_id)))
            touched.append(experiment_id)
            continue
        if cancel_local(store, metadata, reason):
            touched.append(experiment_id)
            if on_queue:
                queued_jobs.append(str(execution.get("job_id") or keys.job_id(experiment_id)))
    if connection is not None and (queued_jobs or running_jobs):
        jobs.cancel_queued(connection, queued_jobs)
        jobs.stop_running(connection, running_jobs)
        _announce(store, connection, touched)
        for experiment_id in touched:
            cancel_dependents(connection, store, experiment_id)
    return touched


def _announce(store: Store, connection: Redis, experiment_ids: Sequence[str]) -> None:
    """Wake clients waiting on these experiments' batches."""
    with connection.pipeline() as pipe:
        for experiment_id in experiment_ids:
            metadata = store.read_metadata(experiment_id)
            if Status(metadata.get("status", "created")).is_terminal:
                stream = keys.events(str(metadata.get("batch") or experiment_id))
                events.publish(connection, stream, experiment_id, events.ENDED, pipeline=pipe)
        pipe.execute()
