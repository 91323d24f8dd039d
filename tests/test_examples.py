"""The kfold and grid_search examples run, and leave in the store what their READMEs say."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from yanex.cli.main import cli
from yanex.core.store import Store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_python(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored(tag: str) -> list[dict[str, Any]]:
    found = [m for m in Store().iter_metadata() if tag in m.get("tags", [])]
    return sorted(found, key=lambda m: str(m["name"]))


def last_value(experiment_id: str, metric: str) -> Any:
    values = [row[metric] for row in Store().read_metrics(experiment_id) if metric in row]
    return values[-1]


# --- kfold ----------------------------------------------------------------------------------


def test_kfold_orchestrator_runs_one_experiment_per_fold_and_aggregates(tmp_path: Path) -> None:
    done = run_python(
        EXAMPLES / "kfold" / "train.py",
        "--folds",
        "3",
        "--parallel",
        "2",
        "--epochs",
        "4",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    folds = stored("kfold")
    assert [m["name"] for m in folds] == ["kfold-0", "kfold-1", "kfold-2"]
    assert all(m["status"] == "completed" for m in folds)
    assert len({m["batch"] for m in folds}) == 1
    store = Store()
    assert [store.read_config(m["id"])["_fold_idx"] for m in folds] == [0, 1, 2]
    scores = [last_value(m["id"], "val_accuracy") for m in folds]
    assert all(0.5 < s <= 1.0 for s in scores)
    match = re.search(r"mean val_accuracy over 3 folds: ([0-9.]+)", done.stdout)
    assert match, done.stdout
    assert float(match.group(1)) == pytest.approx(statistics.mean(scores), abs=1e-4)
    for metadata, score in zip(folds, scores, strict=True):
        assert f"{metadata['name']} ({metadata['id']}): val_accuracy={score:.4f}" in done.stdout
        assert len(store.read_metrics(metadata["id"])) == 5  # 4 epochs + the final row


def test_kfold_orchestrator_refuses_to_run_inside_yanex_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["run", str(EXAMPLES / "kfold" / "train.py"), "--", "--folds", "2"]
    )
    assert result.exit_code == 1
    (only,) = Store().iter_metadata()  # no fold experiment was created
    assert only["status"] == "failed"
    assert "ExperimentContextError" in only["error_message"]
    assert "python script.py" in only["error_message"]


# --- grid search ----------------------------------------------------------------------------


def test_grid_search_from_python_finds_the_best_run(tmp_path: Path) -> None:
    done = run_python(
        EXAMPLES / "grid_search" / "search.py", "--parallel", "2", "--epochs", "3", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    runs = stored("grid-search")
    assert len(runs) == 6 and all(m["status"] == "completed" for m in runs)
    store = Store()
    grid = {(store.read_config(m["id"])["lr"], store.read_config(m["id"])["l2"]) for m in runs}
    assert grid == {(lr, l2) for lr in (0.05, 0.2, 0.8) for l2 in (0.0, 0.01)}
    best_score = max(last_value(m["id"], "val_accuracy") for m in runs)
    best_line = next(line for line in done.stdout.splitlines() if line.startswith("best: "))
    best_id = best_line.split("(")[1].split(")")[0]
    assert last_value(best_id, "val_accuracy") == best_score
    assert f"val_accuracy={best_score:.4f}" in best_line


def test_grid_search_from_the_shell_as_a_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    train = str(EXAMPLES / "grid_search" / "train.py")
    args = [
        "run",
        train,
        "-p",
        "lr=list(0.05, 0.2, 0.8)",
        "-p",
        "l2=list(0, 0.01)",
        "-p",
        "epochs=2",
    ]
    result = CliRunner().invoke(cli, [*args, "-j", "2"])
    assert result.exit_code == 0, result.output
    runs = stored("sweep")
    assert len(runs) == 6 and all(m["status"] == "completed" for m in runs)
    assert all(isinstance(last_value(m["id"], "val_accuracy"), float) for m in runs)
    assert "6 experiment(s): 6 completed" in result.stderr


def test_grid_search_stages_then_runs_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    train = str(EXAMPLES / "grid_search" / "train.py")
    runner = CliRunner()
    staged = runner.invoke(
        cli, ["run", train, "-p", "lr=list(0.05, 0.2)", "-p", "epochs=1", "--stage"]
    )
    assert staged.exit_code == 0
    assert [m["status"] for m in Store().iter_metadata()] == ["staged"] * 2
    assert runner.invoke(cli, ["run", "--staged", "-j", "2"]).exit_code == 0
    assert [m["status"] for m in Store().iter_metadata()] == ["completed"] * 2


def test_the_training_script_runs_standalone_without_tracking(tmp_path: Path) -> None:
    done = run_python(EXAMPLES / "grid_search" / "train.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "val_accuracy=" in done.stdout
    assert Store().ids() == []

