"""Finding experiments: the one place that reads the store for listings and selections.

The summary of every record comes from the listing index (`index.scan`: unchanged
records from one file, changed ones read through the Store), the metadata criteria are
applied, the survivors are sorted newest first, and only then are parameters or
metrics read, for `where` conditions, lazily and only as far as the limit needs.
Before reading, runs whose supervisor died are marked failed (`reap_lost`), so a
listing never shows a dead run as running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from yanex.core import liveness
from yanex.core.store import Store
from yanex.errors import ExperimentNotFoundError, StoreError, UsageError
from yanex.results import index
from yanex.results.experiment import Experiment
from yanex.results.filters import Filter

_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass
class Matches:
    """Experiments found, newest first, and how many matched in all.

    `total` is None when it was not counted: `where` conditions are evaluated only
    until the limit is reached.
    """

    experiments: list[Experiment]
    total: int | None


def open_store(store: Store | Path | str | None = None) -> Store:
    """A Store for an explicit one, a directory, or None (YANEX_EXPERIMENTS_DIR)."""
    return store if isinstance(store, Store) else Store(store)


def reap(store: Store) -> None:
    """Mark runs whose supervisor is gone as failed; a read-only store is just read."""
    with contextlib.suppress(OSError, StoreError):
        liveness.reap_lost(store)


def scan(store: Store, archived: bool | None = False) -> list[Experiment]:
    """Every readable experiment: active (False), archived (True) or both (None), unordered."""
    scopes = [False, True] if archived is None else [archived]
    return [experiment for scope in scopes for experiment in index.scan(store, scope)]


def newest_first(experiments: Iterable[Experiment]) -> list[Experiment]:
    """Sort by creation time, newest first (ties by id, for a stable order)."""
    return sorted(experiments, key=lambda e: (e.created_at or _OLDEST, e.id), reverse=True)


def find(store: Store, filters: Filter, *, limit: int | None = None) -> Matches:
    """Experiments matching `filters`, newest first, at most `limit` of them."""
    reap(store)
    everything = scan(store, filters.archived)
    candidates = newest_first(e for e in everything if filters.matches_metadata(e))
    if not filters.reads_records:
        shown = candidates if limit is None else candidates[:limit]
        return Matches(shown, len(candidates))
    found = _take(candidates, filters, limit)
    total = len(found) if limit is None or len(found) < limit else None
    return Matches(found, total)


def _take(candidates: Sequence[Experiment], filters: Filter, limit: int | None) -> list[Experiment]:
    found: list[Experiment] = []
    for experiment in candidates:
        if limit is not None and len(found) >= limit:
            break
        if all(condition.matches(experiment) for condition in filters.where):
            found.append(experiment)
    return found


def resolve(store: Store, references: Sequence[str]) -> list[Experiment]:
    """The experiments named by ids, unique prefixes or unique names, in the given order.

    Unknown references raise ExperimentNotFoundError, ambiguous ones AmbiguousIdError.
    """
    reap(store)
    experiments = []
    for experiment_id in dict.fromkeys(store.resolve(r) for r in references):
        experiments.append(Experiment(store, store.read_metadata(experiment_id)))
    return experiments


def get_experiment(store: Store, reference: str) -> Experiment:
    """One experiment by id, unique id prefix or unique name."""
    return resolve(store, [reference])[0]


def select(
    store: Store,
    references: Sequence[str],
    filters: Filter,
    *,
    limit: int | None = None,
    require_selection: bool = False,
) -> list[Experiment]:
    """Experiments named by `references`, or else matched by `filters`, never both.

    An empty result raises ExperimentNotFoundError saying which filters matched
    nothing. With `require_selection`, neither references nor filters is a UsageError
    (for commands that change experiments, so that nothing acts on everything by default).
    """
    if references and filters.given:
        raise UsageError("give experiment ids or filters, not both")
    if references:
        return resolve(store, references)
    if require_selection and not filters.given:
        raise UsageError(
            "give experiment ids or filters (e.g. -s failed, -t old); "
            "nothing is selected by default"
        )
    matches = find(store, filters, limit=limit)
    if not matches.experiments:
        raise ExperimentNotFoundError(explain_empty(store, filters))
    return matches.experiments


def explain_empty(store: Store, filters: Filter) -> str:
    """Why `filters` matched nothing: which criteria match none of the experiments."""
    scope = {False: "", True: "archived ", None: ""}[filters.archived]
    everything = scan(store, filters.archived)
    if not everything:
        return f"no {scope}experiments in {store.root}"
    if not filters.given:
        return f"no {scope}experiments match"
    empty = [label for label, test in filters.criteria() if not any(map(test, everything))]
    total = f"{len(everything)} {scope}experiments"
    if empty:
        message = f"no experiments match: {'; '.join(empty)} matches none of the {total}"
    else:
        message = (
            f"no experiments match all of {filters.describe()} together "
            f"(each alone matches some of the {total})"
        )
    hidden = len(store.ids(archived=True)) if filters.archived is False else 0
    if hidden:
        message += f"; {hidden} archived experiments were not searched"
    return message
