"""The experiment status machine (DESIGN.md), enforced here and nowhere else.

```
created -> staged | queued | running
staged  -> queued | running | cancelled
queued  -> running | cancelled | failed
running -> completed | failed | cancelled
```

A terminal status (completed, failed, cancelled) is never overwritten: the first writer
wins. The one way back from `running` is a retry, which puts a failed or lost attempt
back to `queued` as a new attempt of the same experiment, before any terminal status is
written (`Store.retry`, used by the queue's `--retry N`).
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """Where an experiment is in its life."""

    CREATED = "created"
    STAGED = "staged"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_active(self) -> bool:
        """Waiting or running: something may still happen to it."""
        return self in (Status.QUEUED, Status.RUNNING)


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.STAGED, Status.QUEUED, Status.RUNNING}),
    Status.STAGED: frozenset({Status.QUEUED, Status.RUNNING, Status.CANCELLED}),
    Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.FAILED}),
    Status.RUNNING: frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class FailureReason(str, Enum):
    """Why an experiment did not complete, so a crash can be told from a kill or a lost box."""

    EXIT_CODE = "exit_code"
    SIGNAL = "signal"
    TIMEOUT = "timeout"
    RUNNER_LOST = "runner_lost"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"
    PREEMPTED = "preempted"
    DEPENDENCY_FAILED = "dependency_failed"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


def can_transition(current: Status, target: Status) -> bool:
    """True when the status machine allows `current -> target`."""
    return target in TRANSITIONS[current]
