"""Every status is true: a run whose `yanex run` died is found and marked failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support import process_running as running
from support import wait_until

from yanex.core import liveness, timestamps
from yanex.core.liveness import reap_lost, supervisor_alive
from yanex.core.status import Status
from yanex.core.store import Store
from yanex.execution.runner import Runner, RunOptions

LONG_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print("ready", os.getpid(), helper.pid, flush=True)
    time.sleep(60)
    """
)


class LostRun:
    """A `yanex run` that was SIGKILLed while its script ran."""

    def __init__(self, experiment_id: str, child: int, helper: int) -> None:
        self.experiment_id = experiment_id
        self.child = child
        self.helper = helper


@pytest.fixture
def lost_run(tmp_path: Path) -> Iterator[LostRun]:
    (tmp_path / "long.py").write_text(LONG_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, "-m", "yanex", "run", "long.py", "--name", "doomed"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("ready"), line
    child, helper = (int(x) for x in line.split()[1:])
    process.kill()
    process.wait()
    process.stdout.close()
    store = Store()
    [experiment_id] = store.ids()
    yield LostRun(experiment_id, child, helper)
    for pid in (child, helper):  # never leave a sleeper behind, whatever the test did
        if running(pid):
            os.kill(pid, signal.SIGKILL)


# -- the kill of yanex run itself ------------------------------------------------------------


def test_sigkill_of_yanex_run_kills_the_script_and_the_run_is_reaped(lost_run: LostRun) -> None:
    store = Store()
    # The script dies with its supervisor (parent-death signal)...
    assert wait_until(lambda: not running(lost_run.child)), "the script outlived yanex run"
    # ...but nobody recorded that yet: the record still says running.
    metadata = store.read_metadata(lost_run.experiment_id)
    assert metadata["status"] == "running"
    execution = metadata["execution"]
    assert execution["host"] == liveness.this_host()
    assert isinstance(execution["pid"], int) and isinstance(execution["pid_start"], int)
    assert execution["child_pid"] == lost_run.child
    assert timestamps.parse(execution["heartbeat"]) is not None

    started = time.monotonic()
    assert reap_lost(store) == [lost_run.experiment_id]
    assert time.monotonic() - started < 3
    metadata = store.read_metadata(lost_run.experiment_id)
    assert metadata["status"] == "failed"
    assert metadata["failure_reason"] == "runner_lost"
    assert f"pid {execution['pid']}" in metadata["error_message"]
    assert timestamps.parse(metadata["ended_at"]) is not None
    assert store.running_ids() == []
    assert reap_lost(store) == []  # once is enough


def test_the_reaper_stops_what_the_lost_script_left_running(lost_run: LostRun) -> None:
    assert wait_until(lambda: not running(lost_run.child))
    assert running(lost_run.helper)  # the script's own subprocess survived the kill
    reap_lost(Store())
    assert wait_until(lambda: not running(lost_run.helper)), "the orphaned helper still runs"


def test_the_next_yanex_run_marks_the_lost_run_failed(lost_run: LostRun, tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("print('fine')\n")
    result = subprocess.run(
        [sys.executable, "-m", "yanex", "run", "ok.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    metadata = Store().read_metadata(lost_run.experiment_id)
    assert metadata["status"] == "failed" and metadata["failure_reason"] == "runner_lost"


def test_yanex_list_shows_the_lost_run_failed(lost_run: LostRun, tmp_path: Path) -> None:
    deadline = time.monotonic() + 5
    result = subprocess.run(
        [sys.executable, "-m", "yanex", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() < deadline
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "doomed" in line)
    assert "failed" in row
    assert Store().read_metadata(lost_run.experiment_id)["status"] == "failed"


def test_yanex_show_shows_the_lost_run_failed(lost_run: LostRun, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "yanex", "show", lost_run.experiment_id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "failed" in result.stdout
    metadata = Store().read_metadata(lost_run.experiment_id)
    assert metadata["status"] == "failed" and metadata["failure_reason"] == "runner_lost"


# -- judging a supervisor ----------------------------------------------------------------------


def dead_pid() -> tuple[int, int | None]:
    """The pid and start time of a process that has exited and been collected."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    start = liveness.process_start_time(process.pid)
    process.wait()
    return process.pid, start


def test_a_live_supervisor_on_this_host() -> None:
    me = os.getpid()
    execution = {"host": liveness.this_host(), "pid": me}
    assert supervisor_alive(execution)
    execution["pid_start"] = liveness.process_start_time(me)  # type: ignore[assignment]
    assert supervisor_alive(execution)


def test_a_dead_supervisor_on_this_host() -> None:
    pid, start = dead_pid()
    assert not supervisor_alive({"host": liveness.this_host(), "pid": pid, "pid_start": start})


def test_a_reused_pid_is_not_the_supervisor() -> None:
    me = os.getpid()
    start = liveness.process_start_time(me)
    assert start is not None
    execution = {"host": liveness.this_host(), "pid": me, "pid_start": start - 1}
    assert not supervisor_alive(execution)


def test_an_uncollected_dead_supervisor_is_dead() -> None:
    """A killed `yanex run` whose parent has not waited for it yet (a zombie) is gone."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = liveness.process_start_time(process.pid)
        execution = {"host": liveness.this_host(), "pid": process.pid, "pid_start": start}
        assert supervisor_alive(execution)
        os.kill(process.pid, signal.SIGKILL)
        assert wait_until(lambda: not running(process.pid))  # a zombie: not collected yet
        assert not supervisor_alive(execution)
    finally:
        process.kill()
        process.wait()


def _ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).isoformat()


def test_another_host_is_judged_by_its_heartbeat() -> None:
    remote = {"host": "some-other-box", "pid": 1}
    assert supervisor_alive({**remote, "heartbeat": _ago(5)})
    assert not supervisor_alive({**remote, "heartbeat": _ago(liveness.LOST_AFTER + 5)})
    # A slow heartbeat interval stretches the patience.
    assert supervisor_alive({**remote, "heartbeat": _ago(100), "heartbeat_interval": 30})
    # Nothing to judge by: not declared lost.
    assert supervisor_alive(remote)


# -- what reap_lost touches ------------------------------------------------------------------


def test_reap_lost_leaves_live_and_ended_runs_alone(experiments_dir: Path) -> None:
    store = Store()
    alive = store.create({}, {})
    me = os.getpid()
    execution = {
        "host": liveness.this_host(),
        "pid": me,
        "pid_start": liveness.process_start_time(me),
    }
    store.transition(alive, Status.RUNNING, execution=execution)
    ended = store.create({}, {})
    store.transition(ended, Status.RUNNING, execution=execution)
    store.transition(ended, Status.COMPLETED)
    (experiments_dir / ".running" / ended).touch()  # a stale marker
    (experiments_dir / ".running" / "0badc0de").touch()  # a marker of a deleted record
    assert reap_lost(store) == []
    assert store.read_metadata(alive)["status"] == "running"
    assert store.read_metadata(ended)["status"] == "completed"
    assert store.running_ids() == [alive]  # stale markers are cleaned up


def test_a_lost_queue_worker_is_reported_as_such(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    pid, start = dead_pid()
    execution = {
        "host": liveness.this_host(),
        "pid": pid,
        "pid_start": start,
        "worker": "gpu-box-1.1234",
        "attempt": 1,
    }
    store.transition(experiment_id, Status.RUNNING, execution=execution)
    assert reap_lost(store) == [experiment_id]
    metadata = store.read_metadata(experiment_id)
    assert metadata["failure_reason"] == "worker_lost"
    assert "gpu-box-1.1234" in metadata["error_message"]


def test_a_finished_run_is_never_reaped_afterwards(experiments_dir: Path) -> None:
    """The first terminal writer wins: a late reaper cannot turn completed into failed."""
    store = Store()
    experiment_id = store.create({}, {})
    pid, start = dead_pid()
    execution = {"host": liveness.this_host(), "pid": pid, "pid_start": start, "attempt": 1}
    store.transition(experiment_id, Status.RUNNING, execution=execution)
    store.transition(experiment_id, Status.COMPLETED)
    assert liveness.mark_lost(store, experiment_id, execution) is False
    assert store.read_metadata(experiment_id)["status"] == "completed"


# -- the heartbeat ---------------------------------------------------------------------------


def test_the_runner_keeps_a_heartbeat(tmp_path: Path, experiments_dir: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text("import time; time.sleep(0.6)\n")
    store = Store()
    experiment_id = store.create(
        {"script_path": str(script), "cwd": str(tmp_path), "status": "queued"}, {}
    )
    runner = Runner(store, RunOptions(heartbeat_interval=0.1))
    worker = threading.Thread(target=runner.run, args=(experiment_id,))
    worker.start()
    beats = set()
    while worker.is_alive():
        execution = store.read_metadata(experiment_id).get("execution") or {}
        if execution.get("heartbeat"):
            beats.add(execution["heartbeat"])
        time.sleep(0.03)
    worker.join()
    assert len(beats) >= 3
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "completed"
    assert metadata["execution"]["heartbeat_interval"] == 0.1
