"""RQ jobs for experiments: enqueueing in bulk, and moving them between RQ's registries.

RQ's defaults would hurt experiments, so every job gets: no timeout unless the spec has
one (RQ's default is 180 s), results kept a week for detached clients (RQ: 500 s),
failures kept a month, JSON serialization (never pickle), and a job id derived from
the experiment id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from yanex.queue import keys
from yanex.queue.payload import JOB_FUNCTION, JobPayload

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue
    from rq.job import Job

RESULT_TTL = 7 * 24 * 3600
FAILURE_TTL = 30 * 24 * 3600
TIMEOUT_MARGIN = 60  # the Runner enforces the spec's timeout; RQ's is only a backstop
ENQUEUE_CHUNK = 500


def serializer() -> Any:
    from rq.serializers import JSONSerializer

    return JSONSerializer


def make_queue(connection: Redis, name: str) -> Queue:
    from rq import Queue

    return Queue(name, connection=connection, serializer=serializer())


def job_options(metadata: Mapping[str, Any], depends_on: Sequence[str] = ()) -> dict[str, Any]:
    """RQ options for one experiment's job."""
    from rq import Retry

    timeout = metadata.get("timeout")
    retries = int((metadata.get("execution") or {}).get("max_attempts", 1)) - 1
    name = metadata.get("name") or metadata.get("script_path") or metadata.get("module")
    return {
        "timeout": int(timeout) + TIMEOUT_MARGIN if timeout else -1,
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "ttl": None,
        "description": f"yanex experiment {metadata['id']} ({name})",
        "job_id": keys.job_id(str(metadata["id"])),
        "retry": Retry(max=retries) if retries > 0 else None,
        "depends_on": list(depends_on) or None,
    }


def enqueue(queue: Queue, payloads: Iterable[tuple[JobPayload, dict[str, Any]]]) -> list[Job]:
    """Enqueue (payload, options) pairs with `enqueue_many`, pipelined in chunks."""
    jobs: list[Job] = []
    chunk: list[Any] = []
    for payload, options in payloads:
        chunk.append(
            queue.prepare_data(JOB_FUNCTION, kwargs={"payload": payload.to_dict()}, **options)
        )
        if len(chunk) >= ENQUEUE_CHUNK:
            jobs.extend(_flush(queue, chunk))
            chunk = []
    if chunk:
        jobs.extend(_flush(queue, chunk))
    return jobs


def _flush(queue: Queue, chunk: list[Any]) -> list[Job]:
    # No pipeline of ours: enqueue_many pipelines each of its phases itself, and with a
    # caller's pipeline rq 2.12 checks dependencies inside it (where queries return
    # nothing) and enqueues dependent jobs at once instead of deferring them.
    jobs: list[Job] = queue.enqueue_many(chunk)
    return jobs


def fetch(connection: Redis, job_id: str) -> Job | None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(job_id, connection=connection, serializer=serializer())
    except NoSuchJobError:
        return None


def retry_job(connection: Redis, job_id: str) -> None:
    """Put a job whose worker was lost back on its queue (same id: dependents keep waiting)."""
    job = fetch(connection, job_id)
    if job is None:
        return
    queue = make_queue(connection, job.origin)
    with connection.pipeline() as pipe:
        job.started_job_registry.remove_executions(job, pipeline=pipe)
        job.retries_left = max(job.retries_left or 0, 1)
        job.retry(queue, pipe)
        pipe.execute()


def fail_job(connection: Redis, job_id: str, message: str) -> None:
    """Move a job whose worker was lost to RQ's failed registry."""
    from rq.job import JobStatus

    job = fetch(connection, job_id)
    if job is None:
        return
    with connection.pipeline() as pipe:
        job.started_job_registry.remove_executions(job, pipeline=pipe)
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        job.failed_job_registry.add(job, ttl=FAILURE_TTL, exc_string=message, pipeline=pipe)
        pipe.execute()


def cancel_queued(connection: Redis, job_ids: Iterable[str]) -> None:
    """Take jobs off their queues into RQ's canceled registry, in one pipeline."""
    from rq.exceptions import InvalidJobOperation
    from rq.job import Job

    jobs = [
        j
        for j in Job.fetch_many(list(job_ids), connection=connection, serializer=serializer())
        if j
    ]
    with connection.pipeline() as pipe:
        for job in jobs:
            with suppress(InvalidJobOperation):
                job.cancel(pipeline=pipe)
        pipe.execute()


def stop_running(connection: Redis, job_ids: Iterable[str]) -> None:
    """Ask the workers running these jobs to stop them (RQ's stop-job command).

    yanex workers answer with the Runner's termination ladder (SIGINT, SIGTERM, SIGKILL
    after grace periods) and record the experiment cancelled.
    """
    from rq.command import send_stop_job_command
    from rq.exceptions import InvalidJobOperation, NoSuchJobError

    for job_id in job_ids:
        with suppress(InvalidJobOperation, NoSuchJobError):
            send_stop_job_command(connection, job_id, serializer=serializer())
