"""`yanex list`: experiments newest first, filtered, as a table or for programs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.filtering import filter_options
from yanex.cli.formats import (
    cell,
    console,
    format_duration,
    format_option,
    format_time,
    print_table,
    status_text,
    write_rows,
)
from yanex.core import timestamps
from yanex.results import query
from yanex.results.comparison import SUMMARY_COLUMNS, metric_column, param_column, value_of
from yanex.results.experiment import Experiment
from yanex.results.filters import Filter

DEFAULT_LIMIT = 20


@click.command("list")
@click.option("-l", "--limit", type=click.IntRange(min=1), default=DEFAULT_LIMIT, show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Show every match (no limit).")
@click.option("--params", "param_keys", metavar="KEYS", help="Parameter columns, e.g. lr,model.bs.")
@click.option(
    "--metrics", "metric_keys", metavar="NAMES", help="Metric columns, e.g. acc,loss:min."
)
@format_option()
@filter_options(ids=True)
@pass_cli_config()
def list_command(
    config: CliConfig,
    filters: Filter,
    limit: int,
    show_all: bool,
    param_keys: str | None,
    metric_keys: str | None,
    output_format: str,
) -> None:
    """List experiments, newest first (20 unless --limit or --all).

    \b
    Example:
        yanex list -s failed -t sweep
        yanex list -w "lr<0.01" -w "metric:accuracy>=0.9" --params lr --metrics accuracy
        yanex list --started-after "2 days ago" -F json
    """
    store = config.store()
    matches = query.find(store, filters, limit=None if show_all else limit)
    extra = [param_column(k) for k in _split(param_keys)]
    extra += [metric_column(m) for m in _split(metric_keys)]
    if not matches.experiments:
        console(stderr=True).print(query.explain_empty(store, filters))
    if output_format != "table":
        columns = [*SUMMARY_COLUMNS, *extra]
        write_rows([_row(e, extra) for e in matches.experiments], columns, output_format)
    elif matches.experiments:
        _print_table(matches.experiments, extra)
        _print_footer(matches)


def _split(keys: str | None) -> list[str]:
    return [key.strip() for key in (keys or "").split(",") if key.strip()]


def _row(experiment: Experiment, extra: list[str]) -> dict[str, Any]:
    row = experiment.summary()
    row.update({column: value_of(experiment, column) for column in extra})
    return row


def _print_table(experiments: list[Experiment], extra: list[str]) -> None:
    columns = ["id", "name", "status", "tags", "started", "duration", *extra]
    rows = []
    for experiment in experiments:
        rows.append(
            [
                experiment.id,
                experiment.name or _script_name(experiment),
                status_text(experiment.status, _status_detail(experiment)),
                cell(experiment.tags),
                format_time(experiment.started_at),
                format_duration(experiment.duration),
                *(cell(value_of(experiment, column)) for column in extra),
            ]
        )
    print_table(columns, rows, no_wrap=("id", "started", "duration"))


def _print_footer(matches: query.Matches) -> None:
    shown = len(matches.experiments)
    if matches.total is None:
        note = f"{shown} shown; more may match (--all to see every match)"
    elif matches.total > shown:
        note = f"{shown} of {matches.total} shown (--limit N or --all for more)"
    else:
        return
    console(stderr=True).print(f"[dim]{note}[/dim]")


def _script_name(experiment: Experiment) -> str:
    if experiment.script_path is not None:
        return f"({experiment.script_path.name})"
    return f"(-m {experiment.module})" if experiment.module else "-"


def _status_detail(experiment: Experiment) -> str | None:
    """Where and for how long a queued or running experiment has been so."""
    if experiment.status == "running":
        where = experiment.worker
        since = experiment.started_at
    elif experiment.status == "queued":
        where = experiment.execution.get("queue")
        since = timestamps.parse(experiment.metadata.get("queued_at"))
    else:
        return None
    parts = [str(where)] if where else []
    if since is not None:
        parts.append(format_duration((datetime.now(timezone.utc) - since).total_seconds()))
    return f"({', '.join(parts)})" if parts else None
