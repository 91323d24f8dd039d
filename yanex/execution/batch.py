"""Turning specs into experiment records, all at once, before anything runs.

Every `run_multiple` call (a single `yanex run` included) creates a batch: a manifest
in the store listing its experiments, so a sweep can be listed, waited on and resumed
as a unit. Git state and the environment are captured once per batch (per distinct
repository), not per member. If any record cannot be written, the ones already
written are removed: a failed submission leaves nothing half-created behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yanex.core import timestamps
from yanex.core.dependencies import bind
from yanex.core.environment import capture_environment
from yanex.core.git import GitState, capture_git_state, write_patch
from yanex.core.spec import ExperimentSpec
from yanex.core.status import Status
from yanex.core.store import Metadata, Store


@dataclass
class Batch:
    """Experiments created together by one submission."""

    batch_id: str
    experiment_ids: list[str]
    names: list[str]
    warnings: list[str] = field(default_factory=list)


def create_batch(
    specs: Sequence[ExperimentSpec],
    store: Store,
    *,
    status: Status,
    execution: dict[str, Any] | None = None,
    dependencies: Sequence[Any] | None = None,
    allow_failed_dependencies: bool = False,
) -> Batch:
    """Write one record per spec (status `queued` or `staged`) and the batch manifest.

    `dependencies`: each spec's dependencies already resolved to ids, or to earlier
    members of this batch (`Earlier`), bound to their ids as records are created.
    """
    store.ensure()
    batch_id = store.create_batch(
        {"created_at": timestamps.now(), "status": status.value, "size": len(specs)}
    )
    environment = capture_environment()
    git_states: dict[Path, GitState] = {}
    created: list[str] = []
    try:
        for index, spec in enumerate(specs):
            state = _git_state(spec, git_states)
            metadata = record_for(spec, status=status, batch_id=batch_id, git=state.metadata)
            metadata["environment"] = environment
            metadata["execution"] = {**(execution or {}), "attempt": 1}
            if dependencies is not None:
                metadata["dependencies"] = bind(dependencies[index], created)
            if allow_failed_dependencies:
                metadata["allow_failed_dependencies"] = True
            experiment_id = store.create(metadata, dict(spec.config))
            created.append(experiment_id)
            write_patch(state, store.artifacts_dir(experiment_id))
    except BaseException:
        for experiment_id in created:
            store.delete(experiment_id)
        store.delete_batch(batch_id)
        raise
    store.update_batch(batch_id, {"experiments": created})
    warnings = list(dict.fromkeys(w for s in git_states.values() for w in s.warnings))
    names = [display_name(spec) for spec in specs]
    return Batch(batch_id, created, names, warnings)


def record_for(
    spec: ExperimentSpec, *, status: Status, batch_id: str, git: dict[str, Any]
) -> Metadata:
    """The metadata of a new experiment made from `spec`."""
    now = timestamps.now()
    record: Metadata = {
        "name": spec.name,
        "description": spec.description,
        "tags": list(spec.tags),
        "status": status.value,
        "created_at": now,
        f"{status.value}_at": now,
        "script_path": str(spec.resolved_script()) if spec.script_path is not None else None,
        "module": spec.module,
        "script_args": list(spec.script_args),
        "python": spec.resolved_python(),
        "cwd": str(spec.resolved_cwd()),
        "env": dict(spec.env),
        "timeout": spec.timeout,
        "dependencies": spec.dependencies,
        "batch": batch_id,
        "git": git,
    }
    record.update(spec.metadata)
    return record


def display_name(spec: ExperimentSpec) -> str:
    """What to call an experiment in progress displays: its name, else its script or module."""
    if spec.name:
        return spec.name
    if spec.script_path is not None:
        return Path(spec.script_path).name
    return spec.module or "experiment"


def _git_state(spec: ExperimentSpec, cache: dict[Path, GitState]) -> GitState:
    where = spec.resolved_script().parent if spec.script_path is not None else spec.resolved_cwd()
    if where not in cache:
        cache[where] = capture_git_state(where)
    return cache[where]
