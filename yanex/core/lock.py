"""An exclusive lock on a file, held across threads and processes (and hosts, over NFS)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType

# flock() locks belong to an open file description: two threads of one process that
# open the lock file separately exclude each other, which is what we want. The
# thread lock in front keeps contention inside one process cheap.
_thread_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    key = str(path)
    with _registry_lock:
        lock = _thread_locks.get(key)
        if lock is None:
            lock = _thread_locks[key] = threading.Lock()
        return lock


class FileLock:
    """Hold an exclusive `flock` on `path` for the duration of a `with` block.

    Example:
        with FileLock(experiment_dir / ".lock"):
            ...read, modify, write metadata...
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._thread_lock = _thread_lock(path)

    def __enter__(self) -> FileLock:
        self._thread_lock.acquire()
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._thread_lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
        finally:
            self._thread_lock.release()
