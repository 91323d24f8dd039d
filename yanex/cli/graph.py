"""`yanex graph`: an experiment's lineage, upstream and downstream."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.results.experiment import Experiment
from yanex.results.lineage import LineageNode, get_lineage

_COLOURS = {"completed": "green", "failed": "red", "cancelled": "yellow", "running": "blue"}


@click.command("graph")
@click.argument("reference")
@pass_cli_config()
def graph_command(config: CliConfig, reference: str) -> None:
    """Show what an experiment depends on (upstream) and what depends on it (downstream).

    A tree in a terminal, indented plain text otherwise.

    \b
    Example:
        yanex graph ensemble-v1
    """
    lineage = get_lineage(config.store(), reference)
    console = Console()
    tree = Tree(_label(lineage.experiment, styled=console.is_terminal))
    for title, nodes in (("depends on", lineage.upstream), ("used by", lineage.downstream)):
        if nodes:
            branch = tree.add(f"[dim]{title}[/]" if console.is_terminal else title)
            for node in nodes:
                _add(branch, node, styled=console.is_terminal)
    if console.is_terminal:
        console.print(tree)
    else:
        for line in _plain(tree):
            click.echo(line)


def _add(parent: Tree, node: LineageNode, *, styled: bool) -> None:
    label = _label(node.experiment, styled=styled) + (" (see above)" if node.repeated else "")
    branch = parent.add(label)
    for child in node.children:
        _add(branch, child, styled=styled)


def _label(experiment: Experiment, *, styled: bool) -> str:
    name = experiment.name or experiment.script or ""
    if not styled:
        return f"{experiment.id} {name} [{experiment.status}]"
    colour = _COLOURS.get(experiment.status, "dim")
    return f"[bold]{experiment.id}[/] {escape(name)} [{colour}]{experiment.status}[/]"


def _plain(tree: Tree, depth: int = 0) -> list[str]:
    lines = ["  " * depth + str(tree.label)]
    for child in tree.children:
        lines.extend(_plain(child, depth + 1))
    return lines
