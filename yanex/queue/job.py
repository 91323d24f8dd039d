"""The RQ job function, referenced by its dotted path: `yanex.queue.job.run_experiment`.

It runs inside a `yanex-worker` process, validates the JSON payload, checks the
experiment exists in the worker's store under the client's store id, and hands over to
the worker (and so to the Runner). A job that cannot be run at all (wrong store,
unknown experiment, bad payload) fails with a message saying why, and tells the
waiting client through the batch's event stream, since it cannot write the client's
store itself.
"""

from __future__ import annotations

from typing import Any

from yanex.errors import ExperimentNotFoundError
from yanex.queue import events
from yanex.queue.payload import SHARED_PATH, JobPayload


class ExperimentNotCompleted(Exception):
    """Raised to RQ when an experiment ended failed or cancelled (so RQ's registries agree)."""


class JobRefused(Exception):
    """Raised to RQ when a job cannot be run by this worker at all."""


def run_experiment(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one experiment attempt described by `payload`; return its result as a dict."""
    from yanex.queue.worker import active_worker

    worker = active_worker()
    if worker is None:
        raise JobRefused(
            "yanex jobs must run on a `yanex-worker` (a plain `rq worker` does not supervise "
            "experiments); start one with: yanex-worker --queue <name>"
        )
    job_payload = JobPayload.from_dict(payload)
    store = worker.settings.store
    if job_payload.store_id != store.store_id:
        message = (
            f"worker {worker.name} writes to a different experiments directory ({store.root}, "
            f"store {store.store_id[:8]}) than the client ({job_payload.experiments_dir}, store "
            f"{job_payload.store_id[:8]}); give workers and clients the same shared directory "
            "(--experiments-dir / YANEX_EXPERIMENTS_DIR)"
        )
        _refuse(worker.connection, job_payload, message)
    try:
        store.read_metadata(job_payload.experiment_id)
    except ExperimentNotFoundError:
        _refuse(
            worker.connection,
            job_payload,
            f"experiment {job_payload.experiment_id} is not in {store.root} (worker {worker.name})",
        )
    return worker.run_payload(job_payload)


def locate_code(payload: JobPayload) -> list[str]:
    """The paths on this host that hold the experiment's code.

    The one place that knows where code comes from: today the script's path on a shared
    filesystem (checked again by the Runner before it starts); a code snapshot taken at
    submit time would be unpacked here.
    """
    code = payload.code
    if code.get("source") != SHARED_PATH:
        raise JobRefused(f"unknown code source {code.get('source')!r}")
    return [str(p) for p in (code.get("script_path"), code.get("cwd")) if p]


def _refuse(connection: Any, payload: JobPayload, message: str) -> None:
    events.publish(
        connection, payload.events, payload.experiment_id, events.FAILED_TO_START, message
    )
    raise JobRefused(message)
