"""yanex.run_multiple: order, parallelism, isolation, validation, interpreters, timeouts.

Every experiment here is a real subprocess running a tiny script; the results are
checked against what the scripts themselves recorded in the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from support import process_gone as gone
from support import wait_until

import yanex
from yanex.core.spec import ExperimentResult, ExperimentSpec
from yanex.core.store import Store
from yanex.errors import ExperimentContextError, UsageError
from yanex.execution.events import Reporter
from yanex.execution.multiple import execute, resolve_parallel, submit
from yanex.execution.runner import RunOptions

WORKER = """\
import os, sys, time
import yanex

p = yanex.get_params()
time.sleep(p.get("sleep", 0))
print(p.get("say", "hello from %s" % p.get("i")))
yanex.log_metrics({
    "i": p.get("i"),
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "extra": os.environ.get("EXTRA_VAR"),
    "experiment_id": os.environ.get("YANEX_EXPERIMENT_ID"),
})
if p.get("raise"):
    raise RuntimeError(p["raise"])
sys.exit(p.get("exit", 0))
"""


@pytest.fixture
def worker(tmp_path: Path) -> Path:
    path = tmp_path / "worker.py"
    path.write_text(WORKER)
    return path


def spec(script: Path, **config: Any) -> ExperimentSpec:
    return ExperimentSpec(script_path=script, config=config, name=f"w-{config.get('i')}")


def last_metrics(experiment_id: str) -> dict[str, Any]:
    rows = Store().read_metrics(experiment_id)
    assert rows, f"experiment {experiment_id} logged no metrics"
    return rows[-1]


def times(experiment_id: str) -> tuple[datetime, datetime]:
    metadata = Store().read_metadata(experiment_id)
    return (
        datetime.fromisoformat(metadata["started_at"]),
        datetime.fromisoformat(metadata["ended_at"]),
    )


class Recorder(Reporter):
    """Keeps every event, and checks the store the moment the batch starts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.statuses_at_start: list[str] = []
        self.batch_id = ""

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        self.batch_id = batch_id
        store = Store()
        self.statuses_at_start = [store.read_metadata(i)["status"] for i in experiment_ids]

    def experiment_started(self, experiment_id: str, name: str) -> None:
        with self.lock:
            self.started.append(experiment_id)

    def experiment_finished(self, result: ExperimentResult) -> None:
        with self.lock:
            self.finished.append(result.experiment_id)


# --- sequential, parallel, auto -------------------------------------------------------


def test_sequential_runs_one_at_a_time_and_returns_results_in_order(worker: Path) -> None:
    recorder = Recorder()
    specs = [spec(worker, i=i) for i in range(3)]
    results = yanex.run_multiple(specs, reporter=recorder)
    assert [r.status for r in results] == ["completed"] * 3
    assert [r.name for r in results] == ["w-0", "w-1", "w-2"]
    assert [last_metrics(r.experiment_id)["i"] for r in results] == [0, 1, 2]
    assert recorder.started == recorder.finished == [r.experiment_id for r in results]
    spans = [times(r.experiment_id) for r in results]
    for (_, ended), (started, _) in zip(spans, spans[1:], strict=False):
        assert started >= ended
    for result in results:
        assert result.exit_code == 0 and result.failure_reason is None
        assert result.duration is not None and result.duration >= 0
        assert last_metrics(result.experiment_id)["experiment_id"] == result.experiment_id


def test_parallel_overlaps_and_keeps_the_order_of_the_specs(worker: Path) -> None:
    recorder = Recorder()
    specs = [spec(worker, i=0, sleep=0.8), spec(worker, i=1), spec(worker, i=2)]
    results = yanex.run_multiple(specs, parallel=2, reporter=recorder)
    assert [r.status for r in results] == ["completed"] * 3
    assert [last_metrics(r.experiment_id)["i"] for r in results] == [0, 1, 2]
    # the slow first member did not finish first: results follow the specs, not the finish order
    assert recorder.finished[0] != results[0].experiment_id
    slow_start, slow_end = times(results[0].experiment_id)
    fast_start, _ = times(results[1].experiment_id)
    assert fast_start < slow_end


def test_parallel_zero_uses_one_worker_per_cpu(worker: Path) -> None:
    assert resolve_parallel(0) == (os.cpu_count() or 1)
    assert resolve_parallel(None) == 1 and resolve_parallel(3) == 3
    specs = [spec(worker, i=i, sleep=0.5) for i in range(2)]
    results = yanex.run_multiple(specs, parallel=0)
    assert [r.status for r in results] == ["completed"] * 2
    if (os.cpu_count() or 1) >= 2:
        first, second = (times(r.experiment_id) for r in results)
        assert second[0] < first[1]


@pytest.mark.parametrize("parallel", [-1, 1.5, "2", True])
def test_bad_parallel_values_are_refused(worker: Path, parallel: Any) -> None:
    with pytest.raises(UsageError, match="parallel must be"):
        yanex.run_multiple([spec(worker, i=0)], parallel=parallel)
    assert Store().ids() == []


def test_more_workers_than_specs_is_fine(worker: Path) -> None:
    results = yanex.run_multiple([spec(worker, i=0)], parallel=8)
    assert [r.status for r in results] == ["completed"]


# --- failures stay isolated -------------------------------------------------------------


def test_one_failure_never_aborts_the_batch(worker: Path) -> None:
    specs = [
        spec(worker, i=0),
        spec(worker, i=1, exit=3),
        spec(worker, i=2, **{"raise": "boom in member 2"}),
        spec(worker, i=3),
    ]
    results = yanex.run_multiple(specs, parallel=2)
    assert [r.status for r in results] == ["completed", "failed", "failed", "completed"]
    exited, raised = results[1], results[2]
    assert exited.failure_reason == "exit_code" and exited.exit_code == 3
    assert exited.error_message == "script exited with code 3"
    assert raised.failure_reason == "exit_code" and raised.exit_code == 1
    assert "RuntimeError: boom in member 2" in (raised.error_message or "")
    stored = Store().read_metadata(raised.experiment_id)
    assert stored["status"] == "failed" and stored["error_message"] == raised.error_message


def test_a_member_killed_by_a_signal_is_told_from_a_crash(tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)])
    assert result.status == "failed" and result.failure_reason == "signal"
    assert result.exit_code == -9 and "SIGKILL" in (result.error_message or "")


def test_a_script_deleted_after_submission_fails_with_a_clear_message(worker: Path) -> None:
    batch, store = submit([spec(worker, i=0)])
    worker.unlink()
    (result,) = execute(batch, store)
    assert result.status == "failed" and result.failure_reason == "error"
    assert "does not exist" in (result.error_message or "")


# --- validation and context ----------------------------------------------------------------


def test_empty_list_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="experiments list cannot be empty"):
        yanex.run_multiple([])


def test_invalid_spec_names_its_index_and_creates_nothing(worker: Path, tmp_path: Path) -> None:
    specs = [spec(worker, i=0), ExperimentSpec(script_path=tmp_path / "missing.py")]
    with pytest.raises(ValueError, match="Invalid ExperimentSpec at index 1: script not found"):
        yanex.run_multiple(specs)
    store = Store()
    assert store.ids() == [] and store.batch_ids() == []


def test_something_else_than_a_spec_names_its_index(worker: Path) -> None:
    with pytest.raises(ValueError, match="index 2: got dict"):
        yanex.run_multiple([spec(worker, i=0), spec(worker, i=1), {"script_path": worker}])  # type: ignore[list-item]


def test_function_spec_is_an_invalid_spec_naming_its_index(worker: Path) -> None:
    with pytest.raises(ValueError, match="index 1") as caught:
        yanex.run_multiple([spec(worker, i=0), ExperimentSpec(function=print)])
    assert "script_path" in str(caught.value) and "module" in str(caught.value)
    assert Store().ids() == []


@pytest.mark.parametrize("variable", ["YANEX_EXPERIMENT_ID", "YANEX_CLI_ACTIVE"])
def test_refused_inside_a_yanex_run_experiment(
    worker: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "abcd1234" if variable == "YANEX_EXPERIMENT_ID" else "1")
    with pytest.raises(ExperimentContextError, match="python script.py"):
        yanex.run_multiple([spec(worker, i=0)])
    assert Store().ids() == []


def test_a_tracked_script_cannot_start_experiments_itself(tmp_path: Path) -> None:
    script = tmp_path / "nested.py"
    script.write_text(
        "from pathlib import Path\nimport yanex\n"
        "try:\n"
        "    yanex.run_multiple([yanex.ExperimentSpec(script_path=Path(__file__))])\n"
        "except Exception as error:\n"
        "    yanex.log_metrics({'error': type(error).__name__, 'message': str(error)})\n"
    )
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script)])
    assert result.status == "completed"
    assert last_metrics(result.experiment_id)["error"] == "ExperimentContextError"
    assert len(Store().ids()) == 1


ORCHESTRATOR = """\
import json, os, sys
from pathlib import Path
import yanex

specs = [yanex.ExperimentSpec(script_path=Path(sys.argv[1]), config={"i": i, "sleep": 30})
         for i in range(4)]
try:
    yanex.run_multiple(specs, parallel=2, verbose=True)
except KeyboardInterrupt as interrupted:
    print(json.dumps([r.to_dict() for r in interrupted.results]))
"""


def test_ctrl_c_in_an_orchestrator_cancels_the_batch_and_hands_back_results(
    worker: Path, tmp_path: Path
) -> None:
    script = tmp_path / "orchestrate.py"
    script.write_text(ORCHESTRATOR)
    process = subprocess.Popen(
        [sys.executable, str(script), str(worker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store()
    wait_until(lambda: sum(m["status"] == "running" for m in store.iter_metadata()) == 2)
    process.send_signal(signal.SIGINT)
    output, errors = process.communicate(timeout=30)
    assert output, errors
    results = [ExperimentResult.from_dict(r) for r in json.loads(output)]
    assert [r.status for r in results] == ["cancelled"] * 4
    assert all(r.failure_reason == "cancelled" for r in results)
    assert [m["status"] for m in store.iter_metadata()] == ["cancelled"] * 4
    assert store.running_ids() == []


# --- records, batches, reporting ---------------------------------------------------------


def test_records_and_batch_exist_before_anything_runs(worker: Path) -> None:
    recorder = Recorder()
    results = yanex.run_multiple([spec(worker, i=i) for i in range(3)], reporter=recorder)
    assert recorder.statuses_at_start == ["queued"] * 3
    store = Store()
    assert store.batch_ids() == [recorder.batch_id]
    manifest = store.read_batch(recorder.batch_id)
    assert manifest["experiments"] == [r.experiment_id for r in results]
    assert manifest["size"] == 3
    for result in results:
        metadata = store.read_metadata(result.experiment_id)
        assert metadata["batch"] == recorder.batch_id
        assert metadata["execution"]["backend"] == "local"
        assert metadata["cwd"] == os.getcwd()


def test_every_call_creates_its_own_batch(worker: Path) -> None:
    first = yanex.run_multiple([spec(worker, i=0)])
    second = yanex.run_multiple([spec(worker, i=1)])
    store = Store()
    batches = {store.read_metadata(r.experiment_id)["batch"] for r in first + second}
    assert len(batches) == 2 and set(store.batch_ids()) == batches


def test_spec_fields_are_recorded(worker: Path) -> None:
    one = ExperimentSpec(
        script_path=worker,
        config={"i": 7, "model": {"layers": 2}},
        name="described",
        tags=["grid", "a"],
        description="what it is",
        timeout=60,
    )
    (result,) = yanex.run_multiple([one])
    store = Store()
    metadata = store.read_metadata(result.experiment_id)
    assert metadata["name"] == "described" and metadata["tags"] == ["grid", "a"]
    assert metadata["description"] == "what it is" and metadata["timeout"] == 60
    assert metadata["script_path"] == str(worker) and metadata["python"] == sys.executable
    assert store.read_config(result.experiment_id) == {"i": 7, "model": {"layers": 2}}


def test_verbose_prints_one_line_per_experiment(
    worker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = yanex.run_multiple([spec(worker, i=0), spec(worker, i=1, exit=2)], verbose=True)
    err = capsys.readouterr().err
    for result in results:
        assert sum(result.experiment_id in line for line in err.splitlines()) == 1
    assert "failed" in err and "script exited with code 2" in err


def test_quiet_by_default_and_output_goes_to_the_artifacts(
    worker: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (result,) = yanex.run_multiple([spec(worker, i=0, say="only in the file")])
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    stdout = Store().artifacts_dir(result.experiment_id) / "stdout.txt"
    assert stdout.read_text() == "only in the file\n"


# --- how the script is run: args, module, env, cwd, interpreter -----------------------------


def test_script_args_pass_through_unchanged(worker: Path) -> None:
    args = ["--data-exp", "abc123", "two words", "--", "-x", ""]
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=worker, script_args=args)])
    assert result.status == "completed"
    assert last_metrics(result.experiment_id)["argv"] == args
    assert Store().read_metadata(result.experiment_id)["script_args"] == args


def test_env_and_cwd_reach_the_script(worker: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    one = ExperimentSpec(script_path=worker, cwd=workdir, env={"EXTRA_VAR": "from the spec"})
    (result,) = yanex.run_multiple([one])
    metrics = last_metrics(result.experiment_id)
    assert metrics["cwd"] == str(workdir) and metrics["extra"] == "from the spec"


def test_module_entrypoint_runs_as_python_dash_m(tmp_path: Path) -> None:
    package = tmp_path / "tools" / "prep"
    package.mkdir(parents=True)
    (tmp_path / "tools" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(
        "import sys\nimport yanex\n"
        "yanex.log_metrics({'name': __name__, 'package': __package__, 'argv': sys.argv[1:],"
        " 'size': yanex.get_param('size')})\n"
    )
    one = ExperimentSpec(
        module="tools.prep.main", script_args=["--fast"], cwd=tmp_path, config={"size": 3}
    )
    (result,) = yanex.run_multiple([one])
    assert result.status == "completed", result.error_message
    metrics = last_metrics(result.experiment_id)
    assert metrics["name"] == "__main__" and metrics["package"] == "tools.prep"
    assert metrics["argv"] == ["--fast"] and metrics["size"] == 3
    metadata = Store().read_metadata(result.experiment_id)
    assert metadata["module"] == "tools.prep.main" and metadata["script_path"] is None


def test_a_missing_module_fails_like_python_does(tmp_path: Path) -> None:
    (result,) = yanex.run_multiple([ExperimentSpec(module="no_such_module_here", cwd=tmp_path)])
    assert result.status == "failed" and result.exit_code == 1
    assert "No module named no_such_module_here" in (result.error_message or "")


def make_venv(where: Path, *, system_site_packages: bool) -> Path:
    command = [sys.executable, "-m", "venv", "--without-pip", str(where)]
    if system_site_packages:
        command.insert(4, "--system-site-packages")
    subprocess.run(command, check=True, capture_output=True)
    return where / "bin" / "python"


def test_a_different_interpreter_with_yanex_available(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv", system_site_packages=True)
    script = tmp_path / "where.py"
    script.write_text("import sys\nimport yanex\nyanex.log_metrics({'prefix': sys.prefix})\n")
    (result,) = yanex.run_multiple([ExperimentSpec(script_path=script, python=str(python))])
    assert result.status == "completed", result.error_message
    assert last_metrics(result.experiment_id)["prefix"] == str(tmp_path / "venv")
    assert Store().read_metadata(result.experiment_id)["python"] == str(python)


def test_a_bare_interpreter_still_runs_the_script_and_records_its_status(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "bare", system_site_packages=False)
    proof = tmp_path / "proof.txt"
    script = tmp_path / "plain.py"
    script.write_text(
        "import os, sys\n"
        "try:\n    import yanex\nexcept ImportError:\n    yanex = None\n"
        "identity = [sys.prefix, str(yanex is None), os.environ['YANEX_EXPERIMENT_ID']]\n"
        "with open(os.environ['PROOF'], 'w') as f:\n"
        "    f.write(' '.join(identity))\n"
    )
    crash = tmp_path / "crash.py"
    crash.write_text("raise SystemExit(5)\n")
    relative = os.path.relpath(python, tmp_path)
    env = {"PROOF": str(proof)}
    specs = [
        ExperimentSpec(script_path=script, python=relative, cwd=tmp_path, env=env),
        ExperimentSpec(script_path=crash, python=relative, cwd=tmp_path),
    ]
    first, second = yanex.run_multiple(specs)
    assert first.status == "completed", first.error_message
    assert proof.read_text() == f"{tmp_path / 'bare'} True {first.experiment_id}"
    assert second.status == "failed" and second.exit_code == 5
    assert Store().read_metadata(first.experiment_id)["python"] == str(python)


# --- timeouts --------------------------------------------------------------------------------

SLEEPER = """\
import os, signal, subprocess, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(sys.argv[1], "w") as f:
    f.write(str(child.pid))
time.sleep(60)
"""


def test_timeout_kills_the_process_group_and_records_timeout(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text(SLEEPER)
    grandchildren = [tmp_path / "gc0", tmp_path / "gc1"]
    specs = [
        ExperimentSpec(script_path=script, script_args=[str(grandchildren[0])], timeout=0.5),
        ExperimentSpec(
            script_path=script, script_args=[str(grandchildren[1]), "--ignore-term"], timeout=0.5
        ),
    ]
    started = time.monotonic()
    results = yanex.run_multiple(specs, parallel=2, options=RunOptions(terminate_grace=0.4))
    assert time.monotonic() - started < 10
    store = Store()
    for result, pid_file in zip(results, grandchildren, strict=True):
        assert result.status == "failed" and result.failure_reason == "timeout"
        assert result.error_message == "timed out after 0.5 s"
        execution = store.read_metadata(result.experiment_id)["execution"]
        assert gone(execution["child_pid"])
        grandchild = int(pid_file.read_text())
        wait_until(lambda: gone(grandchild))  # noqa: B023 -- called before the loop moves on
    assert store.running_ids() == []


def test_a_run_that_finishes_in_time_is_not_touched_by_its_timeout(worker: Path) -> None:
    one = ExperimentSpec(script_path=worker, config={"i": 0}, timeout=30)
    (result,) = yanex.run_multiple([one])
    assert result.status == "completed" and result.failure_reason is None


# --- a broken display or a vanished record never hangs or strands a batch ------------------------


class BrokenDisplay(Reporter):
    def __init__(self, broken: str) -> None:
        self.broken = broken

    def batch_started(
        self, batch_id: str, experiment_ids: Sequence[str], names: Sequence[str]
    ) -> None:
        if self.broken == "batch_started":
            raise RuntimeError("display broke at the start")

    def experiment_finished(self, result: ExperimentResult) -> None:
        if self.broken == "experiment_finished":
            raise RuntimeError("display broke")


def test_a_reporter_failing_per_experiment_still_runs_the_whole_batch(worker: Path) -> None:
    specs = [spec(worker, i=i) for i in range(3)]
    with pytest.raises(RuntimeError, match="display broke"):
        yanex.run_multiple(specs, reporter=BrokenDisplay("experiment_finished"))
    stored = list(Store().iter_metadata())
    assert sorted(m["status"] for m in stored) == ["completed"] * 3


def test_a_reporter_failing_at_the_start_leaves_nothing_queued(worker: Path) -> None:
    with pytest.raises(RuntimeError, match="at the start"):
        yanex.run_multiple([spec(worker, i=0)], reporter=BrokenDisplay("batch_started"))
    (metadata,) = Store().iter_metadata()
    assert metadata["status"] == "cancelled" and metadata["failure_reason"] == "cancelled"


def test_a_record_deleted_while_queued_fails_alone(worker: Path) -> None:
    batch, store = submit([spec(worker, i=0), spec(worker, i=1)])
    store.delete(batch.experiment_ids[0])
    deleted, kept = execute(batch, store)
    assert deleted.status == "failed" and "not found" in (deleted.error_message or "")
    assert kept.status == "completed"
