"""The machine an experiment runs on: Python, operating system, host, user, directory.

Everything here is read from the interpreter and the kernel; nothing starts a
subprocess, because it runs on the path of every `yanex run`.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
from typing import Any


def capture_environment() -> dict[str, Any]:
    """The environment of the current process, as stored in an experiment's metadata.

    Example:
        {"python": {"version": "3.11.7", "implementation": "CPython", "executable": "..."},
         "platform": {"system": "Linux", "release": "6.1.0", "machine": "x86_64",
                      "platform": "Linux-6.1.0-x86_64-with-glibc2.36"},
         "hostname": "gpu-box-3", "working_directory": "/home/ada/project", "user": "ada"}
    """
    uname = platform.uname()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {
            "system": uname.system,
            "release": uname.release,
            "machine": uname.machine,
            "platform": platform_name(),
        },
        "hostname": hostname(),
        "working_directory": _working_directory(),
        "user": _user(),
    }


@functools.lru_cache(maxsize=1)
def hostname() -> str:
    """The name of this machine (cached: it does not change while a process lives)."""
    if hasattr(os, "uname"):  # what socket.gethostname() returns, without importing socket
        return os.uname().nodename
    import socket

    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def platform_name() -> str:
    """The string `platform.platform()` gives, without the `uname -p` subprocess on Linux.

    On Linux `platform.platform()` runs `uname -p` (about 10 ms) only to learn a
    processor name it then drops when it equals the machine name or is unknown, as it
    almost always is. Elsewhere the standard function is used as it is.
    """
    if not sys.platform.startswith("linux"):
        return platform.platform()
    uname = platform.uname()
    libc, libc_version = platform.libc_ver()  # os.confstr on glibc: no file scan
    parts = [uname.system, uname.release, uname.machine]
    if libc:
        parts += ["with", f"{libc}{libc_version}"]
    return "-".join(p.strip().replace(" ", "_") for p in parts if p)


def _working_directory() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under us
        return None


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser() or None
    except (KeyError, OSError, ImportError):  # a uid with no passwd entry (containers)
        return None
