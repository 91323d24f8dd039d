"""Explicit experiments inside one Python process, and ending them by hand.

`create_experiment` records a new experiment and tracks the `with` block as its run
(no Runner, no subprocess: notebooks and quick scripts). `completed()`, `fail()` and
`cancel()` end the current experiment early: inside a `with` block they leave the
block; inside a `yanex run` script they record the status and end the script.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yanex.api import context as contexts
from yanex.api.context import ExperimentContext
from yanex.core import liveness, timestamps
from yanex.core.metrics import summarize
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.errors import ExperimentContextError

if TYPE_CHECKING:
    from yanex.core.git import GitState


class _EndExperiment(BaseException):
    """Raised by completed()/fail()/cancel() to leave a `with` block; never escapes it."""

    def __init__(self, status: Status, message: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@contextmanager
def create_experiment(
    script_path: Path | str | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
) -> Iterator[ExperimentContext]:
    """Create a new experiment and track the `with` block as its run.

    Ends completed when the block finishes, failed on an exception (re-raised),
    cancelled on Ctrl-C. Refused inside `yanex run`, which already tracks the script.

    Example:
        with yanex.create_experiment(Path(__file__), name="demo", config={"lr": 0.1}) as exp:
            exp.log_metrics({"accuracy": 0.9})
    """
    if contexts.inside_yanex_run():
        raise ExperimentContextError(
            "Cannot use yanex.create_experiment() in a script run by `yanex run`, which already "
            "tracks it; run the script with plain python, or drop create_experiment()"
        )
    from yanex.core.git import write_patch

    store = Store()
    record, git = _record(script_path, name, tags, description)
    experiment_id = store.create(record, dict(config or {}))
    write_patch(git, store.artifacts_dir(experiment_id))
    for message in git.warnings:  # secrets or a large patch: the library warns, never prints
        warnings.warn(message, UserWarning, stacklevel=3)
    context = ExperimentContext(store, experiment_id)
    with _tracked(context, start=True):
        yield context


@contextmanager
def create_context(experiment_id: str) -> Iterator[ExperimentContext]:
    """Attach to an existing experiment (id, prefix or name) to keep logging into it.

    An experiment that has not started yet (created, staged, queued) is run by the
    block like `create_experiment`; a running or ended one is only written to.
    """
    store = Store()
    resolved = store.resolve(experiment_id)
    status = Status(store.read_metadata(resolved).get("status", Status.CREATED.value))
    start = status in (Status.CREATED, Status.STAGED, Status.QUEUED)
    context = ExperimentContext(store, resolved)
    with _tracked(context, start=start):
        yield context


@contextmanager
def _tracked(context: ExperimentContext, *, start: bool) -> Iterator[None]:
    store, experiment_id = context.store, context.experiment_id
    if start:
        store.transition(experiment_id, Status.RUNNING, execution=_execution())
    contexts.push(context)
    try:
        yield
    except _EndExperiment as end:
        if start:
            _end(store, experiment_id, end.status, end.message)
    except KeyboardInterrupt:
        if start:
            _end(store, experiment_id, Status.CANCELLED, "interrupted (Ctrl-C)")
        raise
    except BaseException as error:
        if start:
            import traceback

            message = "".join(traceback.format_exception_only(type(error), error)).strip()
            _end(store, experiment_id, Status.FAILED, message)
        raise
    else:
        if start:
            _end(store, experiment_id, Status.COMPLETED, None)
    finally:
        contexts.pop(context)


def completed() -> None:
    """End the current experiment as completed."""
    _finish_current(Status.COMPLETED, None)


def fail(message: str) -> None:
    """End the current experiment as failed, with `message`."""
    _finish_current(Status.FAILED, message)


def cancel(message: str) -> None:
    """End the current experiment as cancelled, with `message`."""
    _finish_current(Status.CANCELLED, message)


def _finish_current(status: Status, message: str | None) -> None:
    context = contexts.current()
    if context is None:
        raise ExperimentContextError(
            f"yanex.{_verb(status)}() needs an active experiment (inside `yanex run` or a "
            "`with yanex.create_experiment(...)` block)"
        )
    if context in contexts._stack:
        raise _EndExperiment(status, message)
    # A `yanex run` script: record the status first (the first terminal writer wins),
    # then end the script with a matching exit code.
    _end(context.store, context.experiment_id, status, message)
    if message:
        print(f"yanex: {message}", file=sys.stderr, flush=True)
    raise SystemExit(0 if status is Status.COMPLETED else 1)


def _end(store: Store, experiment_id: str, status: Status, message: str | None) -> None:
    reason = {
        Status.FAILED: FailureReason.ERROR,
        Status.CANCELLED: FailureReason.CANCELLED,
    }.get(status)
    store.transition(
        experiment_id,
        status,
        error_message=message,
        failure_reason=reason.value if reason else None,
        metrics_summary=summarize(store.metrics_path(experiment_id)),
    )


def _record(
    script_path: Path | str | None,
    name: str | None,
    tags: list[str] | None,
    description: str | None,
) -> tuple[dict[str, Any], GitState]:
    from yanex.core.environment import capture_environment
    from yanex.core.git import capture_git_state

    script = Path(script_path).absolute() if script_path else None
    git = capture_git_state(script.parent if script else Path.cwd())
    record = {
        "name": name,
        "description": description,
        "tags": list(tags or []),
        "script_path": str(script) if script else None,
        "cwd": os.getcwd(),
        "created_at": timestamps.now(),
        "git": git.metadata,
        "environment": capture_environment(),
    }
    return record, git


def _execution() -> dict[str, Any]:
    return {
        "backend": "in-process",
        "host": liveness.this_host(),
        "pid": os.getpid(),
        "pid_start": liveness.process_start_time(os.getpid()),
        "attempt": 1,
    }


def _verb(status: Status) -> str:
    return {Status.COMPLETED: "completed", Status.FAILED: "fail"}.get(status, "cancel")
