"""What `yanex run` prints besides progress: dry runs, staged batches, capture warnings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from yanex.core.sweep import Sweep

if TYPE_CHECKING:
    from yanex.core.plan import RunPlan
    from yanex.core.spec import ExperimentResult
    from yanex.execution.batch import Batch


def print_dry_run(plan: RunPlan) -> None:
    """The resolved parameters and, for a sweep, every member's swept values."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print("[bold]Parameters[/] (dry run: nothing was created)")
    if plan.sources:
        console.print(f"[dim]from {', '.join(plan.sources)}[/]", highlight=False)
    for line in nested_lines(plan.params) or ["(none)"]:
        console.print("  " + line, highlight=False, markup=False)
    if not plan.is_sweep:
        console.print("1 experiment would run.")
        return
    table = Table("#", "name", *plan.swept_keys)
    for index, spec in enumerate(plan.specs, 1):
        swept = spec.metadata.get("sweep", {})
        table.add_row(str(index), spec.name or "", *(_spell(swept.get(k)) for k in plan.swept_keys))
    console.print(table)
    console.print(f"{len(plan.specs)} experiments would run.")


def nested_lines(params: dict[str, Any], indent: int = 0) -> list[str]:
    """Parameters as indented `key: value` lines, nested dicts as sections."""
    lines = []
    for key, value in params.items():
        prefix = "  " * indent + f"{key}:"
        if isinstance(value, dict) and value:
            lines.append(prefix)
            lines.extend(nested_lines(value, indent + 1))
        else:
            lines.append(f"{prefix} {_spell(value)}")
    return lines


def _spell(value: Any) -> str:
    if isinstance(value, Sweep):
        return f"{value.expression}  -> {len(value)} values"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def print_staged(batch: Batch) -> None:
    more = " ..." if len(batch.experiment_ids) > 10 else ""
    click.echo(
        f"Staged {len(batch.experiment_ids)} experiment(s) in batch {batch.batch_id}: "
        + ", ".join(batch.experiment_ids[:10])
        + more
    )
    click.echo(f"Run them with: yanex run --staged --batch {batch.batch_id}")


def print_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"{click.style('warning', fg='yellow')}: {warning}", err=True)


def print_detached(batch_id: str | None, results: Sequence[ExperimentResult]) -> None:
    """What a detached submission prints: the batch to wait on later."""
    ids = [r.experiment_id for r in results]
    where = f"batch {batch_id}" if batch_id else "experiments"
    click.echo(f"Queued {len(ids)} experiment(s) as {where}: {', '.join(ids[:10])}")
    click.echo(f"Wait for them with: yanex wait {batch_id or ' '.join(ids)}")
