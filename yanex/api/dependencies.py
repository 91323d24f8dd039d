"""The experiments a script depends on, from inside the script (`yanex.get_dependencies`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from yanex.api.context import current

if TYPE_CHECKING:
    from yanex.results.experiment import Experiment


def get_dependencies(transitive: bool = False) -> list[Experiment]:
    """The experiments this one depends on, dependencies first; `[]` standalone.

    Example:
        for dependency in yanex.get_dependencies():
            print(dependency.id, dependency.name, dependency.status)
    """
    context = current()
    if context is None:
        return []
    from yanex.core.dependencies import upstream
    from yanex.results.experiment import Experiment

    store = context.store
    ids = upstream(store, context.experiment_id, transitive=transitive)
    return [Experiment.load(store, experiment_id) for experiment_id in ids]


def get_dependency(slot: str) -> Experiment | None:
    """The dependency in a named slot (`-D data=abc12345` -> `get_dependency("data")`).

    None standalone or when there is no such slot.
    """
    context = current()
    if context is None:
        return None
    from yanex.results.experiment import Experiment

    experiment = Experiment.load(context.store, context.experiment_id)
    experiment_id = experiment.dependency_slots.get(slot)
    return Experiment.load(context.store, experiment_id) if experiment_id else None


def assert_dependency(script_name: str, slot: str | None = None) -> None:
    """Fail the experiment cleanly unless a dependency comes from `script_name`.

    With `slot`, that slot's dependency must come from it. A no-op standalone.

    Example:
        yanex.assert_dependency("prepare_data.py")
    """
    context = current()
    if context is None:
        return
    if slot is not None:
        candidate = get_dependency(slot)
        candidates = [candidate] if candidate is not None else []
    else:
        candidates = get_dependencies()
    if any(_script_name(d) == script_name for d in candidates):
        return
    from yanex.api.lifecycle import fail

    where = f" in slot {slot!r}" if slot else ""
    sources = ", ".join(sorted({_script_name(d) or "?" for d in candidates})) or "none"
    print(f"Error: No dependency from '{script_name}' found{where}", file=sys.stderr)
    print(f"Current dependencies are from: {sources}", file=sys.stderr, flush=True)
    fail(f"No dependency from '{script_name}' found{where} (dependencies are from: {sources})")


def _script_name(experiment: Experiment) -> str | None:
    if experiment.script_path is not None:
        return experiment.script_path.name
    return experiment.module
