"""The local executor: N supervising threads, each driving one Runner subprocess.

No process pool: every experiment already is a process, so a thread that waits on it
costs nothing. Ctrl-C cancels the batch: members not started yet end `cancelled`,
running ones get the Runner's termination ladder; a second Ctrl-C kills at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from yanex.core.spec import ExperimentResult
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.execution.events import Reporter
from yanex.execution.executor import Executor, Interrupted
from yanex.execution.runner import RunControl, Runner, RunOptions


class LocalExecutor(Executor):
    """Runs experiments on this machine, `parallel` at a time."""

    def __init__(self, store: Store, parallel: int = 1, options: RunOptions | None = None) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, got {parallel}")
        self.store = store
        self.parallel = parallel
        self.runner = Runner(store, options)

    def execute(self, experiment_ids: Sequence[str], reporter: Reporter) -> list[ExperimentResult]:
        run = _LocalRun(self.store, self.runner, experiment_ids, reporter)
        threads = [
            threading.Thread(target=run.work, name=f"yanex-local-{i}", daemon=True)
            for i in range(min(self.parallel, len(experiment_ids)))
        ]
        for thread in threads:
            thread.start()
        interrupted = False
        try:
            run.wait()
        except KeyboardInterrupt:
            interrupted = True
            reporter.interrupted(second=False)
            run.cancel_all()
            try:
                run.wait()
            except KeyboardInterrupt:
                reporter.interrupted(second=True)
                run.kill_all()
                run.wait()
        for thread in threads:
            thread.join()
        results = [run.results[i] for i in experiment_ids]
        if interrupted:
            raise Interrupted(results)
        return results


class _LocalRun:
    """The shared state of one execute() call: what is pending, running and done."""

    def __init__(
        self, store: Store, runner: Runner, experiment_ids: Sequence[str], reporter: Reporter
    ) -> None:
        self.store = store
        self.runner = runner
        self.reporter = reporter
        self.pending = deque(experiment_ids)
        self.total = len(experiment_ids)
        self.results: dict[str, ExperimentResult] = {}
        self.controls: dict[str, RunControl] = {}
        self.cancel_reason: str | None = None
        self.condition = threading.Condition()

    def work(self) -> None:
        while True:
            with self.condition:
                if not self.pending:
                    return
                experiment_id = self.pending.popleft()
                control = self.controls[experiment_id] = RunControl()
                if self.cancel_reason:
                    control.cancel(self.cancel_reason)
            if not control.cancelled:
                self.reporter.experiment_started(experiment_id, self._name(experiment_id))
            result = self._run(experiment_id, control)
            with self.condition:
                self.results[experiment_id] = result
                del self.controls[experiment_id]
                self.condition.notify_all()
            self.reporter.experiment_finished(result)

    def _run(self, experiment_id: str, control: RunControl) -> ExperimentResult:
        try:
            return self.runner.run(experiment_id, control)
        except Exception as error:  # a bug of ours must not leave the record "running"
            self.store.transition(
                experiment_id,
                Status.FAILED,
                failure_reason=FailureReason.ERROR.value,
                error_message=f"yanex failed to supervise the run: {error!r}",
            )
            return ExperimentResult.from_metadata(self.store.read_metadata(experiment_id))

    def _name(self, experiment_id: str) -> str:
        metadata = self.store.read_metadata(experiment_id)
        return str(metadata.get("name") or metadata.get("script_path") or experiment_id)

    def wait(self) -> None:
        with self.condition:
            while len(self.results) < self.total:
                self.condition.wait()

    def cancel_all(self, reason: str = "cancelled by Ctrl-C") -> None:
        with self.condition:
            self.cancel_reason = reason
            controls = list(self.controls.values())
        for control in controls:
            control.cancel(reason)

    def kill_all(self) -> None:
        with self.condition:
            controls = list(self.controls.values())
        for control in controls:
            control.kill()
