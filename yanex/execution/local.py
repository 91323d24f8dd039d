"""The local executor: N supervising threads, each driving one Runner subprocess.

No process pool: every experiment already is a process, so a thread that waits on it
costs nothing. Ctrl-C cancels the batch: members not started yet end `cancelled`,
running ones get the Runner's termination ladder; a second Ctrl-C kills at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from yanex.core.spec import ExperimentResult
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.errors import ExperimentNotFoundError
from yanex.execution.events import Reporter
from yanex.execution.executor import Executor, Interrupted
from yanex.execution.runner import RunControl, Runner, RunOptions
from yanex.execution.schedule import RECHECK, Decision, Schedule

SIGNAL_CHECK = 0.2  # seconds: how late a Ctrl-C may be noticed at worst


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
        interrupted = False
        try:
            for thread in threads:  # Ctrl-C may land while a worker starts (start() waits)
                thread.start()
            run.wait()
        except KeyboardInterrupt:
            interrupted = True
            _stop(run, reporter)
        for thread in threads:
            if thread.is_alive():
                thread.join()
        results = [run.results[i] for i in experiment_ids]
        if interrupted:
            raise Interrupted(results)
        if run.reporter_error is not None:  # every member has ended; now surface the bug
            raise run.reporter_error
        return results


def _stop(run: _LocalRun, reporter: Reporter) -> None:
    """After Ctrl-C: cancel every member; a further Ctrl-C, whenever it comes, kills them."""
    kill = False
    while True:
        try:
            run.cancel_all()  # act first: a slow display must not delay the stop
            if kill:
                run.kill_all()
            run._notify(reporter.interrupted, kill)
            run.wait()
            return
        except KeyboardInterrupt:  # may arrive anywhere above, even before the cancel
            kill = True


class _LocalRun:
    """The shared state of one execute() call: what is pending, running and done."""

    def __init__(
        self, store: Store, runner: Runner, experiment_ids: Sequence[str], reporter: Reporter
    ) -> None:
        self.store = store
        self.runner = runner
        self.reporter = reporter
        self.schedule = Schedule(store, experiment_ids)
        self.total = len(experiment_ids)
        self.results: dict[str, ExperimentResult] = {}
        self.controls: dict[str, RunControl] = {}
        self.cancel_reason: str | None = None
        self.reporter_error: Exception | None = None
        self.condition = threading.Condition()

    def work(self) -> None:
        while True:
            with self.condition:
                decision = self._next()
                if decision is None:
                    return
                experiment_id = decision.experiment_id
                control = self.controls[experiment_id] = RunControl()
                if self.cancel_reason:
                    control.cancel(self.cancel_reason)
                elif decision.skip_reason:
                    control.stop(
                        decision.skip_reason, failure_reason=FailureReason.DEPENDENCY_FAILED
                    )
            if not control.cancelled:
                name = self._name(experiment_id)
                self._notify(self.reporter.experiment_started, experiment_id, name)
            result = self._run(experiment_id, control)
            with self.condition:
                self.results[experiment_id] = result
                del self.controls[experiment_id]
                self.condition.notify_all()
            self._notify(self.reporter.experiment_finished, result)

    def _next(self) -> Decision | None:
        """Under the condition: the next decision, waiting while dependencies are unfinished."""
        while self.schedule:
            decision = self.schedule.take(ignore_dependencies=self.cancel_reason is not None)
            if decision is not None:
                return decision
            self.condition.wait(timeout=RECHECK)  # woken when a member ends
        return None

    def _notify(self, event: Callable[..., None], *args: Any) -> None:
        """Tell the reporter; a broken display must neither stop nor hang the batch."""
        try:
            event(*args)
        except Exception as error:
            with self.condition:
                self.reporter_error = self.reporter_error or error

    def _run(self, experiment_id: str, control: RunControl) -> ExperimentResult:
        try:
            result = self.runner.run(experiment_id, control)
            while result.status == Status.QUEUED.value and not control.cancelled:
                result = self.runner.run(experiment_id, control)  # a retry (--retry N)
            return result
        except Exception as error:  # a bug of ours must not leave the record "running"
            message = f"yanex failed to supervise the run: {error!r}"
            reason = FailureReason.ERROR.value
            try:
                self.store.transition(
                    experiment_id, Status.FAILED, failure_reason=reason, error_message=message
                )
                return ExperimentResult.from_metadata(self.store.read_metadata(experiment_id))
            except ExperimentNotFoundError:  # the record was deleted while it waited
                return ExperimentResult(
                    experiment_id, Status.FAILED.value, message, failure_reason=reason
                )

    def _name(self, experiment_id: str) -> str:
        try:
            metadata = self.store.read_metadata(experiment_id)
        except ExperimentNotFoundError:
            return experiment_id
        return str(metadata.get("name") or metadata.get("script_path") or experiment_id)

    def wait(self) -> None:
        with self.condition:
            while len(self.results) < self.total:
                # Wake up now and then: when the kernel delivers SIGINT to a worker thread,
                # only the main thread can raise KeyboardInterrupt, and only once it runs.
                self.condition.wait(timeout=SIGNAL_CHECK)

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
