"""Every status is true: find running experiments whose supervisor is gone.

The Runner records in `metadata.execution` the supervising process (pid, its start
time, host) and refreshes a heartbeat. `reap_lost` checks only the experiments in the
store's running index: on this host a dead supervisor pid (or one reused by another
process) is proof; on another host a heartbeat older than `LOST_AFTER` seconds is.
Such experiments are marked failed (`runner_lost`, or `worker_lost` on a queue worker),
and a surviving experiment process group on this host is killed so it cannot go on
computing and writing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from yanex.core import timestamps
from yanex.core.status import FailureReason, Status
from yanex.core.store import Metadata, Store
from yanex.errors import ExperimentNotFoundError, StoreError

HEARTBEAT_INTERVAL = 5.0
LOST_AFTER = 60.0  # seconds without a heartbeat before another host declares a run lost

_HOST = os.uname().nodename  # what socket.gethostname() returns, without importing socket


def this_host() -> str:
    return _HOST


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None if unknown."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def process_alive(pid: int, start_time: int | None = None) -> bool:
    """True if `pid` runs and, when `start_time` is known, is still the same process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc to ask: the signal check is all we have
    if fields[0] in ("Z", "X"):
        return False  # exited; only its parent has not collected it yet
    return start_time is None or int(fields[19]) == start_time


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are fixed.
    return stat.rsplit(")", 1)[1].split()


def supervisor_alive(execution: Metadata, now: float | None = None) -> bool:
    """Judge from `metadata.execution` whether the run's supervisor still lives."""
    pid = execution.get("pid")
    if execution.get("host") == _HOST and isinstance(pid, int):
        return process_alive(pid, execution.get("pid_start"))
    beat = timestamps.parse(execution.get("heartbeat"))
    if beat is None:
        return True  # nothing to judge by: leave it to the queue's lease
    age = (now or time.time()) - beat.timestamp()
    return age < max(LOST_AFTER, 6 * float(execution.get("heartbeat_interval") or 0))


def reap_lost(store: Store) -> list[str]:
    """Mark running experiments whose supervisor is gone as failed; return their ids."""
    lost = []
    for experiment_id in store.running_ids():
        try:
            metadata = store.read_metadata(experiment_id)
        except (ExperimentNotFoundError, StoreError):
            store.forget_running(experiment_id)
            continue
        status = Status(metadata.get("status", Status.CREATED.value))
        if status is not Status.RUNNING:
            if status.is_terminal:
                store.forget_running(experiment_id)
            continue  # not running yet: its marker was just written, ahead of the status
        execution = metadata.get("execution") or {}
        if supervisor_alive(execution) or _retried_by_queue(execution):
            continue
        if mark_lost(store, experiment_id, execution):
            lost.append(experiment_id)
    return lost


def _retried_by_queue(execution: Metadata) -> bool:
    """A queue run with attempts left is ended by the queue's lease reaper, which can retry
    it (and move its RQ job); this store-only check would end it for good."""
    attempts_left = execution.get("attempt", 1) < execution.get("max_attempts", 1)
    return execution.get("backend") == "rq" and attempts_left


def mark_lost(store: Store, experiment_id: str, execution: Metadata) -> bool:
    """Record a lost supervisor as a failure and stop its orphaned process group."""
    worker = execution.get("worker")
    reason = FailureReason.WORKER_LOST if worker else FailureReason.RUNNER_LOST
    who = f"worker {worker}" if worker else "the yanex process supervising it"
    message = (
        f"{who} (pid {execution.get('pid')} on {execution.get('host')}) is gone; "
        "the run ended without reporting its result"
    )
    applied = store.transition(
        experiment_id,
        Status.FAILED,
        attempt=execution.get("attempt"),
        failure_reason=reason.value,
        error_message=message,
    )
    if applied:
        kill_orphan(execution)
    return applied


def kill_orphan(execution: Metadata) -> None:
    """Kill the experiment's process group if it survived its supervisor on this host."""
    child = execution.get("child_pid")
    if execution.get("host") != _HOST or not isinstance(child, int):
        return
    # The child leads its own process group. If the child is dead but the group still
    # has members (its own subprocesses), the kernel cannot have reused the number, so
    # the group is ours; if the number now belongs to a newer process, leave it alone.
    start = process_start_time(child)
    if start is not None and start != execution.get("child_start"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child, signal.SIGKILL)
