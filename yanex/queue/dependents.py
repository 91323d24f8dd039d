"""When an experiment on a queue fails, its dependents must not wait forever.

RQ keeps a job whose dependency failed in the deferred registry for good (even with
`allow_failure`, it waits for the dependency to *finish*). So whoever records a failed
or cancelled ending (the worker, the lease reaper, `yanex cancel`) also ends the
dependents: each is marked cancelled with reason `dependency_failed`, naming the
dependency, its job leaves RQ's deferred registry, and its waiting clients are woken;
then the same happens to their own dependents. Dependents that allow failed
dependencies are left to RQ, which enqueues them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.errors import ExperimentNotFoundError
from yanex.queue import events, jobs, keys

if TYPE_CHECKING:
    from redis import Redis


def cancel_dependents(connection: Redis, store: Store, experiment_id: str) -> list[str]:
    """Cancel every experiment whose job waits on `experiment_id`'s job; return their ids."""
    cancelled: list[str] = []
    frontier = [experiment_id]
    while frontier:
        upstream = frontier.pop()
        job = jobs.fetch(connection, _job_of(store, upstream))
        if job is None:
            continue
        for dependent_job in job.dependent_ids:
            dependent = keys.experiment_of_job(dependent_job)
            if dependent is None or dependent in cancelled:
                continue
            if _cancel(connection, store, dependent, dependent_job, upstream):
                cancelled.append(dependent)
                frontier.append(dependent)
    return cancelled


def _cancel(
    connection: Redis, store: Store, experiment_id: str, job_id: str, upstream: str
) -> bool:
    try:
        metadata = store.read_metadata(experiment_id)
        cause = store.read_metadata(upstream)
    except ExperimentNotFoundError:
        return False
    if metadata.get("allow_failed_dependencies"):
        return False
    name = cause.get("name") or cause.get("script_path") or upstream
    applied = store.transition(
        experiment_id,
        Status.CANCELLED,
        failure_reason=FailureReason.DEPENDENCY_FAILED.value,
        error_message=f"dependency {upstream} ({name}) {cause.get('status')}",
    )
    if applied:
        jobs.cancel_queued(connection, [job_id])
        stream = keys.events(str(metadata.get("batch") or experiment_id))
        events.publish(connection, stream, experiment_id, events.ENDED)
    return applied


def _job_of(store: Store, experiment_id: str) -> str:
    try:
        execution = store.read_metadata(experiment_id).get("execution") or {}
    except ExperimentNotFoundError:
        execution = {}
    return str(execution.get("job_id") or keys.job_id(experiment_id))
