"""Supervising one child process: waiting without polling, heartbeats, the kill ladder.

A waiter thread blocks in `waitpid` and wakes the supervisor the moment the child
exits; the supervisor otherwise sleeps until the next heartbeat, timeout or escalation
(or until a `RunControl` wakes it). Signals go to the child's whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from yanex.core.status import FailureReason, Status

if TYPE_CHECKING:
    from yanex.execution.runner import RunControl, RunOptions


@dataclass
class Outcome:
    """How the child ended, before it is written to the store."""

    status: Status
    reason: FailureReason | None = None
    exit_code: int | None = None
    detail: str | None = None
    stderr_tail: list[str] = field(default_factory=list)

    @classmethod
    def error(cls, detail: str) -> Outcome:
        return cls(Status.FAILED, FailureReason.ERROR, detail=detail)

    def message(self) -> str | None:
        """The error message stored with a failed or cancelled run.

        Its first line says what happened (for one-line displays); for a script that
        exited with an error, the last lines of its stderr follow, so the message shows
        where it failed (a traceback's last frames), not only what.
        """
        if self.status is Status.COMPLETED:
            return None
        if self.reason is not FailureReason.EXIT_CODE:
            return self.detail
        last = self.stderr_tail[-1].strip() if self.stderr_tail else ""
        head = f"script exited with code {self.exit_code}" + (f": {last}" if last else "")
        context = self.stderr_tail[-STDERR_LINES:]
        return "\n".join([head, *context]) if len(context) > 1 else head


STDERR_LINES = 6


def preexec() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that makes the child die with its supervisor (SIGKILL).

    PR_SET_PDEATHSIG fires when the thread that forked the child exits, which is the
    supervising thread: it lives exactly as long as the child does.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before prctl took effect
            os._exit(1)

    return set_parent_death_signal


def supervise(
    process: subprocess.Popen[bytes],
    control: RunControl,
    *,
    timeout: float | None,
    heartbeat: Callable[[], bool],
    options: RunOptions,
) -> Outcome:
    """Wait for `process`, keeping the heartbeat, obeying cancel and timeout; say how it ended."""
    waiter = threading.Thread(target=_wait, args=(process, control), daemon=True)
    waiter.start()
    ladder = _Ladder(process.pid)
    started = time.monotonic()
    next_beat = started + options.heartbeat_interval
    why: Outcome | None = None
    while process.returncode is None:
        now = time.monotonic()
        if control.cancelled and why is None:
            why = Outcome(control.stop_status, control.stop_reason, detail=control.cancel_reason)
            ladder.start(_stop_ladder(control, options))
        if control.kill_now:
            ladder.kill()
        if timeout is not None and why is None and now - started >= timeout:
            detail = f"timed out after {timeout:g} s"
            why = Outcome(Status.FAILED, FailureReason.TIMEOUT, detail=detail)
            ladder.start([(signal.SIGTERM, options.terminate_grace)])
        if now >= next_beat:
            next_beat = now + options.heartbeat_interval
            if not heartbeat() and why is None:  # ended elsewhere (e.g. `yanex cancel`)
                control.cancel("ended by another process")
                continue
        deadlines = [next_beat, ladder.next_at]
        if timeout is not None and why is None:
            deadlines.append(started + timeout)
        control.wake.wait(max(0.0, min(deadlines) - time.monotonic()))
        control.wake.clear()
        ladder.escalate()
    waiter.join()
    return why or _exit_outcome(process.returncode)


def _stop_ladder(control: RunControl, options: RunOptions) -> list[tuple[int, float]]:
    """Cancel starts like Ctrl-C (SIGINT); preemption like the scheduler does (SIGTERM)."""
    terminate = (signal.SIGTERM, options.terminate_grace)
    if control.stop_reason is FailureReason.PREEMPTED:
        return [terminate]
    return [(signal.SIGINT, options.interrupt_grace), terminate]


def _wait(process: subprocess.Popen[bytes], control: RunControl) -> None:
    process.wait()
    control.wake.set()


class _Ladder:
    """Signals sent to a process group one after another, each after its grace period."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.steps: list[tuple[int, float]] = []
        self.next_at = float("inf")
        self.started = False
        self.killed = False

    def start(self, steps: list[tuple[int, float]]) -> None:
        if self.started:
            return
        self.started = True
        self.steps = [*steps, (signal.SIGKILL, float("inf"))]
        self.next_at = 0.0
        self.escalate()

    def kill(self) -> None:
        """Jump to SIGKILL now (once)."""
        if self.killed:
            return
        self.killed = self.started = True
        self.steps = [(signal.SIGKILL, float("inf"))]
        self.next_at = 0.0
        self.escalate()

    def escalate(self) -> None:
        if not self.steps or time.monotonic() < self.next_at:
            return
        sig, grace = self.steps.pop(0)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)
        self.next_at = time.monotonic() + grace


def _exit_outcome(code: int) -> Outcome:
    if code == 0:
        return Outcome(Status.COMPLETED, exit_code=0)
    if code > 0:
        return Outcome(Status.FAILED, FailureReason.EXIT_CODE, exit_code=code)
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    detail = f"killed by signal {name} ({number})"
    if number == signal.SIGKILL:
        detail += " — the out-of-memory killer, a `kill -9`, or a scheduler"
    return Outcome(Status.FAILED, FailureReason.SIGNAL, exit_code=code, detail=detail)
