"""Dependencies between experiments: declaring them, checking them, walking the graph.

An experiment's `dependencies` is a list of experiment ids, or a `{slot: id}` dict when
slots are named (`-D data=abc12345`). References given by users (full id, unique
prefix, or unique name) are resolved to ids before anything is created; an unknown or
ambiguous reference, a failed or cancelled dependency (unless allowed), or a cycle is
an error that creates nothing.

`-D` forms: `ID`, `ID,ID,...`, `SLOT=ID`, and sweeps over dependencies:
`SLOT=list(ID,ID,...)` (or `list(ID,...)` without a slot) makes one experiment per
choice, combined with parameter sweeps as a grid.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yanex.core.status import Status
from yanex.core.store import Metadata, Store
from yanex.errors import DependencyError, ExperimentNotFoundError, StoreError, UsageError

Dependencies = list[str] | dict[str, str]


@dataclass(frozen=True)
class Earlier:
    """A dependency on the experiment made from an earlier spec of the same submission.

    `ExperimentSpec.dependencies` may list other specs (objects) of the same
    `run_multiple` call; they become `Earlier(index)` when checked, and the id of that
    spec's experiment once its record exists.
    """

    index: int


_SLOT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_LIST = re.compile(r"^\s*list\s*\((.*)\)\s*$", re.DOTALL)


def parse_options(values: Sequence[str]) -> list[tuple[str | None, list[str]]]:
    """Parse `-D` values into (slot or None, candidate references) pairs.

    A pair with several candidates is a dependency sweep; `ID,ID` without `list()` is
    several plain dependencies, one pair each.
    """
    parsed: list[tuple[str | None, list[str]]] = []
    for value in values:
        name, _, target = value.partition("=") if "=" in value else ("", "", value)
        slot = name.strip() or None
        if slot is not None and not _SLOT.match(slot):
            raise UsageError(f"-D {value!r}: {slot!r} is not a slot name (letters, digits, _ . -)")
        swept = _LIST.match(target)
        if swept:
            candidates = [c.strip() for c in swept.group(1).split(",") if c.strip()]
            if not candidates:
                raise UsageError(f"-D {value!r}: list() needs at least one experiment")
            parsed.append((slot, candidates))
            continue
        references = [r.strip() for r in target.split(",") if r.strip()]
        if not references:
            raise UsageError(f"-D {value!r}: give an experiment id, prefix or name")
        if slot is not None and len(references) > 1:
            raise UsageError(f"-D {value!r}: a slot takes one experiment; use list(...) to sweep")
        parsed.extend((slot, [reference]) for reference in references)
    return parsed


def choices(
    parsed: Sequence[tuple[str | None, list[str]]],
) -> Iterator[tuple[Dependencies, dict[str, str]]]:
    """Every combination of dependency sweeps: (dependencies, swept slot -> reference)."""
    named = any(slot is not None for slot, _ in parsed)
    slots = [slot or f"_{i}" for i, (slot, _) in enumerate(parsed)] if named else []
    for combination in itertools.product(*(candidates for _, candidates in parsed)):
        swept = {
            (slots[i] if named else f"dep{i}"): reference
            for i, ((_, candidates), reference) in enumerate(zip(parsed, combination, strict=True))
            if len(candidates) > 1
        }
        if named:
            yield dict(zip(slots, combination, strict=True)), swept
        else:
            yield list(combination), swept


def as_ids(dependencies: Any) -> list[Any]:
    """The entries of a `dependencies` value (list or slot dict), in order: ids once stored."""
    if isinstance(dependencies, Mapping):
        return list(dependencies.values())
    if isinstance(dependencies, (list, tuple)):
        return list(dependencies)
    return []


def resolve(
    dependencies: Any,
    store: Store,
    *,
    allow_failed: bool = False,
    earlier: Sequence[object] = (),
) -> Any:
    """Resolve references to ids and check each dependency can be depended on.

    `earlier`: the specs submitted before this one in the same call; a dependency that
    is one of them (the object itself) becomes `Earlier(index)`.
    """

    def one(reference: object) -> str | Earlier:
        for index, candidate in enumerate(earlier):
            if candidate is reference:
                return Earlier(index)
        if not isinstance(reference, str):
            raise DependencyError(
                f"dependency {reference!r} is neither an experiment id/name nor an earlier spec "
                "of the same run_multiple call (list dependencies before their dependents)"
            )
        return _resolve_one(reference, store, allow_failed)

    if isinstance(dependencies, Mapping):
        resolved: Any = {slot: one(ref) for slot, ref in dependencies.items()}
        ids = list(resolved.values())
    else:
        resolved = [one(ref) for ref in dependencies or []]
        ids = list(resolved)
    if len(set(ids)) != len(ids):
        raise DependencyError(f"the same experiment is listed twice as a dependency: {ids}")
    return resolved


def bind(dependencies: Any, created: Sequence[str]) -> Dependencies:
    """Replace `Earlier(index)` placeholders by the ids of the experiments created so far."""

    def one(value: object) -> str:
        return created[value.index] if isinstance(value, Earlier) else str(value)

    if isinstance(dependencies, Mapping):
        return {str(slot): one(value) for slot, value in dependencies.items()}
    return [one(value) for value in dependencies or []]


def _resolve_one(reference: str, store: Store, allow_failed: bool) -> str:
    experiment_id = store.resolve(str(reference))
    metadata = store.read_metadata(experiment_id)
    status = Status(metadata.get("status", Status.CREATED.value))
    if status in (Status.FAILED, Status.CANCELLED) and not allow_failed:
        raise DependencyError(
            f"dependency {experiment_id} ({metadata.get('name') or metadata.get('script_path')}) "
            f"is {status}; fix and re-run it, or pass --allow-failed-deps to use it anyway"
        )
    check_acyclic(store, experiment_id)
    return experiment_id


def check_acyclic(store: Store, start: str) -> None:
    """Raise DependencyError if following dependencies from `start` comes back to itself."""
    path: list[str] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(experiment_id: str) -> None:
        if experiment_id in done:
            return
        if experiment_id in visiting:
            cycle = path[path.index(experiment_id) :] + [experiment_id]
            raise DependencyError(f"dependency cycle: {' -> '.join(cycle)}")
        visiting.add(experiment_id)
        path.append(experiment_id)
        for upstream in dependency_ids(store, experiment_id):
            visit(upstream)
        path.pop()
        visiting.discard(experiment_id)
        done.add(experiment_id)

    visit(start)


def dependency_ids(store: Store, experiment_id: str) -> list[str]:
    """Direct dependencies of an experiment that exist in the store."""
    try:
        metadata = store.read_metadata(experiment_id)
    except (ExperimentNotFoundError, StoreError, OSError):
        return []  # a missing or damaged upstream record ends the walk
    return [i for i in as_ids(metadata.get("dependencies")) if store.exists(i)]


def upstream(store: Store, experiment_id: str, *, transitive: bool = False) -> list[str]:
    """Dependencies of an experiment, in topological order (dependencies first)."""
    direct = dependency_ids(store, experiment_id)
    if not transitive:
        return direct
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(current: str) -> None:
        for dependency in dependency_ids(store, current):
            if dependency not in seen:
                seen.add(dependency)
                visit(dependency)
                ordered.append(dependency)

    visit(experiment_id)
    return ordered


def downstream(records: Iterable[Metadata], experiment_id: str) -> list[str]:
    """Ids of experiments (among `records`) that depend on `experiment_id`, transitively."""
    children: dict[str, list[str]] = {}
    for metadata in records:
        for dependency in as_ids(metadata.get("dependencies")):
            children.setdefault(dependency, []).append(str(metadata["id"]))
    found: list[str] = []
    frontier = [experiment_id]
    while frontier:
        for child in children.get(frontier.pop(0), []):
            if child not in found:
                found.append(child)
                frontier.append(child)
    return found
