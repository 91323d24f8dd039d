"""The Runner: executes one experiment as a supervised subprocess.

It is the only code that starts experiment processes: the local executor's threads and
the queue worker both call `Runner.run(experiment_id)`. The record (script, args,
interpreter, cwd, env, timeout) is read from the store, so everything needed to run is
already there before anything runs.

Supervision: the child gets its own process group (so a timeout or a cancel reaches
the subprocesses it starts) and, on Linux, a parent-death signal (so it dies if the
supervisor is SIGKILLed). While it runs, the supervisor refreshes a heartbeat in the
metadata; a later reader that finds the supervisor gone marks the run failed
(`yanex.core.liveness`). Termination ladder: SIGINT (cancel only), SIGTERM, SIGKILL.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yanex.core import liveness, timestamps
from yanex.core.metrics import summarize
from yanex.core.spec import ExperimentResult
from yanex.core.status import FailureReason, Status
from yanex.core.store import STDERR_FILE, Metadata, Store
from yanex.errors import StatusTransitionError
from yanex.execution.output import Echo, OutputFiles, OutputMode, prefixed, tail
from yanex.execution.process import Outcome, preexec, supervise

INTERRUPT_GRACE = 3.0
TERMINATE_GRACE = 5.0


@dataclass
class RunOptions:
    """How a Runner supervises: output, heartbeat, grace periods, extra env, and labels."""

    output: OutputMode = OutputMode.CAPTURE
    echo: Echo | None = None
    heartbeat_interval: float = liveness.HEARTBEAT_INTERVAL
    interrupt_grace: float = INTERRUPT_GRACE
    terminate_grace: float = TERMINATE_GRACE
    extra_env: dict[str, str] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=lambda: {"backend": "local"})
    on_heartbeat: Callable[[str], None] | None = None
    """Called with the experiment id at every heartbeat (the queue worker renews its lease)."""


class RunControl:
    """Lets another thread stop or kill a run that a Runner is supervising.

    A stop sends the termination ladder (SIGINT, SIGTERM, SIGKILL with grace periods)
    and records the run as `status` with `failure_reason`: cancelled by default, or
    failed/preempted when a worker is being shut down under it.
    """

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.cancel_reason: str | None = None
        self.stop_status = Status.CANCELLED
        self.stop_reason = FailureReason.CANCELLED
        self.kill_now = False

    @property
    def cancelled(self) -> bool:
        return self.cancel_reason is not None

    def cancel(self, reason: str = "cancelled by the user") -> None:
        """Stop the run gently and record it cancelled."""
        self.stop(reason)

    def stop(
        self,
        reason: str,
        *,
        status: Status = Status.CANCELLED,
        failure_reason: FailureReason = FailureReason.CANCELLED,
    ) -> None:
        """Stop the run gently (the first stop's reason and status win)."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self.stop_status = status
            self.stop_reason = failure_reason
        self.wake.set()

    def kill(self) -> None:
        """Skip the grace periods: SIGKILL the run's process group now."""
        self.kill_now = True
        self.cancel()


class Runner:
    """Runs one experiment from the store and records how it ended."""

    def __init__(self, store: Store, options: RunOptions | None = None) -> None:
        self.store = store
        self.options = options or RunOptions()

    def run(self, experiment_id: str, control: RunControl | None = None) -> ExperimentResult:
        """Run the experiment to its end; return its result (read back from the store)."""
        control = control or RunControl()
        metadata = self.store.read_metadata(experiment_id)
        if control.cancelled:
            self._end_unstarted(
                experiment_id, control.stop_status, control.cancel_reason, control.stop_reason
            )
            return self._result(experiment_id)
        problem = _preflight(metadata)
        if problem:
            self._end_unstarted(experiment_id, Status.FAILED, problem, FailureReason.ERROR)
            return self._result(experiment_id)
        execution = self._execution_record(metadata)
        if self._claim(experiment_id, execution):
            self._supervise(experiment_id, metadata, execution, control)
        return self._result(experiment_id)

    def _claim(self, experiment_id: str, execution: Metadata) -> bool:
        """Mark it running; False if another runner got there first (two `yanex run --staged`)."""
        try:
            return self.store.transition(experiment_id, Status.RUNNING, execution=execution)
        except StatusTransitionError:  # already running: someone else's to finish
            return False

    def _supervise(
        self, experiment_id: str, metadata: Metadata, execution: Metadata, control: RunControl
    ) -> None:
        artifacts = self.store.artifacts_dir(experiment_id)
        echo = self.options.echo
        if echo is not None and self.options.output is OutputMode.PREFIX:
            echo = prefixed(echo, f"[{_label(experiment_id, metadata)}] ")
        with OutputFiles(artifacts, self.options.output, echo) as output:
            try:
                process = subprocess.Popen(
                    command_for(metadata),
                    cwd=metadata.get("cwd") or None,
                    env=self._environment(experiment_id, metadata),
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=preexec(),
                    **output.popen_kwargs(),
                )
            except OSError as error:
                message = f"could not start {command_for(metadata)[0]}: {error.strerror}"
                self._finish(experiment_id, execution, Outcome.error(message))
                return
            self._record_child(experiment_id, process.pid)
            output.start_pumps(process)
            outcome = supervise(
                process,
                control,
                timeout=metadata.get("timeout"),
                heartbeat=lambda: self._heartbeat(experiment_id),
                options=self.options,
            )
        outcome.stderr_tail = tail(artifacts / STDERR_FILE)
        self._finish(experiment_id, execution, outcome)

    def _execution_record(self, metadata: Metadata) -> Metadata:
        attempt = (metadata.get("execution") or {}).get("attempt", 1)
        return {
            **self.options.execution,
            "host": liveness.this_host(),
            "pid": os.getpid(),
            "pid_start": liveness.process_start_time(os.getpid()),
            "attempt": attempt,
            "max_attempts": (metadata.get("execution") or {}).get("max_attempts", 1),
            "heartbeat": timestamps.now(),
            "heartbeat_interval": self.options.heartbeat_interval,
        }

    def _environment(self, experiment_id: str, metadata: Metadata) -> dict[str, str]:
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (metadata.get("env") or {}).items()})
        env.update(self.options.extra_env)
        env.update(
            YANEX_EXPERIMENT_ID=experiment_id,
            YANEX_EXPERIMENTS_DIR=str(self.store.root),
            YANEX_CLI_ACTIVE="1",
            PYTHONUNBUFFERED="1",
        )
        return env

    def _record_child(self, experiment_id: str, pid: int) -> None:
        start = liveness.process_start_time(pid)

        def record(metadata: Metadata) -> None:
            metadata.setdefault("execution", {}).update(child_pid=pid, child_start=start)

        self.store.update_metadata(experiment_id, record)

    def _heartbeat(self, experiment_id: str) -> bool:
        """Refresh the heartbeat; False when someone else already ended the experiment."""
        alive = True

        def beat(metadata: Metadata) -> None:
            nonlocal alive
            alive = metadata.get("status") == Status.RUNNING.value
            if alive:
                metadata.setdefault("execution", {})["heartbeat"] = timestamps.now()

        self.store.update_metadata(experiment_id, beat)
        if alive and self.options.on_heartbeat is not None:
            self.options.on_heartbeat(experiment_id)
        return alive

    def _finish(self, experiment_id: str, execution: Metadata, outcome: Outcome) -> None:
        fields = {
            "exit_code": outcome.exit_code,
            "failure_reason": outcome.reason.value if outcome.reason else None,
            "error_message": outcome.message(),
            "metrics_summary": summarize(self.store.metrics_path(experiment_id)),
        }
        attempt = execution["attempt"]
        if outcome.status is Status.FAILED and attempt < execution.get("max_attempts", 1):
            # Attempts remain (--retry): back to queued, the old attempt's logs kept.
            if self.store.retry(experiment_id, attempt=attempt, outcome=fields):
                return
        self.store.transition(experiment_id, outcome.status, attempt=attempt, **fields)

    def _end_unstarted(
        self,
        experiment_id: str,
        status: Status,
        message: str | None,
        reason: FailureReason = FailureReason.CANCELLED,
    ) -> None:
        if self.store.read_metadata(experiment_id).get("status") == Status.RUNNING.value:
            return  # another runner started it meanwhile: not ours to end
        self.store.transition(
            experiment_id, status, failure_reason=reason.value, error_message=message
        )

    def _result(self, experiment_id: str) -> ExperimentResult:
        return ExperimentResult.from_metadata(self.store.read_metadata(experiment_id))


def command_for(metadata: Metadata) -> list[str]:
    """The command line that runs an experiment: `python script.py args` or `python -m mod args`."""
    import sys

    python = metadata.get("python") or sys.executable
    args = [str(a) for a in metadata.get("script_args") or []]
    if metadata.get("module"):
        return [python, "-m", str(metadata["module"]), *args]
    return [python, str(metadata["script_path"]), *args]


def _label(experiment_id: str, metadata: Metadata) -> str:
    """What prefixes an experiment's live output lines: its name, else script, module or id."""
    script = metadata.get("script_path")
    return str(
        metadata.get("name")
        or (Path(script).name if script else metadata.get("module"))
        or experiment_id
    )


def _preflight(metadata: Metadata) -> str | None:
    """A reason the experiment cannot start on this host, or None."""
    host = liveness.this_host()
    script = metadata.get("script_path")
    if not metadata.get("module") and script and not Path(script).is_file():
        return (
            f"script {script} does not exist on host {host}; the machine that runs it needs "
            "the same path (run workers on a shared filesystem)"
        )
    cwd = metadata.get("cwd")
    if cwd and not Path(cwd).is_dir():
        return f"working directory {cwd} does not exist on host {host}"
    python = metadata.get("python")
    if python and not os.access(python, os.X_OK):
        return f"python interpreter {python} does not exist or is not executable on host {host}"
    return None
