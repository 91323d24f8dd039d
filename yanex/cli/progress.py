"""How `yanex run` shows a batch running: a rich progress bar, or plain lines.

In a terminal, a bar counts completed (green), failed (red), cancelled and skipped
(yellow), with elapsed time and the names of running experiments; members' output goes
to their own files. Without a terminal (CI, pipes) or with `-s` (live output), one
plain line per finished experiment. Either way a summary lists failures with ids.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from yanex.execution.events import PlainReporter, Reporter

if TYPE_CHECKING:
    from rich.console import Console

    from yanex.core.spec import ExperimentResult

_STYLE = {"completed": "green", "failed": "red", "cancelled": "yellow", "skipped": "yellow"}


def escape(text: str) -> str:
    """Rich's markup escaping (rich is imported only by batch displays)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def make_reporter(*, single: bool, live_output: bool) -> Reporter:
    """The reporter for this invocation: one run, a bar, or plain lines.

    A single run prints two plain lines (rich, ~40 ms to import, loads only for batches).
    """
    if single:
        return SingleReporter()
    from rich.console import Console

    console = Console(stderr=True)
    if live_output or not console.is_terminal:
        return SummaryReporter(console, LineReporter(sys.stderr))
    return SummaryReporter(console, BarReporter(console))


def outcome(result: ExperimentResult) -> str:
    """completed, failed, cancelled, or skipped (cancelled because a dependency failed)."""
    if result.status == "cancelled" and result.failure_reason == "dependency_failed":
        return "skipped"
    return result.status


class LineReporter(PlainReporter):
    """Plain lines per finished experiment; the counts are left to the summary that follows."""

    def batch_finished(self, results: Sequence[ExperimentResult]) -> None:
        pass


class SingleReporter(Reporter):
    """One experiment: its output streams live; say which experiment and how it ended."""

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        label = f" ({names[0]})" if names and names[0] else ""
        self._say(f"experiment {experiment_ids[0]}{label}")

    def experiment_finished(self, result: ExperimentResult) -> None:
        state = outcome(result)
        took = f" in {result.duration:.1f}s" if result.duration is not None else ""
        line = f"experiment {result.experiment_id} {click.style(state, fg=_STYLE.get(state))}{took}"
        if result.error_message and state != "completed":
            line += f": {result.error_headline or ''}"
        self._say(line)

    def interrupted(self, second: bool) -> None:
        self._say(
            "interrupted, " + ("killing it" if second else "stopping it (Ctrl-C again to kill)")
        )

    def _say(self, line: str) -> None:
        click.echo(f"{click.style('yanex', bold=True)}: {line}", err=True)


class BarReporter(Reporter):
    """A live progress bar with per-outcome counts and the running experiments' names."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]✓ {task.fields[n_completed]}[/] [red]✗ {task.fields[n_failed]}[/] "
                "[yellow]⊘ {task.fields[n_cancelled]} ↷ {task.fields[n_skipped]}[/]"
            ),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[running]}"),
            console=console,
        )
        self.counts = {"completed": 0, "failed": 0, "cancelled": 0, "skipped": 0}
        self.running: dict[str, str] = {}
        self.lock = threading.Lock()
        self.task = self.progress.add_task("yanex", total=0, running="", **self._fields())

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        label = f"batch {batch_id}" if batch_id else "staged"
        self.progress.update(self.task, total=len(experiment_ids), description=label)
        self.progress.start()

    def experiment_started(self, experiment_id: str, name: str) -> None:
        with self.lock:
            self.running[experiment_id] = name
            self._refresh(advance=0)

    def experiment_finished(self, result: ExperimentResult) -> None:
        with self.lock:
            self.running.pop(result.experiment_id, None)
            state = outcome(result)
            self.counts[state] = self.counts.get(state, 0) + 1
            if state == "failed":
                self.progress.console.print(
                    f"[red]✗[/] {result.experiment_id} {escape(result.name or '')}: "
                    + escape(result.error_headline or ""),
                    highlight=False,
                )
            self._refresh(advance=1)

    def _refresh(self, advance: int) -> None:
        names = [escape(name) for name in self.running.values()]  # shown as markup
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        self.progress.update(self.task, advance=advance, running=shown, **self._fields())

    def _fields(self) -> dict[str, Any]:
        # prefixed: `completed` is rich's own task argument (the bar's position)
        return {f"n_{state}": n for state, n in self.counts.items()}

    def batch_finished(self, results: Sequence[ExperimentResult]) -> None:
        self.progress.stop()

    def interrupted(self, second: bool) -> None:
        what = "killing running experiments" if second else "cancelling (Ctrl-C again to kill)"
        self.progress.console.print(f"[yellow]interrupted[/]: {what}")


class SummaryReporter(Reporter):
    """Forwards events to a display, then prints the end-of-batch summary."""

    def __init__(self, console: Console, display: Reporter) -> None:
        self.console = console
        self.display = display

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        self.display.batch_started(batch_id, experiment_ids, names)

    def experiment_started(self, experiment_id: str, name: str) -> None:
        self.display.experiment_started(experiment_id, name)

    def experiment_finished(self, result: ExperimentResult) -> None:
        self.display.experiment_finished(result)

    def interrupted(self, second: bool) -> None:
        self.display.interrupted(second)

    def batch_finished(self, results: Sequence[ExperimentResult]) -> None:
        self.display.batch_finished(results)
        print_summary(self.console, results)


def print_summary(console: Console, results: Sequence[ExperimentResult]) -> None:
    """Counts per outcome, then every experiment that did not complete, with its error."""
    counts: dict[str, int] = {}
    for result in results:
        counts[outcome(result)] = counts.get(outcome(result), 0) + 1
    parts = [_styled(state, f"{n} {state}") for state, n in sorted(counts.items())]
    console.print(f"{len(results)} experiment(s): " + ", ".join(parts), highlight=False)
    for result in results:
        if not result.succeeded:
            message = f": {escape(result.error_headline or '')}" if result.error_message else ""
            console.print(
                f"  {_styled(outcome(result))} {result.experiment_id} "
                f"{escape(result.name or '')}{message}",
                highlight=False,
            )


def _styled(state: str, text: str | None = None) -> str:
    """`text` (default: the state) as markup in the state's colour; unknown states plain."""
    return f"[{_STYLE.get(state, 'default')}]{escape(text or state)}[/]"
