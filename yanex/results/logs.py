"""An experiment's captured output (`artifacts/stdout.txt`, `stderr.txt`): read, tail, follow."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from yanex.core.status import Status
from yanex.core.store import STDERR_FILE, STDOUT_FILE
from yanex.errors import UsageError
from yanex.results.experiment import Experiment

STREAMS = {"stdout": STDOUT_FILE, "stderr": STDERR_FILE}
_CHUNK = 64 * 1024


def output_path(experiment: Experiment, stream: str) -> Path:
    """The file holding `stream` ("stdout" or "stderr")."""
    if stream not in STREAMS:
        raise UsageError(f"unknown output stream {stream!r}; use stdout or stderr")
    return experiment.artifacts_dir / STREAMS[stream]


def read_output(experiment: Experiment, stream: str = "stdout", tail: int | None = None) -> str:
    """The captured text ("" when there is none), or only its last `tail` lines."""
    path = output_path(experiment, stream)
    try:
        data = path.read_bytes() if tail is None else _tail_bytes(path, tail)
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", "replace")


def follow_output(
    experiment: Experiment,
    stream: str = "stdout",
    *,
    tail: int | None = None,
    poll_interval: float = 0.5,
) -> Iterator[str]:
    """Yield the output, then whatever is appended, until the run has ended.

    Starts with everything (or the last `tail` lines); stops once the experiment is no
    longer queued or running and the file holds nothing new.
    """
    path = output_path(experiment, stream)
    offset = _size(path)
    try:
        first = _tail_bytes(path, tail, offset) if tail is not None else _read(path, 0, offset)
    except FileNotFoundError:
        first = b""
    if first:
        yield first.decode("utf-8", "replace")
    while True:
        active = _still_active(experiment)
        chunk = _read(path, offset, _CHUNK)
        if chunk:
            offset += len(chunk)
            yield chunk.decode("utf-8", "replace")
            continue
        if not active:
            return
        time.sleep(poll_interval)


def _still_active(experiment: Experiment) -> bool:
    status = experiment.store.read_metadata(experiment.id).get("status")
    return status in (Status.QUEUED.value, Status.RUNNING.value)


def _tail_bytes(path: Path, lines: int, end: int | None = None) -> bytes:
    """The last `lines` lines of a file (up to byte `end`), read backwards in chunks."""
    if lines <= 0:
        return b""
    with open(path, "rb") as handle:
        end = handle.seek(0, 2) if end is None else end
        position, data = end, b""
        while position > 0 and data.count(b"\n") <= lines:
            position = max(0, position - _CHUNK)
            handle.seek(position)
            data = handle.read(min(_CHUNK, end - position)) + data
            end = position
    kept = data.splitlines(keepends=True)[-lines:]
    return b"".join(kept)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read(size)
    except FileNotFoundError:
        return b""
