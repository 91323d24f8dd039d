"""`yanex compare`: one row per experiment, the parameters that differ and chosen metrics."""

from __future__ import annotations

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.filtering import filter_options
from yanex.cli.formats import (
    cell,
    format_duration,
    format_option,
    print_table,
    status_text,
    write_rows,
)
from yanex.results import query
from yanex.results.comparison import Comparison, compare
from yanex.results.filters import Filter

TABLE_SUMMARY = ("id", "name", "status", "duration")


@click.command("compare")
@click.argument("references", nargs=-1, metavar="[IDS]...")
@click.option(
    "--params", "param_keys", metavar="KEYS", help="Parameter columns (default: those that differ)."
)
@click.option(
    "--metrics",
    "metric_keys",
    metavar="NAMES",
    help="Metric columns, e.g. acc,loss:min (default: all, last value).",
)
@click.option("--all-params", is_flag=True, help="Include parameters that are the same everywhere.")
@click.option(
    "--sort",
    "sort_column",
    metavar="COLUMN",
    help="Sort by param:KEY, metric:NAME[:agg], name, duration, ...",
)
@click.option("--desc", is_flag=True, help="Sort descending (rows without a value stay last).")
@click.option("-l", "--limit", type=click.IntRange(min=1), help="Only the newest N matches.")
@format_option()
@filter_options()
@pass_cli_config()
def compare_command(
    config: CliConfig,
    filters: Filter,
    references: tuple[str, ...],
    param_keys: str | None,
    metric_keys: str | None,
    all_params: bool,
    sort_column: str | None,
    desc: bool,
    limit: int | None,
    output_format: str,
) -> None:
    """Compare experiments side by side (given by IDS, or by filters; default: all).

    \b
    Example:
        yanex compare -t sweep --metrics accuracy,loss:min --sort metric:accuracy --desc
        yanex compare a1b2 c3d4 --all-params
        yanex compare -s completed -F csv > results.csv
    """
    experiments = query.select(config.store(), references, filters, limit=limit)
    table = compare(
        experiments,
        params=_split(param_keys),
        metrics=_split(metric_keys),
        all_params=all_params,
        sort=sort_column,
        descending=desc,
    )
    if output_format == "table":
        _print(table)
    else:
        write_rows(table.rows, table.columns, output_format)


def _split(keys: str | None) -> list[str] | None:
    if keys is None:
        return None
    return [key.strip() for key in keys.split(",") if key.strip()]


def _print(table: Comparison) -> None:
    extra = table.param_columns + table.metric_columns
    rows = []
    for row in table.rows:
        rows.append(
            [
                str(row["id"]),
                cell(row["name"]),
                status_text(str(row["status"])),
                format_duration(row["duration"]),
                *(cell(row[column]) for column in extra),
            ]
        )
    print_table([*TABLE_SUMMARY, *extra], rows, no_wrap=("id",))
