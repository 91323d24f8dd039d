"""Cancelling experiments that are not on a queue: staged, queued locally, or running here.

The record is marked cancelled first (the first terminal writer wins, so the
supervising Runner cannot overwrite it); a run on this host then gets SIGINT in its
process group, and its Runner's heartbeat notices the status within seconds and
finishes the ladder (SIGTERM, SIGKILL) if the script ignores it.
"""

from __future__ import annotations

import contextlib
import os
import signal

from yanex.core import liveness
from yanex.core.status import FailureReason, Status
from yanex.core.store import Metadata, Store


def cancel_local(store: Store, metadata: Metadata, reason: str) -> bool:
    """Cancel one experiment that no queue worker holds; True if this call cancelled it."""
    experiment_id = str(metadata["id"])
    status = Status(metadata.get("status", Status.CREATED.value))
    if status.is_terminal or status is Status.CREATED:
        return False
    applied = store.transition(
        experiment_id,
        Status.CANCELLED,
        failure_reason=FailureReason.CANCELLED.value,
        error_message=reason,
    )
    if applied and status is Status.RUNNING:
        interrupt(metadata.get("execution") or {})
    return applied


def interrupt(execution: Metadata) -> None:
    """Send SIGINT to a run's process group, if it runs on this host and is still ours."""
    child = execution.get("child_pid")
    if execution.get("host") != liveness.this_host() or not isinstance(child, int):
        return
    if liveness.process_alive(child, execution.get("child_start")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGINT)
