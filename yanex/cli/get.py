"""`yanex get FIELD`: one value per experiment, for scripts and shells."""

from __future__ import annotations

import json
from typing import Any

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.filtering import filter_options
from yanex.cli.formats import format_option, write_rows
from yanex.core.jsonfile import jsonable
from yanex.errors import UsageError
from yanex.results import query
from yanex.results.experiment import Experiment
from yanex.results.fields import FIELD_HELP, MISSING, check_field, get_field, lookup
from yanex.results.filters import Filter
from yanex.results.logs import STREAMS, follow_output, read_output


@click.command("get", epilog=f"Fields: {FIELD_HELP}.")
@click.argument("field")
@click.argument("references", nargs=-1, metavar="[IDS]...")
@click.option(
    "--tail", type=click.IntRange(min=0), metavar="N", help="stdout/stderr: last N lines."
)
@click.option("-f", "--follow", is_flag=True, help="stdout/stderr: keep printing while it runs.")
@click.option("--default", "default", metavar="VALUE", help="Print this when the field is missing.")
@click.option("-l", "--limit", type=click.IntRange(min=1), help="Only the newest N matches.")
@format_option(("plain", "json", "csv"))
@filter_options()
@pass_cli_config()
def get_command(
    config: CliConfig,
    filters: Filter,
    field: str,
    references: tuple[str, ...],
    tail: int | None,
    follow: bool,
    default: str | None,
    limit: int | None,
    output_format: str,
) -> None:
    """Print one FIELD of experiments given by IDS or filters (one line each).

    \b
    Example:
        yanex get param:lr a1b2
        yanex get metric:accuracy:max a1b2
        yanex get stdout a1b2 --tail 20 --follow
        yanex get meta:status -t sweep
        $(yanex get cli-command a1b2)
    """
    check_field(field)
    streaming = field in STREAMS
    if (tail is not None or follow) and not streaming:
        raise UsageError(f"--tail and --follow work with stdout and stderr, not {field!r}")
    experiments = query.select(config.store(), references, filters, limit=limit)
    if follow:
        _follow(experiments, field, tail)
    elif streaming:
        _print_outputs(experiments, field, tail)
    elif output_format == "plain":
        _print_plain(experiments, field, default)
    else:
        rows = [{"id": e.id, "value": _value(e, field, default)} for e in experiments]
        write_rows(rows, ["id", "value"], output_format)


def _value(experiment: Experiment, field: str, default: str | None) -> Any:
    value = lookup(experiment, field)
    return default if value is MISSING else value


def _print_plain(experiments: list[Experiment], field: str, default: str | None) -> None:
    if len(experiments) == 1:
        value = get_field(experiments[0], field, MISSING if default is None else default)
        click.echo(plain(value))
        return
    for experiment in experiments:
        value = _value(experiment, field, default)
        click.echo(f"{experiment.id}\t{plain(value) if value is not None else ''}")


def plain(value: Any) -> str:
    """A value as a shell reads it: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value))


def _print_outputs(experiments: list[Experiment], stream: str, tail: int | None) -> None:
    for experiment in experiments:
        if len(experiments) > 1:
            click.echo(f"==> {experiment.id} {stream} <==")
        click.echo(read_output(experiment, stream, tail), nl=False)


def _follow(experiments: list[Experiment], stream: str, tail: int | None) -> None:
    if len(experiments) != 1:
        raise UsageError(f"--follow needs exactly one experiment; {len(experiments)} selected")
    for chunk in follow_output(experiments[0], stream, tail=tail):
        click.echo(chunk, nl=False)
