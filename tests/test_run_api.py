"""The run API inside scripts: standalone, in `create_experiment`, and under `yanex run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import yanex
from yanex.core.status import Status
from yanex.core.store import SCRIPT_RUNS_FILE, Store
from yanex.errors import ArtifactError, ExperimentContextError, ExperimentNotFoundError

FORBIDDEN_AT_IMPORT = ("yaml", "git", "rich", "click", "rq", "redis", "numpy", "detect_secrets")


@pytest.fixture(autouse=True)
def outside_any_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Experiments made in-process record the cwd's repository: use one outside git."""
    monkeypatch.chdir(tmp_path)


def run_yanex(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yanex", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_record(store: Store) -> dict[str, Any]:
    [experiment_id] = store.ids()
    return store.read_metadata(experiment_id)


# -- import cost ---------------------------------------------------------------------------


def test_import_yanex_is_stdlib_only() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        before = set(sys.modules)
        sys.stderr.write("--- import yanex ---\\n")
        sys.stderr.flush()
        import yanex
        added = sorted(set(sys.modules) - before)
        print(json.dumps(added))
        """
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    # Only what `import yanex` itself loaded (site may import things before it).
    report = result.stderr.split("--- import yanex ---\n", 1)[1]
    imported = {
        line.split("|")[-1].strip()
        for line in report.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "yanex" in imported
    tops = {name.split(".")[0] for name in imported}
    for heavy in FORBIDDEN_AT_IMPORT:
        assert heavy not in tops, f"import yanex imported {heavy}"
    added = {name.split(".")[0] for name in json.loads(result.stdout)}
    foreign = added - set(sys.stdlib_module_names) - {"yanex"}
    assert foreign == set(), f"import yanex imported non-stdlib modules {sorted(foreign)}"


def test_public_api_is_complete() -> None:
    expected = {
        "get_params", "get_param", "get_cli_args", "is_standalone", "has_context",
        "log_metrics", "log_results", "copy_artifact", "save_artifact", "load_artifact",
        "artifact_exists", "list_artifacts", "get_experiment_id", "get_status",
        "get_metadata", "get_experiment_dir", "get_artifacts_dir", "execute_bash_script",
        "create_experiment", "create_context", "completed", "fail", "cancel",
    }  # fmt: skip
    assert expected <= set(yanex.__all__)
    for name in yanex.__all__:
        assert getattr(yanex, name) is not None


# -- standalone ----------------------------------------------------------------------------


def test_standalone_mode_is_a_quiet_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, experiments_dir: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert yanex.is_standalone() and not yanex.has_context()
    assert yanex.get_params() == {}
    assert yanex.get_param("lr", 0.01) == 0.01
    assert yanex.get_param("model.lr") is None  # no warning standalone: nothing is tracked
    assert yanex.get_cli_args() == {}
    assert yanex.get_experiment_id() is None
    assert yanex.get_status() is None
    assert yanex.get_metadata() == {}
    assert yanex.get_experiment_dir() is None and yanex.get_artifacts_dir() is None
    yanex.log_metrics({"loss": 1.0})
    assert not experiments_dir.exists()  # nothing tracked, no store made


def test_standalone_artifacts_go_to_the_local_artifacts_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert yanex.load_artifact("missing.json") is None
    assert not yanex.artifact_exists("result.json")
    assert yanex.list_artifacts() == []
    path = yanex.save_artifact({"acc": 0.9}, "result.json")
    assert path == tmp_path / "artifacts" / "result.json"
    (tmp_path / "model.bin").write_bytes(b"weights")
    yanex.copy_artifact("model.bin")
    yanex.copy_artifact(tmp_path / "model.bin", "copy.bin")
    assert yanex.list_artifacts() == ["copy.bin", "model.bin", "result.json"]
    assert yanex.artifact_exists("result.json")
    assert yanex.load_artifact("result.json") == {"acc": 0.9}
    assert yanex.load_artifact("copy.bin", loader=lambda p: p.read_bytes()) == b"weights"


def test_ending_outside_any_experiment_is_a_context_error() -> None:
    for end in (yanex.completed, lambda: yanex.fail("x"), lambda: yanex.cancel("x")):
        with pytest.raises(ExperimentContextError, match="active experiment"):
            end()


# -- create_experiment -----------------------------------------------------------------------


def test_create_experiment_tracks_the_block(tmp_path: Path) -> None:
    script = tmp_path / "notebook.py"
    script.write_text("")
    config = {"lr": 0.1, "model": {"layers": 4, "act": "relu"}, "a.b": 5}
    with yanex.create_experiment(
        script, name="demo", config=config, tags=["t1", "t2"], description="a test"
    ) as experiment:
        assert not yanex.is_standalone() and yanex.has_context()
        experiment_id = yanex.get_experiment_id()
        assert experiment_id == experiment.experiment_id
        assert yanex.get_status() == "running"
        assert yanex.get_params() == config
        assert yanex.get_param("model.layers") == 4
        assert yanex.get_param("a.b") == 5  # an exact key with a dot wins
        assert yanex.get_param("model.missing", "dflt") == "dflt"
        with pytest.warns(UserWarning, match="'dropout' not found"):
            assert yanex.get_param("dropout") is None
        params = yanex.get_params()
        params["model"]["layers"] = 99  # a copy: the experiment's parameters are safe
        assert yanex.get_param("model.layers") == 4
        metadata = yanex.get_metadata()
        assert metadata["name"] == "demo" and metadata["tags"] == ["t1", "t2"]
        assert metadata["description"] == "a test"
        assert metadata["script_path"] == str(script)
        assert yanex.get_experiment_dir() == Store().path(experiment_id)
        assert yanex.get_artifacts_dir() == Store().path(experiment_id) / "artifacts"
        yanex.log_metrics({"acc": 0.5})
        experiment.log_metrics({"acc": 0.6})
        assert yanex.get_cli_args() == {}
    assert yanex.is_standalone()
    store = Store()
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "completed"
    assert metadata["git"]["commit_hash"] is None  # tmp_path is no repository
    assert metadata["environment"]["python"]["version"]
    assert [r["acc"] for r in store.read_metrics(experiment_id)] == [0.5, 0.6]
    assert store.read_config(experiment_id) == config


def test_an_exception_fails_the_experiment_and_propagates() -> None:
    with pytest.raises(RuntimeError, match="diverged"):
        with yanex.create_experiment(name="boom"):
            experiment_id = yanex.get_experiment_id()
            raise RuntimeError("loss diverged")
    metadata = Store().read_metadata(str(experiment_id))
    assert metadata["status"] == "failed"
    assert "RuntimeError: loss diverged" in metadata["error_message"]


def test_ctrl_c_cancels_the_experiment_and_propagates() -> None:
    with pytest.raises(KeyboardInterrupt):
        with yanex.create_experiment(name="interrupted"):
            experiment_id = yanex.get_experiment_id()
            raise KeyboardInterrupt
    metadata = Store().read_metadata(str(experiment_id))
    assert metadata["status"] == "cancelled" and metadata["failure_reason"] == "cancelled"


@pytest.mark.parametrize(
    ("end", "status", "message"),
    [
        (yanex.completed, "completed", None),
        (lambda: yanex.fail("data validation failed"), "failed", "data validation failed"),
        (lambda: yanex.cancel("user stopped it"), "cancelled", "user stopped it"),
    ],
)
def test_manual_endings_leave_the_block(end: Any, status: str, message: str | None) -> None:
    reached = False
    with yanex.create_experiment(name="manual"):
        experiment_id = yanex.get_experiment_id()
        end()
        reached = True
    assert not reached
    metadata = Store().read_metadata(str(experiment_id))
    assert metadata["status"] == status
    assert metadata.get("error_message") == message


def test_create_experiment_in_a_dirty_repository_warns_about_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    secret = "hunter2hunter2hunter2"
    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "notebook.py"
    script.write_text("x = 1\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Ada"],
        ["config", "user.email", "ada@example.com"],
        ["add", "-A"],
        ["-c", "commit.gpgsign=false", "commit", "-q", "-m", "init"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    script.write_text(f'x = 1\npassword = "{secret}"\n')
    with pytest.warns(UserWarning, match="secrets") as caught:
        with yanex.create_experiment(script, name="dirty"):
            experiment_id = str(yanex.get_experiment_id())
    assert all(secret not in str(w.message) for w in caught)
    metadata = Store().read_metadata(experiment_id)
    assert metadata["git"]["branch"] == "main"
    assert metadata["git"]["has_uncommitted_changes"] is True
    assert metadata["git"]["patch_has_secrets"] is True
    patch = Store().artifacts_dir(experiment_id) / "git_diff.patch"
    assert f'+password = "{secret}"' in patch.read_text()


@pytest.mark.parametrize("variable", ["YANEX_EXPERIMENT_ID", "YANEX_CLI_ACTIVE"])
def test_create_experiment_is_refused_inside_yanex_run(
    monkeypatch: pytest.MonkeyPatch, experiments_dir: Path, variable: str
) -> None:
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ExperimentContextError, match="yanex run"):
        with yanex.create_experiment(name="nested"):
            pytest.fail("the block must not run")
    assert Store().ids() == []


def test_create_context_runs_a_created_experiment(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "later"}, {"lr": 3})
    with yanex.create_context("later") as experiment:
        assert experiment.experiment_id == experiment_id
        assert yanex.get_status() == "running"
        assert yanex.get_param("lr") == 3
        yanex.log_metrics({"x": 1})
    assert store.read_metadata(experiment_id)["status"] == "completed"
    assert store.read_metrics(experiment_id)[0]["x"] == 1


def test_create_context_only_writes_to_an_ended_experiment(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    store.transition(experiment_id, Status.RUNNING)
    store.transition(experiment_id, Status.COMPLETED)
    with yanex.create_context(experiment_id[:4]):
        yanex.log_metrics({"additional_metric": 0.88})
        yanex.save_artifact("late", "late.txt")
    assert store.read_metadata(experiment_id)["status"] == "completed"
    assert store.read_metrics(experiment_id)[0]["additional_metric"] == 0.88
    assert (store.artifacts_dir(experiment_id) / "late.txt").read_text() == "late"


def test_create_context_of_an_unknown_experiment(experiments_dir: Path) -> None:
    with pytest.raises(ExperimentNotFoundError):
        with yanex.create_context("0badc0de"):
            pytest.fail("the block must not run")


# -- artifacts -------------------------------------------------------------------------------


def test_artifacts_in_an_experiment(tmp_path: Path) -> None:
    source = tmp_path / "model.pth"
    source.write_bytes(b"\x00weights")
    with yanex.create_experiment(name="artifacts"):
        artifacts = yanex.get_artifacts_dir()
        assert artifacts is not None
        assert yanex.load_artifact("results.json") is None
        assert yanex.save_artifact({"acc": 0.95}, "results.json") == artifacts / "results.json"
        yanex.save_artifact("done", "logs/status.txt")
        yanex.copy_artifact(source)
        yanex.copy_artifact(str(source), "renamed.pth")
        yanex.save_artifact([1, 2], "data.custom", saver=lambda o, p: p.write_text(repr(o)))
        assert yanex.load_artifact("data.custom", loader=lambda p: p.read_text()) == "[1, 2]"
        assert yanex.load_artifact("missing.custom", loader=lambda p: 1 / 0) is None
        assert yanex.load_artifact("results.json") == {"acc": 0.95}
        assert yanex.artifact_exists("logs/status.txt")
        assert not yanex.artifact_exists("nope.txt")
        assert yanex.list_artifacts() == [
            "data.custom", "logs/status.txt", "model.pth", "renamed.pth", "results.json"
        ]  # fmt: skip
        experiment_id = str(yanex.get_experiment_id())
    assert (Store().artifacts_dir(experiment_id) / "renamed.pth").read_bytes() == b"\x00weights"
    assert not (tmp_path / "artifacts").exists()  # nothing in the standalone place
    # Another experiment's artifact, by id prefix.
    assert yanex.load_artifact("results.json", from_experiment=experiment_id[:6]) == {"acc": 0.95}


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/tmp/escape.txt", ""])
def test_artifact_names_cannot_escape_the_artifacts_directory(tmp_path: Path, name: str) -> None:
    source = tmp_path / "source.txt"
    source.write_text("x")
    with yanex.create_experiment(name="escape"):
        artifacts = yanex.get_artifacts_dir()
        with pytest.raises(ArtifactError) as caught:
            yanex.save_artifact("x", name)
        assert caught.value.exit_code == 1
        with pytest.raises(ArtifactError):
            yanex.copy_artifact(source, name)
        with pytest.raises(ArtifactError):
            yanex.load_artifact(name)
        with pytest.raises(ArtifactError):
            yanex.artifact_exists(name)
        assert artifacts is not None and list(artifacts.iterdir()) == []
    assert not (tmp_path.parent / "escape.txt").exists()


def test_copying_a_missing_file_says_so(tmp_path: Path) -> None:
    with yanex.create_experiment(name="missing"):
        with pytest.raises(FileNotFoundError, match="does-not-exist.txt"):
            yanex.copy_artifact(tmp_path / "does-not-exist.txt")


# -- execute_bash_script ---------------------------------------------------------------------


def test_bash_script_gets_parameters_and_is_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    config = {"lr": 0.01, "model": {"layers": 3}, "flag": True, "sizes": [1, 2], "none": None}
    with yanex.create_experiment(name="bash", config=config):
        experiment_id = str(yanex.get_experiment_id())
        result = yanex.execute_bash_script(
            'echo "$YANEX_EXPERIMENT_ID $YANEX_PARAM_lr $YANEX_PARAM_model__layers '
            '$YANEX_PARAM_flag $YANEX_PARAM_sizes"; pwd; echo oops >&2'
        )
        second = yanex.execute_bash_script("exit 3", stream_output=False)
    experiment_dir = Store().path(experiment_id)
    assert result["exit_code"] == 0
    assert result["stdout"].splitlines() == [
        f"{experiment_id} 0.01 3 true [1, 2]",
        str(experiment_dir),  # the experiment directory is the default working directory
    ]
    assert result["stderr"] == "oops\n"
    assert result["working_directory"] == str(experiment_dir)
    assert result["execution_time"] >= 0
    assert second["exit_code"] == 3  # returned, not raised, by default
    streamed = capsys.readouterr()
    assert f"{experiment_id} 0.01 3 true" in streamed.out and "oops" in streamed.err
    runs = json.loads((experiment_dir / SCRIPT_RUNS_FILE).read_text())
    assert [r["exit_code"] for r in runs] == [0, 3]
    assert runs[0]["stdout_lines"] == 2 and runs[0]["stderr_lines"] == 1
    artifacts = experiment_dir / "artifacts"
    assert (artifacts / "script_run_1_stdout.txt").read_text() == result["stdout"]
    assert (artifacts / "script_run_1_stderr.txt").read_text() == "oops\n"


def test_bash_script_errors_and_timeouts(tmp_path: Path) -> None:
    with yanex.create_experiment(name="bash-errors"):
        experiment_dir = yanex.get_experiment_dir()
        with pytest.raises(subprocess.CalledProcessError) as failed:
            yanex.execute_bash_script("echo partial; exit 4", raise_on_error=True)
        assert failed.value.returncode == 4 and failed.value.output == "partial\n"
        with pytest.raises(subprocess.TimeoutExpired):
            yanex.execute_bash_script("sleep 30", timeout=0.3, stream_output=False)
        result = yanex.execute_bash_script("pwd", working_dir=tmp_path, stream_output=False)
        assert result["stdout"].strip() == str(tmp_path)
    assert experiment_dir is not None
    runs = json.loads((experiment_dir / SCRIPT_RUNS_FILE).read_text())
    assert [r["exit_code"] for r in runs] == [4, None, 0]  # the timeout is logged too


def test_bash_script_standalone_runs_untracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, experiments_dir: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = yanex.execute_bash_script("echo ${YANEX_EXPERIMENT_ID:-none}", stream_output=False)
    assert result["stdout"] == "none\n"
    assert not experiments_dir.exists() and not (tmp_path / "artifacts").exists()


# -- under `yanex run` -----------------------------------------------------------------------

API_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, warnings
    from pathlib import Path
    import yanex

    report = {}
    report["standalone"] = yanex.is_standalone()
    report["has_context"] = yanex.has_context()
    report["id"] = yanex.get_experiment_id()
    report["env_id"] = os.environ.get("YANEX_EXPERIMENT_ID")
    report["status"] = yanex.get_status()
    report["params"] = yanex.get_params()
    report["types"] = {k: type(v).__name__ for k, v in yanex.get_params().items()}
    report["dotted"] = yanex.get_param("model.lr")
    report["default"] = yanex.get_param("absent", "fallback")
    report["cli_args"] = yanex.get_cli_args()
    report["argv"] = sys.argv[1:]
    report["name"] = yanex.get_metadata().get("name")
    report["experiment_dir"] = str(yanex.get_experiment_dir())
    report["artifacts_dir"] = str(yanex.get_artifacts_dir())
    yanex.log_metrics({"loss": 0.5})
    yanex.log_metrics({"acc": 0.7}, step=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yanex.log_results({"loss": 0.25})
    report["deprecation"] = [w.category.__name__ for w in caught]
    yanex.save_artifact({"saved": True}, "saved.json")
    Path("local.txt").write_text("copied")
    yanex.copy_artifact("local.txt")
    report["loaded"] = yanex.load_artifact("saved.json")
    report["missing"] = yanex.load_artifact("missing.json")
    report["exists"] = yanex.artifact_exists("local.txt")
    report["artifacts"] = yanex.list_artifacts()
    report["bash"] = yanex.execute_bash_script(
        "echo $YANEX_PARAM_batch", stream_output=False)["stdout"].strip()
    if not yanex.is_standalone():
        try:
            with yanex.create_experiment(name="nested"):
                pass
        except yanex.ExperimentContextError as error:
            report["nested"] = str(error)
        try:
            yanex.run_multiple([yanex.ExperimentSpec(script_path=__file__)])
        except yanex.ExperimentContextError as error:
            report["run_multiple"] = str(error)
    print("REPORT " + json.dumps(report))
    """
)


def test_the_whole_api_under_yanex_run(tmp_path: Path, experiments_dir: Path) -> None:
    (tmp_path / "api.py").write_text(API_SCRIPT)
    result = run_yanex(
        "run", "api.py", "-p", "model.lr=0.001", "-p", "batch=32", "-p", "flag=false",
        "--name", "api-test", "--tag", "x", "--", "--epochs", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("REPORT "))
    report = json.loads(line[len("REPORT ") :])
    store = Store()
    experiment_id = store.resolve("api-test")
    assert report["standalone"] is False and report["has_context"] is True
    assert report["id"] == report["env_id"] == experiment_id
    assert report["status"] == "running"
    assert report["params"] == {"model": {"lr": 0.001}, "batch": 32, "flag": False}
    assert report["types"] == {"model": "dict", "batch": "int", "flag": "bool"}
    assert report["dotted"] == 0.001 and report["default"] == "fallback"
    assert report["cli_args"]["name"] == "api-test"
    assert report["cli_args"]["param"] == ["model.lr=0.001", "batch=32", "flag=false"]
    assert report["cli_args"]["tag"] == ["x"]
    assert report["argv"] == ["--epochs", "2"]
    assert report["name"] == "api-test"
    assert report["experiment_dir"] == str(experiments_dir / experiment_id)
    assert report["artifacts_dir"] == str(experiments_dir / experiment_id / "artifacts")
    assert report["deprecation"] == ["DeprecationWarning"]
    assert report["loaded"] == {"saved": True} and report["missing"] is None
    assert report["exists"] is True
    assert {"saved.json", "local.txt"} <= set(report["artifacts"])
    assert report["bash"] == "32"
    assert "yanex run" in report["nested"] and "yanex run" in report["run_multiple"]
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "completed"
    metrics = store.read_metrics(experiment_id)
    assert [(r["step"], r.get("loss"), r.get("acc")) for r in metrics] == [
        (0, 0.5, 0.7),
        (1, 0.25, None),
    ]


def test_the_same_script_runs_standalone_with_plain_python(
    tmp_path: Path, experiments_dir: Path
) -> None:
    (tmp_path / "api.py").write_text(API_SCRIPT)
    result = subprocess.run(
        [sys.executable, "api.py", "--epochs", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.split("REPORT ", 1)[1])
    assert report["standalone"] is True and report["id"] is None and report["status"] is None
    assert report["params"] == {} and report["cli_args"] == {} and report["default"] == "fallback"
    assert report["loaded"] == {"saved": True}
    assert sorted(os.listdir(tmp_path / "artifacts")) == ["local.txt", "saved.json"]
    assert report["bash"] == ""  # no parameters standalone
    assert not experiments_dir.exists()  # nothing tracked


END_SCRIPT = textwrap.dedent(
    """
    import sys, yanex
    yanex.log_metrics({"before": 1})
    how = sys.argv[1]
    if how == "completed":
        yanex.completed()
    elif how == "fail":
        yanex.fail("validation failed")
    else:
        yanex.cancel("not needed")
    print("NOT REACHED")
    """
)


@pytest.mark.parametrize(
    ("how", "status", "message"),
    [
        ("completed", "completed", None),
        ("fail", "failed", "validation failed"),
        ("cancel", "cancelled", "not needed"),
    ],
)
def test_manual_endings_under_yanex_run(
    tmp_path: Path, how: str, status: str, message: str | None
) -> None:
    (tmp_path / "end.py").write_text(END_SCRIPT)
    result = run_yanex("run", "end.py", how, cwd=tmp_path)
    assert "NOT REACHED" not in result.stdout
    metadata = only_record(Store())
    assert metadata["status"] == status
    assert metadata.get("error_message") == message
    assert (result.returncode == 0) == (status == "completed")
    if message:
        assert message in result.stderr
