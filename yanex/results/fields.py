"""Single values of an experiment by field name: what `yanex get FIELD` prints.

```
param:KEY            a parameter (dotted keys for nested ones)
metric:NAME[:AGG]    a metric's last value, or first/min/max/mean
meta:KEY             a metadata field (dotted: meta:git.branch, meta:execution.worker)
id, name, status, tags, description, created_at, started_at, ended_at, duration,
script, batch        the summary fields
params, metrics      every parameter (a dict) / the metric names
artifacts            the artifact names
stdout, stderr       the captured output
artifacts-dir, experiment-dir, cli-command, dependencies
```
"""

from __future__ import annotations

from typing import Any

from yanex.core.params import get_dotted
from yanex.errors import UsageError, YanexError
from yanex.results.command import reproduce_command
from yanex.results.experiment import Experiment, check_aggregate
from yanex.results.logs import read_output

MISSING: Any = object()
SUMMARY_FIELDS = (
    "id",
    "name",
    "status",
    "tags",
    "description",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "script",
    "batch",
)
SPECIAL_FIELDS = (
    "params",
    "metrics",
    "artifacts",
    "stdout",
    "stderr",
    "artifacts-dir",
    "experiment-dir",
    "cli-command",
    "dependencies",
)
_GROUP_NAMES = {"param": "parameter", "metric": "metric", "meta": "metadata field"}
FIELD_HELP = "param:KEY, metric:NAME[:AGG], meta:KEY, " + ", ".join(SUMMARY_FIELDS + SPECIAL_FIELDS)


def check_field(field: str) -> None:
    """Raise UsageError unless `field` is a field name `lookup` knows."""
    group, _, key = field.partition(":")
    if group in ("param", "meta", "metric") and key:
        if group == "metric" and ":" in key:
            check_aggregate(key.rsplit(":", 1)[1])
        return
    if field not in SUMMARY_FIELDS and field not in SPECIAL_FIELDS:
        raise UsageError(f"unknown field {field!r}; fields are: {FIELD_HELP}")


def lookup(experiment: Experiment, field: str) -> Any:
    """The value of `field` for `experiment`, or MISSING when it has none."""
    check_field(field)
    group, _, key = field.partition(":")
    if group == "param" and key:
        return get_dotted(experiment.params, key, MISSING)
    if group == "metric" and key:
        name, _, agg = key.partition(":")
        value = experiment.metric(name, agg or "last")
        return MISSING if value is None else value
    if group == "meta" and key:
        summary = experiment.summary()
        return summary[key] if key in summary else get_dotted(experiment.metadata, key, MISSING)
    if field == "description":
        return experiment.description
    if field in SUMMARY_FIELDS:
        return experiment.summary()[field]
    return _special(experiment, field)


def get_field(experiment: Experiment, field: str, default: Any = MISSING) -> Any:
    """The value of `field`; without a `default`, a missing value raises YanexError."""
    value = lookup(experiment, field)
    if value is not MISSING:
        return value
    if default is not MISSING:
        return default
    group, _, key = field.partition(":")
    what = f"{_GROUP_NAMES[group]} {key!r}" if group in _GROUP_NAMES and key else repr(field)
    raise YanexError(
        f"experiment {experiment.id} has no {what}; see `yanex show {experiment.id}` "
        "for what it has"
    )


def _special(experiment: Experiment, field: str) -> Any:
    if field == "params":
        return experiment.params
    if field == "metrics":
        return experiment.metric_names
    if field == "artifacts":
        return [artifact.name for artifact in experiment.artifacts]
    if field in ("stdout", "stderr"):
        return read_output(experiment, field)
    if field == "artifacts-dir":
        return str(experiment.artifacts_dir)
    if field == "experiment-dir":
        return str(experiment.experiment_dir)
    if field == "cli-command":
        return reproduce_command(experiment)
    slots = experiment.dependency_slots
    if isinstance(experiment.metadata.get("dependencies"), dict):
        return [f"{slot}={experiment_id}" for slot, experiment_id in slots.items()]
    return list(slots.values())
