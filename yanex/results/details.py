"""Everything about one experiment as plain data: what `yanex show` prints.

`describe` gathers parameters, a summary of every metric (last and best value, step
count), artifacts with sizes, git state with a summary of the saved patch,
environment, dependencies, timings, execution and how the run ended. The result is
JSON-ready (`yanex show -F json` prints it as it is).
"""

from __future__ import annotations

import re
from typing import Any

from yanex.core.git import METADATA_KEYS
from yanex.core.store import PATCH_FILE
from yanex.errors import ExperimentNotFoundError, StoreError
from yanex.results.experiment import Experiment

# Metric names that usually get better as they get smaller.
_LOWER_IS_BETTER = re.compile(
    r"loss|err|mse|mae|rmse|perplexity|ppl|wer|cer|latency|time|cost|regret|distance", re.I
)
_TIMING_KEYS = ("created_at", "staged_at", "queued_at", "started_at", "ended_at")


def describe(experiment: Experiment) -> dict[str, Any]:
    """All details of `experiment` as a JSON-ready dict."""
    metadata = experiment.metadata
    return {
        **experiment.summary(),
        "description": experiment.description,
        "archived": experiment.archived,
        "directory": str(experiment.experiment_dir),
        "module": experiment.module,
        "script_args": list(metadata.get("script_args") or []),
        "cwd": metadata.get("cwd"),
        "params": experiment.params,
        "metrics": metric_summaries(experiment),
        "artifacts": [{"name": a.name, "size": a.size} for a in experiment.artifacts],
        "git": git_summary(experiment),
        "environment": metadata.get("environment") or {},
        "dependencies": dependency_summaries(experiment),
        "dependents": dependent_summaries(experiment),
        "timings": timings(experiment),
        "execution": experiment.execution,
        "attempts": list(metadata.get("attempts") or []),
        "exit_code": experiment.exit_code,
        "failure_reason": experiment.failure_reason,
        "error_message": experiment.error_message,
    }


def lower_is_better(metric: str) -> bool:
    """Guess a metric's direction from its name: losses and errors go down."""
    return bool(_LOWER_IS_BETTER.search(metric))


def metric_summaries(experiment: Experiment) -> list[dict[str, Any]]:
    """Per metric: last and best value, min, max, and how many steps logged it."""
    summaries = []
    for name in experiment.metric_names:
        history = experiment.metric_history(name)
        low, high = experiment.metric(name, "min"), experiment.metric(name, "max")
        goal = "min" if lower_is_better(name) else "max"
        summaries.append(
            {
                "name": name,
                "last": history[-1][1],
                "best": low if goal == "min" else high,
                "goal": goal,
                "min": low,
                "max": high,
                "steps": len(history),
                "last_step": history[-1][0],
            }
        )
    return summaries


def git_summary(experiment: Experiment) -> dict[str, Any]:
    """The recorded git state, plus files and lines changed by the saved patch."""
    git = experiment.metadata.get("git")
    if not isinstance(git, dict):
        return {}
    summary = {key: git.get(key) for key in METADATA_KEYS if key in git}
    patch = experiment.artifacts_dir / PATCH_FILE
    if patch.is_file():
        summary["patch"] = patch_summary(patch.read_bytes())
    return summary


def patch_summary(patch: bytes) -> dict[str, int]:
    """Files changed, lines added and lines removed by a unified diff."""
    files = added = removed = 0
    for line in patch.splitlines():
        if line.startswith(b"diff --git "):
            files += 1
        elif line.startswith(b"+") and not line.startswith(b"+++ "):
            added += 1
        elif line.startswith(b"-") and not line.startswith(b"--- "):
            removed += 1
    return {"files": files, "insertions": added, "deletions": removed}


def dependent_summaries(experiment: Experiment) -> list[dict[str, Any]]:
    """The experiments that depend directly on this one: id, name and status."""
    from yanex.core.dependencies import as_ids

    store = experiment.store
    found = []
    for metadata in [*store.iter_metadata(), *store.iter_metadata(archived=True)]:
        if experiment.id in as_ids(metadata.get("dependencies")):
            found.append(
                {
                    "id": metadata["id"],
                    "name": metadata.get("name"),
                    "status": metadata.get("status"),
                }
            )
    return sorted(found, key=lambda d: str(d["id"]))


def dependency_summaries(experiment: Experiment) -> list[dict[str, Any]]:
    """Each dependency's slot, id, name and status ("missing" if it is gone)."""
    summaries = []
    for slot, experiment_id in experiment.dependency_slots.items():
        try:
            metadata = experiment.store.read_metadata(experiment_id)
        except (ExperimentNotFoundError, StoreError):
            metadata = {"status": "missing"}
        summaries.append(
            {
                "slot": slot,
                "id": experiment_id,
                "name": metadata.get("name"),
                "status": metadata.get("status"),
            }
        )
    return summaries


def timings(experiment: Experiment) -> dict[str, Any]:
    """The recorded timestamps (as stored) and the duration in seconds."""
    metadata = experiment.metadata
    found = {key: metadata.get(key) for key in _TIMING_KEYS if metadata.get(key)}
    if "ended_at" not in found and metadata.get("completed_at"):
        found["ended_at"] = metadata["completed_at"]
    found["duration"] = experiment.duration
    heartbeat = experiment.execution.get("heartbeat")
    if heartbeat:
        found["heartbeat"] = heartbeat
    return found
