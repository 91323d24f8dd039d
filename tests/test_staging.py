"""Staging: `yanex run --stage` creates experiments now, `yanex run --staged` runs them later."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from yanex.cli.main import cli
from yanex.core.spec import ExperimentSpec
from yanex.core.store import Store
from yanex.execution.multiple import execute, resolve_staged, stage_experiments, staged_ids

MEMBER = """\
import os, sys, time
import yanex

time.sleep(yanex.get_param("sleep", 0))
yanex.log_metrics({"x": yanex.get_param("x"), "cwd": os.getcwd()})
sys.exit(3 if yanex.get_param("x") == yanex.get_param("fail_on", None) else 0)
"""


@pytest.fixture
def member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "member.py"
    path.write_text(MEMBER)
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def by_status(status: str) -> list[dict[str, Any]]:
    found = [m for m in Store().iter_metadata() if m["status"] == status]
    return sorted(found, key=lambda m: str(m["name"]))


def stage(*args: str) -> str:
    """Stage a sweep through the CLI; return its batch id."""
    result = invoke(*args, "--stage")
    assert result.exit_code == 0, result.output
    assert "Staged " in result.output
    return result.output.split("--batch ")[1].split()[0]


def test_stage_creates_one_staged_experiment_per_member_and_runs_nothing(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2, 3)", "--stage")
    assert result.exit_code == 0
    staged = by_status("staged")
    assert [m["name"] for m in staged] == ["member-x=1", "member-x=2", "member-x=3"]
    batch = staged[0]["batch"]
    assert all(m["batch"] == batch and "started_at" not in m for m in staged)
    assert all("staged_at" in m for m in staged)
    assert Store().read_batch(batch)["experiments"] == staged_ids(Store(), batch_id=batch)
    assert f"Staged 3 experiment(s) in batch {batch}" in result.output
    assert f"yanex run --staged --batch {batch}" in result.output
    for metadata in staged:
        assert (Store().artifacts_dir(metadata["id"]) / "stdout.txt").exists() is False


def test_a_single_run_can_be_staged_too(member: Path) -> None:
    stage(str(member), "-p", "x=7", "--name", "single")
    (staged,) = by_status("staged")
    assert staged["name"] == "single" and Store().read_config(staged["id"])["x"] == 7


def test_staged_sweep_runs_later_two_at_a_time(member: Path) -> None:
    stage(str(member), "-p", "x=list(1, 2, 3, 4)", "-p", "sleep=0.4")
    result = invoke("--staged", "-j", "2")
    assert result.exit_code == 0, result.output
    done = by_status("completed")
    assert len(done) == 4 and by_status("staged") == []
    spans = sorted(
        (datetime.fromisoformat(m["started_at"]), datetime.fromisoformat(m["ended_at"]))
        for m in done
    )
    assert spans[1][0] < spans[0][1]  # two ran at once
    most_at_once = max(sum(s <= start < e for s, e in spans) for start, _ in spans)
    assert most_at_once == 2
    assert "staged: 4 experiment(s)" in result.stderr
    assert "4 experiment(s): 4 completed" in result.stderr


def test_staged_runs_in_the_directory_it_was_staged_from(
    member: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage("member.py", "-p", "x=list(1, 2)")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert invoke("--staged", "-j", "2").exit_code == 0
    for metadata in by_status("completed"):
        assert Store().read_metrics(metadata["id"])[-1]["cwd"] == str(tmp_path)


def test_staged_with_ids_runs_only_those(member: Path) -> None:
    stage(str(member), "-p", "x=list(1, 2, 3)")
    first, second, third = by_status("staged")
    result = invoke("--staged", first["id"], third["id"][:6])
    assert result.exit_code == 0, result.output
    assert [m["id"] for m in by_status("completed")] == [first["id"], third["id"]]
    assert [m["id"] for m in by_status("staged")] == [second["id"]]


def test_staged_with_a_batch_runs_only_that_batch(member: Path) -> None:
    first = stage(str(member), "-p", "x=list(1, 2)")
    second = stage(str(member), "-p", "x=list(3, 4)", "--name", "other")
    result = invoke("--staged", "--batch", second, "-j", "2")
    assert result.exit_code == 0
    assert {m["batch"] for m in by_status("completed")} == {second}
    assert {m["batch"] for m in by_status("staged")} == {first}
    assert len(by_status("completed")) == 2


def test_a_failing_staged_member_makes_the_run_exit_1(member: Path) -> None:
    stage(str(member), "-p", "x=list(1, 2)", "-p", "fail_on=2")
    result = invoke("--staged", "-j", "2")
    assert result.exit_code == 1
    (failed,) = by_status("failed")
    assert failed["name"] == "member-x=2" and failed["exit_code"] == 3
    assert f"failed {failed['id']} member-x=2: script exited with code 3" in result.stderr


def test_nothing_staged_is_not_an_error(member: Path) -> None:
    result = invoke("--staged")
    assert result.exit_code == 0
    assert "No staged experiments to run" in result.output


def test_an_unknown_id_is_an_error(member: Path) -> None:
    stage(str(member), "-p", "x=1")
    result = invoke("--staged", "ffffffff")
    assert result.exit_code == 1
    assert "no experiment with id, id prefix or name 'ffffffff'" in result.output
    assert len(by_status("staged")) == 1


def test_an_experiment_that_is_not_staged_is_refused(member: Path) -> None:
    assert invoke(str(member), "-p", "x=1").exit_code == 0
    (done,) = by_status("completed")
    stage(str(member), "-p", "x=2")
    (waiting,) = by_status("staged")
    result = invoke("--staged", waiting["id"], done["id"])
    assert result.exit_code == 2
    assert f"experiment {done['id']} is completed, not staged" in result.output
    assert by_status("staged") == [waiting]  # nothing ran


def test_parallel_with_stage_is_a_usage_error(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "--stage", "--parallel", "2")
    assert result.exit_code == 2
    assert "give it to --staged" in result.output
    assert list(Store().iter_metadata()) == []


# --- the library under the CLI ------------------------------------------------------------------


def test_stage_experiments_then_execute_them(member: Path) -> None:
    specs = [ExperimentSpec(script_path=member, config={"x": i}, name=f"m{i}") for i in range(2)]
    batch = stage_experiments(specs)
    store = Store()
    assert [store.read_metadata(i)["status"] for i in batch.experiment_ids] == ["staged"] * 2
    assert staged_ids(store) == batch.experiment_ids
    results = execute(staged_ids(store, batch_id=batch.batch_id), store, parallel=2)
    assert [r.status for r in results] == ["completed"] * 2
    assert [r.experiment_id for r in results] == batch.experiment_ids
    assert staged_ids(store) == []


def test_resolve_staged_accepts_names_and_prefixes_and_drops_repeats(member: Path) -> None:
    batch = stage_experiments([ExperimentSpec(script_path=member, name="named")])
    (experiment_id,) = batch.experiment_ids
    assert resolve_staged(Store(), ["named", experiment_id[:5], experiment_id]) == [experiment_id]


def test_two_staged_runs_at_once_run_each_experiment_exactly_once(member: Path) -> None:
    stage(str(member), "-p", "x=list(1, 2, 3, 4)", "-p", "sleep=0.4")
    command = [sys.executable, "-m", "yanex", "run", "--staged", "-j", "2"]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0].decode() for run in runs]
    assert "failed" not in "".join(outputs), outputs
    done = by_status("completed")
    assert len(done) == 4, outputs
    for metadata in done:
        assert len(Store().read_metrics(metadata["id"])) == 1  # ran once, not twice
