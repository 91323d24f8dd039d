"""Waiting for experiments from anywhere (`yanex wait <id|batch>`), and cancelling them.

Experiments on a queue are waited for on their batches' event streams, like a blocking
client; experiments run by another local `yanex run` are followed through the store
(they have no stream), with the usual liveness check so a dead runner is not waited
on forever.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from yanex.core.liveness import reap_lost
from yanex.core.spec import ExperimentResult
from yanex.core.status import Status
from yanex.core.store import Store
from yanex.errors import UsageError
from yanex.execution.events import Reporter
from yanex.queue.cancel import cancel_experiments

LOCAL_POLL = 0.5  # local runs have no event stream; the store is read this often


def resolve_targets(store: Store, references: Sequence[str]) -> list[str]:
    """Experiment ids for references that are experiment ids/prefixes/names or batch ids."""
    if not references:
        raise UsageError("give experiment ids, names or a batch id")
    ids: list[str] = []
    batches = set(store.batch_ids())
    for reference in references:
        if reference in batches:
            ids.extend(store.read_batch(reference).get("experiments") or [])
        else:
            ids.append(store.resolve(reference))
    return list(dict.fromkeys(ids))


def wait_for(
    store: Store,
    experiment_ids: Sequence[str],
    *,
    redis_url: str | None = None,
    reporter: Reporter | None = None,
    timeout: float | None = None,
) -> list[ExperimentResult]:
    """Block until every experiment ended (or `timeout` passed); results in the given order."""
    reporter = reporter or Reporter()
    deadline = None if timeout is None else time.monotonic() + timeout
    names = [str(store.read_metadata(i).get("name") or i) for i in experiment_ids]
    reporter.batch_started("", experiment_ids, names)
    on_queue = [i for i in experiment_ids if _on_queue(store, i)]
    if any(not _ended(store, i) for i in on_queue):
        from yanex.queue.connection import connect
        from yanex.queue.executor import Waiter

        Waiter(connect(redis_url), store, on_queue, reporter).wait(
            deadline, cancel_on_interrupt=False
        )
    else:
        _report_ended(store, on_queue, reporter, set())
    reported = set(on_queue)
    local = [i for i in experiment_ids if i not in reported]
    while True:
        _report_ended(store, local, reporter, reported)
        if all(i in reported for i in local):
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        reap_lost(store)
        time.sleep(LOCAL_POLL)
    return [ExperimentResult.from_metadata(store.read_metadata(i)) for i in experiment_ids]


def _report_ended(
    store: Store, experiment_ids: Sequence[str], reporter: Reporter, reported: set[str]
) -> None:
    for experiment_id in experiment_ids:
        if experiment_id not in reported and _ended(store, experiment_id):
            reported.add(experiment_id)
            reporter.experiment_finished(
                ExperimentResult.from_metadata(store.read_metadata(experiment_id))
            )


def cancel(
    store: Store, experiment_ids: Sequence[str], *, redis_url: str | None = None
) -> list[str]:
    """Cancel experiments (queued, staged or running; local or on a queue); return those stopped."""
    connection = None
    if any(_on_queue(store, i) and not _ended(store, i) for i in experiment_ids):
        from yanex.queue.connection import connect

        connection = connect(redis_url)
    return cancel_experiments(store, experiment_ids, connection, "cancelled with `yanex cancel`")


def _on_queue(store: Store, experiment_id: str) -> bool:
    execution = store.read_metadata(experiment_id).get("execution") or {}
    return execution.get("backend") == "rq"


def _ended(store: Store, experiment_id: str) -> bool:
    status = store.read_metadata(experiment_id).get("status", Status.CREATED.value)
    return Status(status).is_terminal
