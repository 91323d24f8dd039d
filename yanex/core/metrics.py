"""The metrics log: one JSON line per `log_metrics` call, merged by step when read.

Appending is O(1): the writer keeps the file open, holds an `flock` only for the
append, and learns about lines other processes appended by reading just the bytes it
has not seen. Each line goes out in one `write`, and readers ignore a final line that
has no newline yet, so a reader never sees a torn record.

Same-step lines merge on read: later keys overwrite earlier ones, the first
`timestamp` is kept and `last_updated` records the latest one (as the original yanex
documents for its `metrics.json`).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from yanex.core import timestamps
from yanex.core.jsonfile import jsonable, restore_floats

STEP = "step"
TIMESTAMP = "timestamp"
LAST_UPDATED = "last_updated"
_RESERVED = (STEP, TIMESTAMP, LAST_UPDATED)
ROW_KEYS = frozenset(_RESERVED)  # in every merged row; not metrics
AGGREGATES = ("last", "first", "min", "max", "mean")


class MetricsLog:
    """Appends metric rows to one experiment's `metrics.jsonl`.

    Example:
        log = MetricsLog(experiment_dir / "metrics.jsonl")
        log.append({"loss": 0.3})            # step 0
        log.append({"acc": 0.9}, step=0)     # merges into step 0
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        self._seen = 0  # bytes of the file already folded into _next_step
        self._next_step = 0
        self._partial = b""

    def append(self, data: Mapping[str, Any], step: int | None = None) -> int:
        """Append one row; return the step it was recorded under."""
        row = _encode(data)
        if step is None and isinstance(data.get(STEP), int):
            step = data[STEP]
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise TypeError(f"step must be a non-negative integer, got {step!r}")
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                prefix = self._catch_up(fd)
                if step is None:
                    step = self._next_step
                line = {STEP: step, TIMESTAMP: timestamps.now(), **row}
                payload = prefix + (json.dumps(line, allow_nan=False) + "\n").encode()
                os.write(fd, payload)
                self._seen += len(payload)
                self._next_step = max(self._next_step, step + 1)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return step

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def _open(self) -> int:
        # A forked child must not share the parent's file description (and its flock).
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
            self._seen = 0
            self._next_step = 0
            self._partial = b""
        return self._fd

    def _catch_up(self, fd: int) -> bytes:
        """Fold lines appended by others into `_next_step`; return a repair prefix."""
        size = os.fstat(fd).st_size
        if size > self._seen:
            chunk = self._partial + os.pread(fd, size - self._seen, self._seen)
            self._seen = size
            *complete, self._partial = chunk.split(b"\n")
            for step in _steps(complete):
                self._next_step = max(self._next_step, step + 1)
        if self._partial:
            # We hold the lock, so nobody is mid-write: this is a writer that died
            # halfway through a line. End it so our own line stays parseable.
            self._partial = b""
            return b"\n"
        return b""


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read `metrics.jsonl` and return one merged row per step, ordered by step."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    complete = data[: data.rfind(b"\n") + 1]  # a last line without newline is mid-write
    try:
        rows = json.loads(b"[" + complete.rstrip(b"\n").replace(b"\n", b",") + b"]")
    except ValueError:  # a line damaged by a killed writer: parse line by line
        rows = list(_rows(complete.split(b"\n")))
    return merge_rows(r for r in rows if isinstance(r, dict))


def aggregate(values: list[Any], agg: str) -> Any:
    """Reduce logged values: last/first take any value, min/max/mean only numbers (no NaN)."""
    if agg == "last":
        return values[-1] if values else None
    if agg == "first":
        return values[0] if values else None
    numbers = [
        v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
    ]  # v == v leaves NaN out
    if not numbers:
        return None
    if agg == "min":
        return min(numbers)
    if agg == "max":
        return max(numbers)
    return sum(numbers) / len(numbers)


def summarize(path: Path) -> dict[str, Any]:
    """Every aggregate of every metric in `path`, with the file size it was computed at.

    Stored in a finished experiment's metadata so that comparing thousands of runs
    does not read thousands of metrics files; a reader uses it only while the file
    still has that size.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = 0
    history: dict[str, list[Any]] = {}
    for row in read_metrics(path):
        for name, value in row.items():
            if name not in ROW_KEYS:
                history.setdefault(name, []).append(value)
    metrics = {
        name: {"count": len(values), **{agg: aggregate(values, agg) for agg in AGGREGATES}}
        for name, values in history.items()
    }
    return {"bytes": size, "metrics": jsonable(metrics, "metrics_summary")}


def merge_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Merge rows that share a step (later keys win, first timestamp kept)."""
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        step = row.get(STEP)
        if not isinstance(step, int):
            continue
        current = merged.get(step)
        if current is None:
            merged[step] = dict(row)
            continue
        timestamp = current.get(TIMESTAMP)
        current.update(row)
        current[TIMESTAMP] = timestamp
        if row.get(TIMESTAMP) is not None:
            current[LAST_UPDATED] = row[TIMESTAMP]
    ordered = [merged[step] for step in sorted(merged)]
    return [restore_floats(row) for row in ordered] if _has_special(ordered) else ordered


def _has_special(rows: list[dict[str, Any]]) -> bool:
    """Whether any value may be an encoded NaN/infinity (skips the walk when none is)."""
    return any(
        isinstance(v, (str, dict, list))
        for row in rows
        for v in row.values()
        if v is not row.get(TIMESTAMP) and v is not row.get(LAST_UPDATED)
    )


def _rows(lines: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue  # the remains of a writer killed mid-line
        if isinstance(row, dict):
            yield row


def _steps(lines: Iterable[bytes]) -> Iterable[int]:
    for row in _rows(lines):
        step = row.get(STEP)
        if isinstance(step, int):
            yield step


def _encode(data: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise TypeError(f"metrics must be a dict of name -> value, got {type(data).__name__}")
    row: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
        if key == STEP:
            continue  # used as the step when no step= is given
        if key in _RESERVED:
            raise ValueError(f"metric name {key!r} is reserved by yanex; rename it")
        row[key] = jsonable(value, key)
    return row
