"""Where an experiment's stdout and stderr go: its artifact files, and maybe the terminal.

- `CAPTURE`: the child writes straight into `stdout.txt`/`stderr.txt` (no threads, no copies).
- `STREAM`: pipes are pumped into the files and, unchanged, to our own stdout/stderr.
- `PREFIX`: like STREAM, each terminal line prefixed with the experiment's name, so the
  output of parallel members stays readable (`-s/--capture=no`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from yanex.core.store import STDERR_FILE, STDOUT_FILE

Echo = Callable[[str, bytes], None]


class OutputMode(str, Enum):
    CAPTURE = "capture"
    STREAM = "stream"
    PREFIX = "prefix"


def terminal_echo(stream: str, data: bytes) -> None:
    """Write bytes to our own stdout or stderr, as they came."""
    target = sys.stdout if stream == "stdout" else sys.stderr
    buffer = getattr(target, "buffer", None)
    if buffer is not None:
        buffer.write(data)
    else:  # replaced by a text-only stream (rich's live display, pytest capture)
        target.write(data.decode("utf-8", errors="replace"))
    target.flush()


def prefixed(echo: Echo, prefix: str) -> Echo:
    """Wrap `echo` so every complete line starts with `prefix`."""
    pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
    label = prefix.encode()

    def write(stream: str, data: bytes) -> None:
        text = pending[stream] + data
        *lines, pending[stream] = text.split(b"\n")
        if data == b"" and pending[stream]:  # end of stream: flush the unterminated line
            lines.append(pending[stream])
            pending[stream] = b""
        if lines:
            echo(stream, b"".join(label + line + b"\n" for line in lines))

    return write


class OutputFiles:
    """Opens the experiment's output files and wires a child process to them.

    Example:
        with OutputFiles(artifacts_dir, OutputMode.STREAM, terminal_echo) as output:
            process = subprocess.Popen(command, **output.popen_kwargs())
            output.start_pumps(process)
            process.wait()
    """

    def __init__(self, directory: Path, mode: OutputMode, echo: Echo | None = None) -> None:
        self.directory = directory
        self.mode = mode if echo is not None else OutputMode.CAPTURE
        self.echo = echo
        self._files: dict[str, IO[bytes]] = {}
        self._pumps: list[threading.Thread] = []

    def __enter__(self) -> OutputFiles:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._files = {
            "stdout": open(self.directory / STDOUT_FILE, "ab"),  # noqa: SIM115 -- closed in __exit__
            "stderr": open(self.directory / STDERR_FILE, "ab"),  # noqa: SIM115
        }
        return self

    def popen_kwargs(self) -> dict[str, Any]:
        if self.mode is OutputMode.CAPTURE:
            return {"stdout": self._files["stdout"], "stderr": self._files["stderr"]}
        return {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}

    def start_pumps(self, process: subprocess.Popen[bytes]) -> None:
        """Copy the child's pipes to the files and the echo (no-op in CAPTURE mode)."""
        if self.mode is OutputMode.CAPTURE:
            return
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            assert pipe is not None
            thread = threading.Thread(
                target=self._pump, args=(name, pipe), name=f"yanex-{name}", daemon=True
            )
            thread.start()
            self._pumps.append(thread)

    def _pump(self, name: str, pipe: IO[bytes]) -> None:
        target = self._files[name]
        fd = pipe.fileno()
        assert self.echo is not None
        while chunk := os.read(fd, 65536):
            target.write(chunk)
            target.flush()
            self.echo(name, chunk)
        self.echo(name, b"")  # end of stream
        pipe.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for thread in self._pumps:
            thread.join(timeout=5)
        for handle in self._files.values():
            handle.close()


def tail(path: Path, lines: int = 10, max_bytes: int = 4096) -> list[str]:
    """The last non-empty lines of a text file (cheap: reads only the end)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()][-lines:]
