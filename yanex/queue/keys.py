"""Every Redis key yanex writes, derived from one prefix (like rq's `rq:job:`).

RQ's own keys (`rq:queue:*`, `rq:job:*`, registries, workers) are RQ's; these are the
few yanex adds beside them.
"""

from __future__ import annotations

PREFIX = "yanex:"

LEASES = PREFIX + "leases"
"""Hash: experiment id -> JSON of who holds its lease (worker, job id, events stream)."""

WORKERS = PREFIX + "workers"
"""Hash: worker name -> JSON of its yanex settings (host, GPUs, store id, experiments dir)."""


def lease(experiment_id: str) -> str:
    """String with a short TTL, renewed by the worker's heartbeat while the run lives."""
    return f"{PREFIX}lease:{experiment_id}"


def events(batch_id: str) -> str:
    """Stream of `started`/`ended` events of one batch's experiments (wakes waiting clients)."""
    return f"{PREFIX}events:{batch_id}"


def job_id(experiment_id: str, attempt: int = 1) -> str:
    """The RQ job id of an experiment's attempt: derived from its id, so it can be found."""
    return f"yanex-{experiment_id}" if attempt <= 1 else f"yanex-{experiment_id}-a{attempt}"


def experiment_of_job(job: str) -> str | None:
    """The experiment id encoded in a yanex RQ job id, or None for a foreign job."""
    if not job.startswith("yanex-"):
        return None
    return job[len("yanex-") :].split("-a", 1)[0]
