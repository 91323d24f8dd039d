"""pandas DataFrames and matplotlib figures of experiments (optional extras, lazy imports).

pandas comes with `pip install 'yanex[data]'`, matplotlib with `pip install 'yanex[plot]'`;
each is imported inside the function that needs it, and a missing one raises an
ImportError that names the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from yanex.errors import ExperimentNotFoundError
from yanex.results.comparison import Comparison
from yanex.results.experiment import METRIC_ROW_KEYS, Experiment

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

METRICS_COLUMNS = ("experiment_id", "step", "metric", "value")


def require(module: str, extra: str, purpose: str) -> Any:
    """Import `module`, or raise ImportError saying which yanex extra provides it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] != module.split(".")[0]:
            raise  # installed, but broken: show the real problem
        raise ImportError(
            f"{purpose} needs {module.split('.')[0]}: pip install 'yanex[{extra}]'",
            name=module,
        ) from error


def comparison_frame(comparison: Comparison) -> Any:
    """A DataFrame with one row per experiment and the comparison's columns."""
    pandas = require("pandas", "data", "yanex.results.compare()")
    return pandas.DataFrame(comparison.rows, columns=comparison.columns)


def metrics_frame(experiments: Sequence[Experiment], metrics: Sequence[str] | None = None) -> Any:
    """A long DataFrame: one row per (experiment_id, step, metric, value).

    `metrics=None` takes every metric; otherwise only the named ones.
    """
    pandas = require("pandas", "data", "yanex.results.get_metrics()")
    wanted = set(metrics) if metrics is not None else None
    records = []
    for experiment in experiments:
        for row in experiment.metrics:
            for name, value in row.items():
                if name in METRIC_ROW_KEYS or (wanted is not None and name not in wanted):
                    continue
                records.append((experiment.id, row["step"], name, value))
    return pandas.DataFrame.from_records(records, columns=list(METRICS_COLUMNS))


def plot_metrics(
    experiments: Sequence[Experiment],
    metric: str,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw `metric` against step, one line per experiment; return the figure.

    Without `ax` a new figure is made with pyplot (so it shows in notebooks and with
    `plt.show()`); pass `ax` to draw into an existing figure.
    """
    name = metric.removeprefix("metric:")
    pyplot = None
    if ax is None:
        pyplot = require("matplotlib.pyplot", "plot", "yanex.results.plot_metrics()")
        _, ax = pyplot.subplots(figsize=(8, 5))
    figure: Figure = ax.get_figure()  # type: ignore[assignment]
    if draw_metric(ax, experiments, name, title=title) == 0:
        if pyplot is not None:
            pyplot.close(figure)
        raise ExperimentNotFoundError(
            f"none of the {len(experiments)} experiments logged metric {name!r}; "
            "see `yanex show ID` for the metrics an experiment has"
        )
    return figure


def draw_metric(
    ax: Axes, experiments: Sequence[Experiment], name: str, *, title: str | None = None
) -> int:
    """Draw one line per experiment that logged `name`; return how many were drawn."""
    drawn = 0
    for experiment in experiments:
        points = [(s, v) for s, v in experiment.metric_history(name) if _is_number(v)]
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        label = f"{experiment.id} {experiment.name}" if experiment.name else experiment.id
        ax.plot(steps, values, marker="." if len(points) < 50 else None, label=label)
        drawn += 1
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    ax.set_title(title or name)
    ax.grid(True, alpha=0.3)
    if 0 < drawn <= 20:
        ax.legend(fontsize="small")
    return drawn


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
