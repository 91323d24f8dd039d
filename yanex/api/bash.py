"""Running a shell command as part of an experiment (`yanex.execute_bash_script`)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from yanex.api.context import ExperimentContext, current
from yanex.core import timestamps
from yanex.core.jsonfile import read_json, write_json
from yanex.core.lock import FileLock
from yanex.core.store import SCRIPT_RUNS_FILE

if TYPE_CHECKING:
    from subprocess import Popen


def execute_bash_script(
    command: str,
    timeout: float | None = None,
    raise_on_error: bool = False,
    stream_output: bool = True,
    working_dir: Path | str | None = None,
) -> dict[str, Any]:
    """Run a shell command with the experiment's parameters in its environment.

    Parameters arrive as `YANEX_PARAM_<key>` (nested keys joined with `__`, lists and
    dicts as JSON), the id as `YANEX_EXPERIMENT_ID`. The command runs in the experiment
    directory by default; its output is streamed (unless `stream_output=False`), saved
    as `script_run_<n>_stdout.txt`/`_stderr.txt` artifacts, and the run is logged in
    `script_runs.json`. Standalone, the command still runs, untracked.

    Example:
        result = yanex.execute_bash_script("./benchmark.sh --fast", timeout=300)
        print(result["exit_code"], result["execution_time"])
    """
    import subprocess

    context = current()
    cwd = Path(working_dir) if working_dir else (context.experiment_dir if context else Path.cwd())
    env = dict(os.environ)
    if context is not None:
        env["YANEX_EXPERIMENT_ID"] = context.experiment_id
        env.update(parameter_environment(context.params))
    started, start_time = timestamps.now(), time.monotonic()
    exit_code, stdout, stderr = _run(command, cwd, env, timeout, stream_output)
    result = {
        "exit_code": exit_code,
        "stdout": stdout,
        "stderr": stderr,
        "execution_time": time.monotonic() - start_time,
        "command": command,
        "working_directory": str(cwd),
    }
    if context is not None:
        _record(context, result, started)
    if exit_code is None:
        raise subprocess.TimeoutExpired(command, timeout or 0, stdout, stderr)
    if raise_on_error and exit_code != 0:
        raise subprocess.CalledProcessError(exit_code, command, stdout, stderr)
    return result


def parameter_environment(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten parameters into `YANEX_PARAM_*` variables (nested keys joined by `__`)."""
    env: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}__{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            env.update(parameter_environment(value, name))
        elif isinstance(value, (list, dict)):
            env[f"YANEX_PARAM_{name}"] = json.dumps(value)
        elif isinstance(value, bool) or value is None:
            env[f"YANEX_PARAM_{name}"] = "" if value is None else str(value).lower()
        else:
            env[f"YANEX_PARAM_{name}"] = str(value)
    return env


def _run(
    command: str, cwd: Path, env: dict[str, str], timeout: float | None, stream: bool
) -> tuple[int | None, str, str]:
    import subprocess
    import threading

    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: a timeout kills everything it started
        preexec_fn=_die_with_parent(),
    )
    chunks: dict[str, list[str]] = {"stdout": [], "stderr": []}
    pumps = [
        threading.Thread(target=_pump, args=(pipe, chunks[name], sink if stream else None))
        for name, pipe, sink in (
            ("stdout", process.stdout, sys.stdout),
            ("stderr", process.stderr, sys.stderr),
        )
    ]
    for pump in pumps:
        pump.start()
    try:
        exit_code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        exit_code = None
    except BaseException:
        # Ctrl-C (the Runner's cancel sends SIGINT) or any error: being in its own
        # session, the command would otherwise outlive the experiment.
        _kill_group(process)
        raise
    finally:
        for pump in pumps:
            pump.join()
    return exit_code, "".join(chunks["stdout"]), "".join(chunks["stderr"])


def _kill_group(process: Popen[bytes]) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, make the command die (SIGKILL) if the script running it is killed."""
    import signal

    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_parent_death_signal() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG

    return set_parent_death_signal


def _pump(pipe: IO[bytes] | None, into: list[str], sink: IO[str] | None) -> None:
    assert pipe is not None
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        into.append(line)
        if sink is not None:
            sink.write(line)
            sink.flush()
    pipe.close()


def _record(context: ExperimentContext, result: dict[str, Any], started: str) -> None:
    path = context.experiment_dir / SCRIPT_RUNS_FILE
    with FileLock(context.experiment_dir / ".script_runs.lock"):
        runs = read_json(path) if path.exists() else []
        number = len(runs) + 1
        runs.append(
            {
                "command": result["command"],
                "exit_code": result["exit_code"],
                "execution_time": result["execution_time"],
                "stdout_lines": result["stdout"].count("\n"),
                "stderr_lines": result["stderr"].count("\n"),
                "working_directory": result["working_directory"],
                "timestamp": started,
            }
        )
        write_json(path, runs)
    for stream in ("stdout", "stderr"):
        if result[stream]:
            context.save_artifact(result[stream], f"script_run_{number}_{stream}.txt")
