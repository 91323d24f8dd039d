"""The one backend interface; `LocalExecutor` and the queue's `QueueExecutor` implement it.

An executor receives experiment ids whose records already exist in the store (status
`queued` or `staged`) and returns one `ExperimentResult` per id, in the same order,
built from the store. Which executor runs a batch is configuration (`queue=`,
`--queue`, `YANEX_QUEUE`), chosen in `executor_for`, never by the caller's code shape.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from yanex.core.spec import ExperimentResult
from yanex.core.store import Store
from yanex.execution.events import Reporter

# The queue backend sits above this layer (it imports the Runner for its worker), so it
# is loaded by name, here and only here.
QUEUE_EXECUTOR = "yanex.queue.executor"
QUEUE_CONNECTION = "yanex.queue.connection"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch; every member has been recorded and is in `results`."""

    def __init__(self, results: list[ExperimentResult]) -> None:
        super().__init__("batch interrupted")
        self.results = results


class Executor(ABC):
    """Runs experiments that already have records in the store."""

    @abstractmethod
    def execute(self, experiment_ids: Sequence[str], reporter: Reporter) -> list[ExperimentResult]:
        """Run every experiment to its end; return results in the order of `experiment_ids`."""


def queue_executor(store: Store, queue: str, **options: Any) -> Executor:
    """The RQ-backed executor for `queue` (imported only when a queue is configured)."""
    module = importlib.import_module(QUEUE_EXECUTOR)
    executor: Executor = module.QueueExecutor(store, queue, **options)
    return executor


def ensure_queue_reachable(redis_url: str | None) -> None:
    """Fail now, before any record is written, if the queue's Redis cannot be reached."""
    module = importlib.import_module(QUEUE_CONNECTION)
    module.ensure_reachable(module.redis_url(redis_url))
