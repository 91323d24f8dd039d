"""Printing rows of values: a rich table for people, json/csv/markdown for programs.

Machine formats are stable: JSON is a list of objects with the given keys, CSV has a
header row, neither has colours. Table cells are made human (durations like `4m 12s`,
local times, 6 significant digits) and statuses are coloured when stdout is a terminal.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click

from yanex.core.jsonfile import jsonable

FORMATS = ("table", "json", "csv", "markdown")
STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
    "running": "blue",
    "queued": "dim",
    "staged": "dim",
    "created": "dim",
}
F = TypeVar("F", bound=Callable[..., Any])


def format_option(choices: Sequence[str] = FORMATS) -> Callable[[F], F]:
    """The `-F/--format` option, passed to the command as `output_format`."""
    return click.option(
        "-F",
        "--format",
        "output_format",
        type=click.Choice(list(choices), case_sensitive=False),
        default=choices[0],
        show_default=True,
        help="Output format; machine formats have stable keys and no colours.",
    )


def console(stderr: bool = False) -> Any:
    """A rich Console on stdout (or stderr); plain text when it is not a terminal."""
    import sys

    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            # `yanex list | head`: let yanex.cli.main end quietly with 0, as for click.echo
            # (rich itself would exit with 1).
            self.quiet = True
            raise BrokenPipeError

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by programs and pagers: no wrapping at an invented 80 columns.
    width = None if stream.isatty() else 4096
    return PipeConsole(file=stream, highlight=False, width=width)


def write_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], output_format: str) -> None:
    """Print rows as json, csv or markdown (stdout, flushed)."""
    if output_format == "json":
        data = [{c: jsonable(row.get(c), c) for c in columns} for row in rows]
        click.echo(json.dumps(data, indent=2))
    elif output_format == "csv":
        click.echo(to_csv(rows, columns), nl=False)
    elif output_format == "markdown":
        click.echo(to_markdown(rows, columns))
    else:
        raise ValueError(f"not a machine format: {output_format}")


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """CSV text with a header row; lists of strings joined by commas, other lists as JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def to_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = [_markdown_line(columns), _markdown_line(["---"] * len(columns))]
    lines += [_markdown_line([cell(row.get(c)) for c in columns]) for row in rows]
    return "\n".join(lines)


def csv_cell(value: Any) -> Any:
    """A value for the csv module: lists of strings joined by commas, other lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, (str, int)):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if isinstance(value, (list, dict)):
        return json.dumps(jsonable(value))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def cell(value: Any) -> str:
    """A value as a person reads it in a table."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(cell(v) for v in value) if value else "-"
    if isinstance(value, dict):
        return json.dumps(jsonable(value))
    if isinstance(value, datetime):
        return format_time(value)
    return str(value)


def format_duration(seconds: float | None) -> str:
    """`42.1s`, `4m 12s`, `3h 05m`, `2d 04h`; `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def format_time(moment: datetime | None) -> str:
    """Local time to the minute, e.g. `2025-01-31 14:05`."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def format_size(size: int) -> str:
    """Bytes as `512 B`, `1.2 KB`, `3.4 MB`."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def status_text(status: str, detail: str | None = None) -> Any:
    """A rich Text of a status in its colour, with optional detail (worker, elapsed)."""
    from rich.text import Text

    text = Text(status, style=STATUS_STYLES.get(status, ""))
    if detail:
        text.append(f" {detail}", style="dim")
    return text


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    no_wrap: Sequence[str] = (),
) -> None:
    """Print a rich table; cells may be strings or rich Text."""
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column in no_wrap, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console().print(table)


def _markdown_line(cells: Iterable[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
