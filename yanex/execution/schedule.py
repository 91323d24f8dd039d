"""The local executor's order: experiments start in order, once their dependencies completed.

A dependency that completed is used as is. One that failed or was cancelled makes its
dependents end `cancelled` with reason `dependency_failed` naming it (unless the
dependent allows failed dependencies), and so on down the graph. One that is still
queued or running (here or elsewhere) makes the dependent wait; one that is staged but
not part of this run never will run, so the dependent is skipped with a message that
says how to run both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yanex.core.dependencies import as_ids
from yanex.core.status import Status
from yanex.core.store import Store
from yanex.errors import ExperimentNotFoundError

RECHECK = 1.0  # seconds between looks at dependencies running outside this executor


@dataclass
class Decision:
    """What to do with an experiment taken from the schedule."""

    experiment_id: str
    skip_reason: str | None = None  # set: do not run it, record it cancelled


class Schedule:
    """Pending experiments of one local execution, handed out in dependency order."""

    def __init__(self, store: Store, experiment_ids: Sequence[str]) -> None:
        self.store = store
        self.waiting = list(experiment_ids)
        self.members = set(experiment_ids)
        self.needs: dict[str, list[str]] = {}
        self.tolerant: set[str] = set()
        for experiment_id in experiment_ids:
            try:
                metadata = store.read_metadata(experiment_id)
            except ExperimentNotFoundError:
                continue
            self.needs[experiment_id] = as_ids(metadata.get("dependencies"))
            if metadata.get("allow_failed_dependencies"):
                self.tolerant.add(experiment_id)

    def __bool__(self) -> bool:
        return bool(self.waiting)

    def take(self, *, ignore_dependencies: bool = False) -> Decision | None:
        """The next experiment to run or skip, or None if all remaining ones must wait."""
        for experiment_id in self.waiting:
            decision = (
                Decision(experiment_id) if ignore_dependencies else self._decide(experiment_id)
            )
            if decision is not None:
                self.waiting.remove(experiment_id)
                return decision
        return None

    def _decide(self, experiment_id: str) -> Decision | None:
        for dependency in self.needs.get(experiment_id, []):
            status = self._status(dependency)
            if status is Status.COMPLETED:
                continue
            if status in (Status.FAILED, Status.CANCELLED):
                if experiment_id in self.tolerant:
                    continue
                return Decision(experiment_id, f"dependency {dependency} {status}")
            if status in (Status.STAGED, Status.CREATED) and dependency not in self.members:
                return Decision(
                    experiment_id,
                    f"dependency {dependency} is {status} and not part of this run; run both "
                    f"with `yanex run --staged {dependency} {experiment_id}`",
                )
            return None  # queued or running: wait for it
        return Decision(experiment_id)

    def _status(self, experiment_id: str) -> Status:
        try:
            return Status(self.store.read_metadata(experiment_id).get("status", "created"))
        except ExperimentNotFoundError:
            return Status.CANCELLED  # deleted: it will never complete
