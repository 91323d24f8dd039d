"""Find, compare and analyse experiments from Python.

    import yanex.results as yr

    experiment = yr.get_experiment("a1b2")                  # id, prefix or name
    experiment.params["lr"], experiment.metric("accuracy", "max")
    finished = yr.find(status="completed", tags=["sweep"], where=["lr<0.01"])
    best = yr.get_best("accuracy", status="completed")
    table = yr.compare(status="completed", metrics=["accuracy", "loss:min"])  # pandas
    curves = yr.get_metrics(tags="sweep")          # experiment_id, step, metric, value
    figure = yr.plot_metrics("loss", tags="sweep")                          # matplotlib

Filters (keyword arguments of every function here): ids, status, name, tags, script,
batch, where, started_after, started_before, ended_after, ended_before, archived (False
active only, True archived only, None both); see `yanex.results.filters.Filter`. Each
function also takes `store=` (a Store or a directory; default YANEX_EXPERIMENTS_DIR).
pandas (`yanex[data]`) and matplotlib (`yanex[plot]`) are imported only by the functions
that return their objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yanex.core.store import Store
from yanex.errors import UsageError
from yanex.results import frames, query
from yanex.results.comparison import Comparison
from yanex.results.comparison import compare as compare_experiments
from yanex.results.experiment import Artifact, Experiment
from yanex.results.filters import Condition, Filter
from yanex.results.lineage import Lineage, LineageNode
from yanex.results.lineage import get_lineage as lineage_of
from yanex.results.times import parse_time

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

StoreLike = Store | Path | str | None


def get_experiment(experiment_id: str, *, store: StoreLike = None) -> Experiment:
    """The experiment with this id, unique id prefix or unique name.

    Raises ExperimentNotFoundError or AmbiguousIdError.
    """
    return query.get_experiment(query.open_store(store), experiment_id)


def find(*, store: StoreLike = None, limit: int | None = None, **filters: Any) -> list[Experiment]:
    """The experiments matching `filters`, newest first (all of them, or `limit`).

    Example:
        find(status="completed", where="metric:accuracy>=0.9", started_after="1 week ago")
    """
    found = query.find(query.open_store(store), Filter.build(**filters), limit=limit)
    return found.experiments


def get_latest(*, store: StoreLike = None, **filters: Any) -> Experiment | None:
    """The newest experiment matching `filters`, or None."""
    found = find(store=store, limit=1, **filters)
    return found[0] if found else None


def get_best(
    metric: str,
    maximize: bool = True,
    *,
    agg: str = "last",
    store: StoreLike = None,
    **filters: Any,
) -> Experiment | None:
    """The matching experiment with the highest (or lowest) `metric`; None if none logged it.

    `agg` picks which value of each experiment counts: last (default), first, min,
    max or mean.
    """
    scored = [(e.metric(metric, agg), e) for e in find(store=store, **filters)]
    numbers = [(v, e) for v, e in scored if isinstance(v, (int, float)) and v == v]
    if not numbers:
        return None
    pick = max if maximize else min
    return pick(numbers, key=lambda pair: pair[0])[1]


def compare(
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    *,
    experiments: Sequence[Experiment] | None = None,
    all_params: bool = False,
    sort: str | None = None,
    descending: bool = False,
    store: StoreLike = None,
    **filters: Any,
) -> Any:
    """A pandas DataFrame, one row per experiment, with `param:` and `metric:` columns.

    `params=None`: the parameters whose values differ (all with `all_params=True`);
    `metrics=None`: every logged metric, last value; `"loss:min"` asks for an aggregate.
    Pass `experiments=` (e.g. from `find`) instead of filters to compare those.

    Example:
        compare(metrics=["accuracy"], status="completed", sort="metric:accuracy",
                descending=True)
    """
    chosen = _experiments(experiments, store, filters)
    table = compare_experiments(
        chosen,
        params=params,
        metrics=metrics,
        all_params=all_params,
        sort=sort,
        descending=descending,
    )
    return frames.comparison_frame(table)


def get_metrics(
    metrics: Sequence[str] | str | None = None,
    *,
    experiments: Sequence[Experiment] | None = None,
    store: StoreLike = None,
    **filters: Any,
) -> Any:
    """A long pandas DataFrame with columns experiment_id, step, metric, value."""
    names = [metrics] if isinstance(metrics, str) else metrics
    return frames.metrics_frame(_experiments(experiments, store, filters), names)


def plot_metrics(
    metric: str,
    *,
    experiments: Sequence[Experiment] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    store: StoreLike = None,
    **filters: Any,
) -> Figure:
    """Plot `metric` against step, one line per matching experiment; return the figure.

    Example:
        figure = plot_metrics("loss", tags="sweep")
        figure.savefig("loss.png")
    """
    chosen = _experiments(experiments, store, filters)
    return frames.plot_metrics(chosen, metric, ax=ax, title=title)


def get_lineage(experiment_id: str, *, store: StoreLike = None) -> Lineage:
    """What an experiment depends on (upstream) and what depends on it (downstream), as trees.

    Example:
        lineage = get_lineage("ensemble")
        [node.experiment.name for node in lineage.upstream]
    """
    return lineage_of(query.open_store(store), experiment_id)


def _experiments(
    experiments: Sequence[Experiment] | None, store: StoreLike, filters: dict[str, Any]
) -> list[Experiment]:
    if experiments is None:
        return find(store=store, **filters)
    if filters:
        raise UsageError("give experiments= or filters, not both")
    return list(experiments)


__all__ = [
    "Artifact",
    "Comparison",
    "Condition",
    "Experiment",
    "Filter",
    "Lineage",
    "LineageNode",
    "compare",
    "find",
    "get_best",
    "get_experiment",
    "get_latest",
    "get_lineage",
    "get_metrics",
    "parse_time",
    "plot_metrics",
]
