"""Side-by-side tables of experiments: one row each, `param:`/`metric:` columns.

Pure Python (lists of dicts), so `yanex compare` never imports pandas; `frames.py`
turns a `Comparison` into a DataFrame for the results API.

Columns are named like the `-w` conditions: `param:model.lr` (dotted keys of nested
parameters), `metric:accuracy` (last value) and `metric:loss:min` (an aggregate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from yanex.errors import UsageError
from yanex.results.experiment import Experiment, check_aggregate

SUMMARY_COLUMNS = (
    "id",
    "name",
    "status",
    "tags",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "script",
    "batch",
)
PARAM = "param:"
METRIC = "metric:"


@dataclass
class Comparison:
    """A table: column names and one dict per experiment (missing values are None)."""

    columns: list[str]
    rows: list[dict[str, Any]]

    @property
    def param_columns(self) -> list[str]:
        return [c for c in self.columns if c.startswith(PARAM)]

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.columns if c.startswith(METRIC)]


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as dotted keys: {"model": {"lr": 1}} -> {"model.lr": 1}."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def param_column(spec: str) -> str:
    """`lr` or `param:lr` -> `param:lr`."""
    key = spec.strip().removeprefix(PARAM)
    if not key:
        raise UsageError(f"empty parameter name in {spec!r}; write e.g. lr or model.lr")
    return PARAM + key


def metric_column(spec: str) -> str:
    """`acc`, `metric:acc` -> `metric:acc`; `acc:max` -> `metric:acc:max` (agg checked)."""
    name = spec.strip().removeprefix(METRIC)
    if ":" in name:
        name, agg = name.rsplit(":", 1)
        check_aggregate(agg)
        name = f"{name}:{agg}" if agg != "last" else name
    if not name:
        raise UsageError(f"empty metric name in {spec!r}; write e.g. accuracy or loss:min")
    return METRIC + name


def value_of(experiment: Experiment, column: str) -> Any:
    """The value of one column for one experiment (`param:`, `metric:` or a summary key)."""
    if column.startswith(PARAM):
        return experiment.param(column[len(PARAM) :])
    if column.startswith(METRIC):
        name, _, agg = column[len(METRIC) :].partition(":")
        return experiment.metric(name, agg or "last")
    return experiment.summary().get(column)


def compare(
    experiments: Sequence[Experiment],
    *,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    all_params: bool = False,
    sort: str | None = None,
    descending: bool = False,
) -> Comparison:
    """Compare experiments: summary columns, parameters and metrics, one row each.

    `params=None` takes the parameters whose values differ between the experiments
    (every parameter with `all_params`, or when there is only one experiment);
    `metrics=None` takes every metric logged by any of them, last value.

    Example:
        compare(experiments, metrics=["accuracy", "loss:min"], sort="metric:accuracy",
                descending=True)
    """
    flat = [flatten(experiment.params) for experiment in experiments]
    if params is None:
        param_columns = [PARAM + k for k in _param_keys(flat, all_params or len(flat) == 1)]
    else:
        param_columns = [param_column(p) for p in params]
    if metrics is None:
        metric_columns = [METRIC + n for n in _metric_names(experiments)]
    else:
        metric_columns = [metric_column(m) for m in metrics]
    columns = list(dict.fromkeys([*SUMMARY_COLUMNS, *param_columns, *metric_columns]))
    sort_column = _sort_column(sort, columns) if sort else None
    if sort_column and sort_column not in columns:
        columns.append(sort_column)
    rows = [_row(e, f, columns) for e, f in zip(experiments, flat, strict=True)]
    if sort_column:
        rows = sort_rows(rows, sort_column, descending=descending)
    return Comparison(columns, rows)


def sort_rows(
    rows: Sequence[dict[str, Any]], column: str, *, descending: bool = False
) -> list[dict[str, Any]]:
    """Rows ordered by `column`; rows without a value come last either way."""
    present = [row for row in rows if row.get(column) is not None]
    missing = [row for row in rows if row.get(column) is None]
    present.sort(key=lambda row: _sortable(row[column]), reverse=descending)
    return present + missing


def _row(experiment: Experiment, flat: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    row = experiment.summary()
    for column in columns:
        if column.startswith(PARAM):
            key = column[len(PARAM) :]
            row[column] = flat[key] if key in flat else experiment.param(key)
        elif column not in row:
            row[column] = value_of(experiment, column)
    return {column: row.get(column) for column in columns}


def _param_keys(flat: Sequence[dict[str, Any]], everything: bool) -> list[str]:
    keys = list(dict.fromkeys(key for params in flat for key in params))
    if everything:
        return keys
    missing = object()
    return [
        key
        for key in keys
        if any(params.get(key, missing) != flat[0].get(key, missing) for params in flat[1:])
    ]


def _metric_names(experiments: Sequence[Experiment]) -> list[str]:
    names: dict[str, None] = {}
    for experiment in experiments:
        names.update(dict.fromkeys(experiment.metric_names))
    return list(names)


def _sort_column(sort: str, columns: list[str]) -> str:
    if sort.startswith(PARAM):
        return param_column(sort)
    if sort.startswith(METRIC):
        return metric_column(sort)
    if sort in columns:
        return sort
    raise UsageError(
        f"cannot sort by {sort!r}; use param:KEY, metric:NAME[:agg] or one of "
        f"{', '.join(SUMMARY_COLUMNS)}"
    )


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, list):
        return (1, ",".join(map(str, value)))
    return (1, str(value))
