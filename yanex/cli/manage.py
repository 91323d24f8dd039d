"""`yanex archive | unarchive | delete | update`: change experiments given by ids or filters."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.filtering import filter_options
from yanex.errors import UsageError
from yanex.results import query, records
from yanex.results.experiment import Experiment
from yanex.results.filters import Filter

_IDS = click.argument("references", nargs=-1, metavar="[IDS]...")


@click.command("archive")
@_IDS
@filter_options()
@pass_cli_config()
def archive_command(config: CliConfig, filters: Filter, references: tuple[str, ...]) -> None:
    """Move experiments to <dir>/archived/ (hidden from list unless --archived).

    \b
    Example:
        yanex archive a1b2 c3d4
        yanex archive -s failed --ended-before "1 week ago"
    """
    experiments = _select(config, references, filters)
    report(records.archive(experiments))


@click.command("unarchive")
@_IDS
@filter_options(archived=True)
@pass_cli_config()
def unarchive_command(config: CliConfig, filters: Filter, references: tuple[str, ...]) -> None:
    """Bring archived experiments back (filters search the archive).

    \b
    Example:
        yanex unarchive a1b2
        yanex unarchive -t baseline
    """
    experiments = _select(config, references, filters)
    report(records.unarchive(experiments))


@click.command("delete")
@_IDS
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@filter_options()
@pass_cli_config()
def delete_command(
    config: CliConfig, filters: Filter, references: tuple[str, ...], force: bool
) -> None:
    """Delete experiments and all their files, for good (asks first unless --force).

    Queued and running experiments are refused: `yanex cancel` them first.

    \b
    Example:
        yanex delete a1b2
        yanex delete -s failed -t debug --force
    """
    experiments = _select(config, references, filters)
    records.refuse_active(experiments, "delete")
    if not force:
        _confirm_delete(experiments)
    report(records.delete(experiments))


@click.command("update")
@_IDS
@click.option("--set-name", "name", metavar="NAME", help='New name ("" removes it).')
@click.option("--set-description", "description", metavar="TEXT", help="New description.")
@click.option("--add-tag", "add_tags", multiple=True, metavar="TAG", help="Add a tag (repeatable).")
@click.option("--remove-tag", "remove_tags", multiple=True, metavar="TAG", help="Remove a tag.")
@filter_options()
@pass_cli_config()
def update_command(
    config: CliConfig,
    filters: Filter,
    references: tuple[str, ...],
    name: str | None,
    description: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
) -> None:
    """Rename, describe or retag experiments (status changes only via `yanex cancel`).

    \b
    Example:
        yanex update a1b2 --set-name best-run --add-tag keep
        yanex update -t sweep --remove-tag wip
    """
    edits = records.Update(name, description, add_tags, remove_tags)
    edits.check()  # before selecting: a typo in the flags is the first thing to hear about
    experiments = _select(config, references, filters)
    report(records.update(experiments, edits))


def _select(config: CliConfig, references: tuple[str, ...], filters: Filter) -> list[Experiment]:
    return query.select(config.store(), references, filters, require_selection=True)


def report(changes: Sequence[records.Change]) -> None:
    """Print one line per experiment: what was done, or why nothing was."""
    for change in changes:
        experiment = change.experiment
        label = f"{experiment.id} {experiment.name}" if experiment.name else experiment.id
        if change.done:
            click.echo(f"{label}: {change.done}")
        else:
            click.echo(f"{label}: skipped ({change.skipped})")


def _confirm_delete(experiments: Sequence[Experiment]) -> None:
    if not sys.stdin.isatty():
        raise UsageError(
            f"refusing to delete {len(experiments)} experiments without confirmation "
            "(stdin is not a terminal); pass --force"
        )
    for experiment in experiments[:20]:
        click.echo(f"  {experiment.id}  {experiment.name or '-'}  {experiment.status}")
    if len(experiments) > 20:
        click.echo(f"  ... and {len(experiments) - 20} more")
    noun = "experiment" if len(experiments) == 1 else "experiments"
    if not click.confirm(f"Delete {len(experiments)} {noun} and all their files?"):
        raise click.Abort()
