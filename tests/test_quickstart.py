"""The issue's user story, end to end: the quickstart example run, listed and shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from yanex.core.store import Store

REPO = Path(__file__).resolve().parent.parent
TRAIN = REPO / "examples" / "quickstart" / "train.py"


def yanex(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yanex", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """`yanex run examples/quickstart/train.py ...` once, from the repository root."""
    store = tmp_path_factory.mktemp("quickstart") / "experiments"
    # Module-scoped, so the conftest's per-test isolation has not run: isolate here too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
    result = subprocess.run(
        [
            sys.executable, "-m", "yanex", "run", "examples/quickstart/train.py",
            "--param", "lr=0.01", "--name", "first", "--tag", "demo", "--", "--epochs", "3",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "YANEX_EXPERIMENTS_DIR": str(store)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return store, result.stdout, result.stderr


@pytest.fixture
def store_dir(quickstart: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YANEX_EXPERIMENTS_DIR", str(quickstart[0]))
    return quickstart[0]


def test_the_quickstart_run_is_recorded(quickstart: tuple[Path, str, str], store_dir: Path) -> None:
    _, stdout, stderr = quickstart
    store = Store()
    [experiment_id] = store.ids()
    assert [line.split(":")[0] for line in stdout.splitlines()[:3]] == [
        "epoch 0", "epoch 1", "epoch 2"
    ]  # fmt: skip
    assert f"experiment: {experiment_id}" in stdout
    assert experiment_id in stderr
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "completed" and metadata["exit_code"] == 0
    assert metadata["name"] == "first" and metadata["tags"] == ["demo"]
    assert metadata["script_args"] == ["--epochs", "3"]
    assert metadata["script_path"] == str(TRAIN)
    assert store.read_config(experiment_id) == {"lr": 0.01}
    metrics = store.read_metrics(experiment_id)
    assert [row["epoch"] for row in metrics] == [0, 1, 2]
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    artifacts = store_dir / experiment_id / "artifacts"
    assert json.loads((artifacts / "summary.json").read_text())["lr"] == 0.01
    assert (artifacts / "stdout.txt").read_text() == stdout
    assert metadata["git"]["commit_hash"]  # the example lives in this repository
    assert metadata["git"]["repo_path"] == str(REPO)


def test_yanex_list_shows_it(store_dir: Path) -> None:
    [experiment_id] = Store().ids()
    result = yanex("list", cwd=store_dir.parent)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if experiment_id in line)
    assert "first" in row and "completed" in row and "demo" in row


@pytest.mark.parametrize("reference", ["id", "prefix", "name"])
def test_yanex_show_finds_it_by_id_prefix_or_name(store_dir: Path, reference: str) -> None:
    [experiment_id] = Store().ids()
    argument = {"id": experiment_id, "prefix": experiment_id[:4], "name": "first"}[reference]
    result = yanex("show", argument, cwd=store_dir.parent)
    assert result.returncode == 0, result.stderr
    assert experiment_id in result.stdout
    assert "first" in result.stdout and "completed" in result.stdout
    assert "lr" in result.stdout and "0.01" in result.stdout  # its parameters
    assert "loss" in result.stdout  # its metrics


def test_yanex_show_of_an_unknown_experiment(store_dir: Path) -> None:
    result = yanex("show", "no-such-experiment", cwd=store_dir.parent)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "no-such-experiment" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_quickstart_runs_standalone_with_plain_python(
    tmp_path: Path, experiments_dir: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(TRAIN), "--epochs", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "standalone (not tracked)" in result.stdout
    assert json.loads((tmp_path / "artifacts" / "summary.json").read_text())["lr"] == 0.05
    assert not experiments_dir.exists()  # nothing tracked
