"""`run_multiple`, staging, and running staged experiments: the one path for every run.

`yanex run` (one script, a sweep, `--staged`) and scripts calling
`yanex.run_multiple` all arrive here: specs are validated, their records written as a
batch, and an executor runs them through the Runner.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import Any

from yanex.core import dependencies
from yanex.core.liveness import reap_lost
from yanex.core.spec import ExperimentResult, ExperimentSpec
from yanex.core.status import FailureReason, Status
from yanex.core.store import Store
from yanex.errors import DependencyError, ExperimentContextError, UsageError, YanexError
from yanex.execution.batch import Batch, create_batch
from yanex.execution.events import PlainReporter, Reporter
from yanex.execution.executor import Executor, ensure_queue_reachable, queue_executor
from yanex.execution.local import LocalExecutor
from yanex.execution.runner import RunOptions


def run_multiple(
    experiments: Sequence[ExperimentSpec],
    parallel: int | None = None,
    verbose: bool = False,
    *,
    queue: str | None = None,
    retry: int = 0,
    redis_url: str | None = None,
    detach: bool = False,
    allow_failed_dependencies: bool = False,
    reporter: Reporter | None = None,
    options: RunOptions | None = None,
    store: Store | None = None,
) -> list[ExperimentResult]:
    """Run experiments and block until all have ended; one result per spec, in order.

    `parallel`: None runs one at a time, 0 as many as there are CPUs, N at most N.
    `queue` (or `YANEX_QUEUE`) sends the batch to `yanex-worker`s through Redis
    (`redis_url`, or `YANEX_REDIS_URL`) instead of running it here; with `detach` the
    call returns as soon as the jobs are queued (results then have status "queued").
    `retry`: run a failed or lost experiment again, up to this many times. A spec's
    `dependencies` (ids, prefixes or names) run first; if one fails, its dependents end
    cancelled (`dependency_failed`) unless `allow_failed_dependencies`. One failure
    never aborts the batch.

    Example:
        specs = [yanex.ExperimentSpec(script_path=Path("train.py"), config={"_fold_idx": i})
                 for i in range(5)]
        results = yanex.run_multiple(specs, parallel=5)
    """
    resolve_parallel(parallel)  # a bad value must fail before any record is written
    batch, store = submit(
        experiments,
        store=store,
        queue=queue,
        retry=retry,
        allow_failed_dependencies=allow_failed_dependencies,
        redis_url=redis_url,
    )
    return execute(
        batch,
        store,
        parallel=parallel,
        verbose=verbose,
        queue=queue,
        reporter=reporter,
        options=options,
        retry=retry,
        redis_url=redis_url,
        detach=detach,
    )


def submit(
    experiments: Sequence[ExperimentSpec],
    *,
    store: Store | None = None,
    queue: str | None = None,
    staged: bool = False,
    retry: int = 0,
    allow_failed_dependencies: bool = False,
    redis_url: str | None = None,
) -> tuple[Batch, Store]:
    """Validate specs and write their records (queued, or staged) as one batch.

    `retry`: how many times a failed (or lost) run is tried again, as new attempts.
    Dependencies are resolved and checked first: an unknown, ambiguous, failed (unless
    `allow_failed_dependencies`) or cyclic one raises before any record is written.
    """
    ensure_not_inside_experiment("run_multiple")
    validate_specs(experiments)
    store = store or Store()
    reap_lost(store)
    queue = resolve_queue(queue)
    if queue and not staged:
        ensure_queue_reachable(redis_url)
    status = Status.STAGED if staged else Status.QUEUED
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
        raise UsageError(f"retry must be a non-negative integer, got {retry!r}")
    execution = {
        "backend": "rq" if queue and not staged else "local",
        "queue": None if staged else queue,
        "max_attempts": retry + 1,
    }
    needs = [
        dependencies.resolve(
            spec.dependencies,
            store,
            allow_failed=allow_failed_dependencies,
            earlier=experiments[:index],
        )
        for index, spec in enumerate(experiments)
    ]
    if not staged:
        _refuse_unscheduled(store, needs)
    batch = create_batch(
        experiments,
        store,
        status=status,
        execution=execution,
        dependencies=needs,
        allow_failed_dependencies=allow_failed_dependencies,
    )
    return batch, store


def execute(
    batch: Batch | Sequence[str],
    store: Store,
    *,
    parallel: int | None = None,
    verbose: bool = False,
    queue: str | None = None,
    retry: int = 0,
    redis_url: str | None = None,
    detach: bool = False,
    reporter: Reporter | None = None,
    options: RunOptions | None = None,
) -> list[ExperimentResult]:
    """Run experiments whose records exist (a fresh batch, or staged ids) to their end."""
    ids = batch.experiment_ids if isinstance(batch, Batch) else list(batch)
    reporter = reporter or (PlainReporter() if verbose else Reporter())
    workers = resolve_parallel(parallel)
    queue = resolve_queue(queue)
    executor: Executor
    try:
        if queue:
            executor = queue_executor(store, queue, redis_url=redis_url, detach=detach, retry=retry)
        else:
            if detach:
                raise UsageError("--detach needs a queue (--queue NAME or YANEX_QUEUE)")
            executor = LocalExecutor(store, workers, options)
        batch_id = batch.batch_id if isinstance(batch, Batch) else ""
        names = batch.names if isinstance(batch, Batch) else [_name(store, i) for i in ids]
        reporter.batch_started(batch_id, ids, names)
    except BaseException:  # a bad option, Ctrl-C, a broken display: nothing may stay queued
        _cancel_queued(store, ids, "cancelled before it started: the batch could not start")
        raise
    results = executor.execute(ids, reporter)
    if not detach:
        reporter.batch_finished(results)
    return results


def stage_experiments(
    experiments: Sequence[ExperimentSpec],
    *,
    store: Store | None = None,
    allow_failed_dependencies: bool = False,
) -> Batch:
    """Create staged experiments, run later by `execute(staged_ids(...))` (`yanex run --staged`)."""
    batch, _ = submit(
        experiments,
        store=store,
        staged=True,
        allow_failed_dependencies=allow_failed_dependencies,
    )
    return batch


def staged_ids(store: Store, *, batch_id: str | None = None) -> list[str]:
    """Ids of staged experiments, oldest first (optionally only those of one batch)."""
    staged = [
        m
        for m in store.iter_metadata()
        if m.get("status") == Status.STAGED.value
        and (batch_id is None or m.get("batch") == batch_id)
    ]
    staged.sort(key=lambda m: str(m.get("created_at") or ""))
    return [str(m["id"]) for m in staged]


def resolve_staged(store: Store, references: Sequence[str]) -> list[str]:
    """Ids of the experiments named (id, prefix or name); UsageError unless all are staged."""
    ids = list(dict.fromkeys(store.resolve(r) for r in references))
    for experiment_id in ids:
        status = store.read_metadata(experiment_id).get("status")
        if status != Status.STAGED.value:
            raise UsageError(
                f"experiment {experiment_id} is {status}, not staged; only staged experiments "
                "run with --staged (stage them with `yanex run script.py --stage`)"
            )
    return ids


def _refuse_unscheduled(store: Store, needs: Sequence[Any]) -> None:
    """A run (not a staging) cannot wait for a staged dependency that nothing will run."""
    for resolved in needs:
        for dependency in dependencies.as_ids(resolved):
            if isinstance(dependency, str) and store.exists(dependency):
                status = store.read_metadata(dependency).get("status")
                if status in (Status.STAGED.value, Status.CREATED.value):
                    raise DependencyError(
                        f"dependency {dependency} is {status}, so nothing would run it: run it "
                        f"first (yanex run --staged {dependency}), or --stage this experiment "
                        "too and run both with `yanex run --staged`"
                    )


def check_specs(
    experiments: Sequence[ExperimentSpec], store: Store, *, allow_failed_dependencies: bool = False
) -> None:
    """Everything `submit` checks, without writing anything (for `--dry-run`)."""
    validate_specs(experiments)
    for index, spec in enumerate(experiments):
        dependencies.resolve(
            spec.dependencies,
            store,
            allow_failed=allow_failed_dependencies,
            earlier=experiments[:index],
        )


def validate_specs(experiments: Sequence[ExperimentSpec]) -> None:
    """Raise ValueError naming the first invalid spec's index."""
    if not experiments:
        raise ValueError("experiments list cannot be empty")
    for index, spec in enumerate(experiments):
        if not isinstance(spec, ExperimentSpec):
            raise ValueError(f"Invalid ExperimentSpec at index {index}: got {type(spec).__name__}")
        try:
            spec.validate()
        except (ValueError, NotImplementedError) as error:  # the original raises ValueError
            raise UsageError(f"Invalid ExperimentSpec at index {index}: {error}") from error


def ensure_not_inside_experiment(what: str) -> None:
    """Refuse to start experiments from inside a `yanex run` experiment."""
    if os.environ.get("YANEX_EXPERIMENT_ID") or os.environ.get("YANEX_CLI_ACTIVE"):
        raise ExperimentContextError(
            f"Cannot use yanex.{what}() from within a `yanex run` experiment; run the "
            "orchestrating script with plain python instead: python script.py"
        )


def resolve_parallel(parallel: int | None) -> int:
    """None -> 1 (sequential), 0 -> CPU count, N -> N; negative is an error."""
    if parallel is None:
        return 1
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 0:
        raise UsageError(
            f"parallel must be None, 0 (all CPUs) or a positive integer, got {parallel!r}"
        )
    return parallel or os.cpu_count() or 1


def resolve_queue(queue: str | None) -> str | None:
    """The queue to use: the argument, else `YANEX_QUEUE`, else None (run locally)."""
    return queue or os.environ.get("YANEX_QUEUE") or None


def _cancel_queued(store: Store, experiment_ids: Sequence[str], reason: str) -> None:
    for experiment_id in experiment_ids:
        with contextlib.suppress(YanexError):
            if store.read_metadata(experiment_id).get("status") == Status.QUEUED.value:
                store.transition(
                    experiment_id,
                    Status.CANCELLED,
                    failure_reason=FailureReason.CANCELLED.value,
                    error_message=reason,
                )


def _name(store: Store, experiment_id: str) -> str:
    metadata = store.read_metadata(experiment_id)
    return str(metadata.get("name") or metadata.get("script_path") or experiment_id)
