"""What an executor tells the outside world while a batch runs.

Executors call a `Reporter`; the CLI passes one that draws a rich progress bar (or
prints plain lines without a terminal), `run_multiple(verbose=True)` uses
`PlainReporter`, and by default nothing is printed: the library does not talk unless
asked to.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from yanex.core.spec import ExperimentResult


class Reporter:
    """Receives batch events; every method is a no-op here, override what you need."""

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        """A batch of experiments is about to run."""

    def experiment_started(self, experiment_id: str, name: str) -> None:
        """One experiment started running."""

    def experiment_finished(self, result: ExperimentResult) -> None:
        """One experiment ended (completed, failed or cancelled)."""

    def batch_finished(self, results: Sequence[ExperimentResult]) -> None:
        """Every experiment of the batch ended."""

    def interrupted(self, second: bool) -> None:
        """Ctrl-C arrived: the batch is being cancelled (`second`: killed at once)."""


class PlainReporter(Reporter):
    """One line per finished experiment, for logs, pipes and CI."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.done = 0
        # executor threads finish experiments concurrently: count and print under a lock
        self.lock = threading.Lock()

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        self.total = len(experiment_ids)
        label = f"batch {batch_id}" if batch_id else "staged"  # staged runs reuse old batches
        self._print(f"{label}: {self.total} experiment(s)")

    def experiment_finished(self, result: ExperimentResult) -> None:
        with self.lock:
            self.done += 1
            line = f"[{self.done}/{self.total}] {result.experiment_id} {result.name or ''}"
            line += f" {result.status}"
            if result.duration is not None:
                line += f" in {result.duration:.1f}s"
            if result.error_headline:
                line += f": {result.error_headline}"
            self._print(line)

    def batch_finished(self, results: Sequence[ExperimentResult]) -> None:
        counts: dict[str, int] = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        self._print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))

    def interrupted(self, second: bool) -> None:
        what = "killing running experiments" if second else "cancelling (Ctrl-C again to kill)"
        self._print(f"interrupted: {what}")

    def _print(self, line: str) -> None:
        # one write per line: print() writes the text and the newline separately
        self.stream.write(line.replace("  ", " ").strip() + "\n")
        self.stream.flush()
