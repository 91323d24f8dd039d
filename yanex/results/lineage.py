"""The dependency graph around one experiment: what it was built from, what was built on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from yanex.core.dependencies import as_ids, dependency_ids
from yanex.core.store import Store
from yanex.results.experiment import Experiment


@dataclass
class LineageNode:
    """One experiment in a lineage tree; `children` lead away from the root.

    Upstream, children are an experiment's dependencies; downstream, its dependents. An
    experiment reached twice (a diamond) is expanded once; later visits have
    `repeated=True` and no children.
    """

    experiment: Experiment
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False


@dataclass
class Lineage:
    """An experiment with its upstream (dependencies) and downstream (dependents) trees."""

    experiment: Experiment
    upstream: list[LineageNode]
    downstream: list[LineageNode]


def get_lineage(store: Store, experiment_id: str) -> Lineage:
    """The lineage of one experiment (id, prefix or name)."""
    root = Experiment.load(store, experiment_id)
    upstream = _tree(store, dependency_ids(store, root.id), lambda i: dependency_ids(store, i))
    children: dict[str, list[str]] = {}
    for metadata in [*store.iter_metadata(), *store.iter_metadata(archived=True)]:
        for dependency in as_ids(metadata.get("dependencies")):
            children.setdefault(dependency, []).append(str(metadata["id"]))
    downstream = _tree(store, children.get(root.id, []), lambda i: children.get(i, []))
    return Lineage(root, upstream, downstream)


def _tree(
    store: Store, start: list[str], next_ids: Callable[[str], list[str]]
) -> list[LineageNode]:
    expanded: set[str] = set()

    def build(experiment_id: str, path: tuple[str, ...]) -> LineageNode:
        node = LineageNode(Experiment.load(store, experiment_id))
        if experiment_id in expanded or experiment_id in path:
            node.repeated = True
            return node
        expanded.add(experiment_id)
        node.children = [build(i, (*path, experiment_id)) for i in next_ids(experiment_id)]
        return node

    return [build(i, ()) for i in start if store.exists(i)]
