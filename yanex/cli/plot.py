"""`yanex plot metric:NAME -o FILE`: one line per experiment, written to an image file."""

from __future__ import annotations

from pathlib import Path

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.filtering import filter_options
from yanex.results import query
from yanex.results.filters import Filter
from yanex.results.frames import plot_metrics, require


@click.command("plot")
@click.argument("metric", metavar="metric:NAME")
@click.argument("references", nargs=-1, metavar="[IDS]...")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Image file to write (.png, .svg, .pdf).",
)
@click.option("--title", help="Figure title (default: the metric name).")
@click.option("-l", "--limit", type=click.IntRange(min=1), help="Only the newest N matches.")
@filter_options()
@pass_cli_config()
def plot_command(
    config: CliConfig,
    filters: Filter,
    metric: str,
    references: tuple[str, ...],
    output: Path,
    title: str | None,
    limit: int | None,
) -> None:
    """Plot a metric against step for experiments given by IDS or filters.

    Needs matplotlib: pip install 'yanex[plot]'.

    \b
    Example:
        yanex plot metric:loss -t sweep -w "lr<0.01" -o loss.png
        yanex plot accuracy a1b2 c3d4 -o accuracy.svg
    """
    figure_module = require("matplotlib.figure", "plot", "yanex plot")
    experiments = query.select(config.store(), references, filters, limit=limit)
    # A bare Figure (no pyplot): no GUI backend, nothing global left behind.
    figure = figure_module.Figure(figsize=(8, 5))
    plot_metrics(experiments, metric, ax=figure.subplots(), title=title)
    figure.savefig(output, bbox_inches="tight")
    click.echo(f"wrote {output} ({len(experiments)} experiments)")
