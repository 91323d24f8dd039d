"""`yanex run SCRIPT`: options, parameters, supervision, exit codes, errors, git capture.

Runs are real `yanex run` subprocesses (signals and exit codes need the real thing);
pure validation errors also go through click's CliRunner.
"""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support import process_running as running
from support import wait_until

from yanex.cli.main import cli
from yanex.core.store import Store
from yanex.execution.runner import RunControl, Runner, RunOptions

SECRET = "hunter2hunter2hunter2"


def run_yanex(
    *args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yanex", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def start_yanex(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "yanex", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def only_record() -> dict[str, Any]:
    [experiment_id] = Store().ids()
    return Store().read_metadata(experiment_id)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask line in /proc/self/status")


# -- parameters and options ------------------------------------------------------------------

ECHO_SCRIPT = """
import json, sys, yanex
params = yanex.get_params()
print("PARAMS " + json.dumps({k: [v, type(v).__name__] for k, v in params.items()}))
print("ARGV " + json.dumps(sys.argv[1:]))
print("CLI " + json.dumps(yanex.get_cli_args()))
"""


def tagged(stdout: str, tag: str) -> Any:
    line = next(x for x in stdout.splitlines() if x.startswith(tag + " "))
    return json.loads(line[len(tag) + 1 :])


def test_parameters_options_and_script_arguments(tmp_path: Path, experiments_dir: Path) -> None:
    write(tmp_path / "echo.py", ECHO_SCRIPT)
    result = run_yanex(
        "run", "echo.py",
        "--param", "lr=0.01", "-p", "exp=1e-3", "-p", "epochs=10", "-p", "flag=true",
        "-p", "nothing=null", "-p", "word=hello", "-p", 'quoted="123"', "-p", "items=[1, 2]",
        "-p", "mapping={a: 1}", "-p", "day=2024-01-01", "-p", "model.hidden=64",
        "-p", "sentence=hello, world",
        "--name", "first", "--description", "the very first", "--tag", "demo", "-t", "two",
        "--verbose", "-x", "--", "--epochs", "3", "--name", "script-name",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    received = tagged(result.stdout, "PARAMS")
    assert received == {
        "lr": [0.01, "float"],
        "exp": [0.001, "float"],
        "epochs": [10, "int"],
        "flag": [True, "bool"],
        "nothing": [None, "NoneType"],
        "word": ["hello", "str"],
        "quoted": ["123", "str"],
        "items": [[1, 2], "list"],
        "mapping": [{"a": 1}, "dict"],
        "day": ["2024-01-01", "str"],
        "model": [{"hidden": 64}, "dict"],
        "sentence": ["hello, world", "str"],
    }
    # The script receives exactly what config.json holds.
    [experiment_id] = Store().ids()
    config = json.loads((experiments_dir / experiment_id / "config.json").read_text())
    assert {k: v for k, (v, _) in received.items()} == config
    # Flags yanex does not know, and everything after --, go to the script.
    assert tagged(result.stdout, "ARGV") == [
        "--verbose", "-x", "--epochs", "3", "--name", "script-name"
    ]  # fmt: skip
    cli_args = tagged(result.stdout, "CLI")
    assert cli_args["name"] == "first" and cli_args["tag"] == ["demo", "two"]
    assert cli_args["description"] == "the very first"
    assert cli_args["param"][0] == "lr=0.01" and len(cli_args["param"]) == 12
    assert "--verbose" not in json.dumps(cli_args)
    metadata = only_record()
    assert metadata["name"] == "first" and metadata["description"] == "the very first"
    assert metadata["tags"] == ["demo", "two"]
    assert metadata["script_path"] == str(tmp_path / "echo.py")
    assert metadata["script_args"] == ["--verbose", "-x", "--epochs", "3", "--name", "script-name"]
    assert metadata["status"] == "completed" and metadata["exit_code"] == 0
    assert metadata["cli_args"] == cli_args
    # A run outside any git repository works; the git fields are null.
    assert metadata["git"]["commit_hash"] is None and metadata["git"]["branch"] is None
    assert metadata["git"]["has_uncommitted_changes"] is False
    assert not (experiments_dir / experiment_id / "artifacts" / "git_diff.patch").exists()
    environment = metadata["environment"]
    assert environment["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert environment["platform"]["system"] == os.uname().sysname
    assert environment["hostname"] == os.uname().nodename


def test_nan_and_infinity_parameters(tmp_path: Path, experiments_dir: Path) -> None:
    write(tmp_path / "echo.py", ECHO_SCRIPT)
    result = run_yanex("run", "echo.py", "-p", "a=.nan", "-p", "b=-.inf", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [experiment_id] = Store().ids()
    text = (experiments_dir / experiment_id / "config.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in config.json"))
    config = Store().read_config(experiment_id)
    assert math.isnan(config["a"]) and config["b"] == -math.inf
    received = result.stdout.split("PARAMS ", 1)[1].splitlines()[0]
    assert json.loads(received) == {"a": [math.nan, "float"], "b": [-math.inf, "float"]} or (
        '"a": [NaN, "float"]' in received and '"b": [-Infinity, "float"]' in received
    )


def test_config_files_layer_and_params_win(tmp_path: Path) -> None:
    write(tmp_path / "echo.py", ECHO_SCRIPT)
    write(tmp_path / "base.yaml", "lr: 0.1\nmodel:\n  layers: 2\n  act: relu\nepochs: 5\n")
    write(tmp_path / "big.yaml", "model:\n  layers: 8\nepochs: 50\n")
    write(tmp_path / "config.yaml", "from_default: true\n")  # ignored: -c was given
    result = run_yanex(
        "run", "echo.py", "-c", "base.yaml", "--config", "big.yaml", "-p", "epochs=7",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    params = {k: v for k, (v, _) in tagged(result.stdout, "PARAMS").items()}
    assert params == {"lr": 0.1, "model": {"layers": 8, "act": "relu"}, "epochs": 7}
    assert tagged(result.stdout, "CLI")["config"] == ["base.yaml", "big.yaml"]


def test_the_default_config_yaml_is_loaded_when_present(tmp_path: Path) -> None:
    write(tmp_path / "echo.py", ECHO_SCRIPT)
    write(tmp_path / "config.yaml", "lr: 0.5\nbatch: 16\n")
    result = run_yanex("run", "echo.py", "-p", "batch=32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    params = {k: v for k, (v, _) in tagged(result.stdout, "PARAMS").items()}
    assert params == {"lr": 0.5, "batch": 32}


# -- output and exit codes -------------------------------------------------------------------


def test_output_streams_live_and_is_saved(tmp_path: Path, experiments_dir: Path) -> None:
    gate = tmp_path / "gate"
    write(
        tmp_path / "talk.py",
        f"""
        import os, sys, time
        print("first line", flush=True)
        print("an error line", file=sys.stderr, flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.01)
        print("second line")
        """,
    )
    process = start_yanex("run", "talk.py", cwd=tmp_path)
    assert process.stdout is not None
    # The first line arrives while the script still runs (it waits for the gate).
    assert process.stdout.readline() == "first line\n"
    gate.touch()
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out == "second line\n"
    assert "an error line" in err
    [experiment_id] = Store().ids()
    artifacts = experiments_dir / experiment_id / "artifacts"
    assert (artifacts / "stdout.txt").read_text() == "first line\nsecond line\n"
    assert (artifacts / "stderr.txt").read_text() == "an error line\n"
    assert experiment_id in err  # yanex says which experiment it was


def test_a_failing_script_fails_the_experiment_with_its_exit_code(tmp_path: Path) -> None:
    write(
        tmp_path / "fail.py",
        """
        import sys
        print("context line", file=sys.stderr)
        print("ValueError: the real problem", file=sys.stderr)
        sys.exit(3)
        """,
    )
    result = run_yanex("run", "fail.py", cwd=tmp_path)
    assert result.returncode == 3
    metadata = only_record()
    assert metadata["status"] == "failed"
    assert metadata["exit_code"] == 3
    assert metadata["failure_reason"] == "exit_code"
    assert "3" in metadata["error_message"]
    assert "ValueError: the real problem" in metadata["error_message"]
    assert "ValueError: the real problem" in result.stderr


def test_a_failed_run_records_the_last_lines_of_stderr(tmp_path: Path) -> None:
    write(
        tmp_path / "crash.py",
        """
        def inner():
            raise ValueError("bad shape")
        inner()
        """,
    )
    result = run_yanex("run", "crash.py", cwd=tmp_path)
    assert result.returncode == 1
    message = only_record()["error_message"]
    assert "ValueError: bad shape" in message
    assert 'raise ValueError("bad shape")' in message  # where it happened, not only what


def test_an_uncaught_exception_fails_with_exit_code_1(tmp_path: Path) -> None:
    write(tmp_path / "crash.py", "raise RuntimeError('exploded')\n")
    result = run_yanex("run", "crash.py", cwd=tmp_path)
    assert result.returncode == 1
    metadata = only_record()
    assert metadata["status"] == "failed" and metadata["exit_code"] == 1
    assert "RuntimeError: exploded" in metadata["error_message"]


@pytest.mark.parametrize(
    ("signum", "name"), [(signal.SIGKILL, "SIGKILL"), (signal.SIGTERM, "SIGTERM")]
)
def test_a_script_killed_by_a_signal_fails_naming_it(
    tmp_path: Path, signum: int, name: str
) -> None:
    write(tmp_path / "die.py", f"import os\nos.kill(os.getpid(), {int(signum)})\n")
    result = run_yanex("run", "die.py", cwd=tmp_path)
    assert result.returncode == 128 + signum
    metadata = only_record()
    assert metadata["status"] == "failed"
    assert metadata["failure_reason"] == "signal"
    assert name in metadata["error_message"]
    assert name in result.stderr


def test_a_timeout_fails_the_experiment(tmp_path: Path) -> None:
    write(tmp_path / "slow.py", "import time\ntime.sleep(30)\n")
    started = time.monotonic()
    result = run_yanex("run", "slow.py", "--timeout", "0.3", cwd=tmp_path)
    assert time.monotonic() - started < 10
    assert result.returncode != 0
    metadata = only_record()
    assert metadata["status"] == "failed" and metadata["failure_reason"] == "timeout"


# -- Ctrl-C ----------------------------------------------------------------------------------

INTERRUPTIBLE = """
import os, sys, time
marker = sys.argv[1]
try:
    print("ready", os.getpid(), flush=True)
    while True:
        time.sleep(0.02)
except KeyboardInterrupt:
    open(marker, "w").write("SIGINT")
    raise
"""


def test_ctrl_c_cancels_the_experiment_and_stops_the_script(tmp_path: Path) -> None:
    write(tmp_path / "loop.py", INTERRUPTIBLE)
    marker = tmp_path / "received"
    process = start_yanex("run", "loop.py", str(marker), cwd=tmp_path)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("ready"), line
    child = int(line.split()[1])
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGINT
    assert marker.read_text() == "SIGINT"  # the script got SIGINT first
    assert wait_until(lambda: not running(child))
    metadata = only_record()
    assert metadata["status"] == "cancelled"
    assert metadata["failure_reason"] == "cancelled"
    assert "cancelled" in err
    assert Store().running_ids() == []


def test_ctrl_c_also_stops_a_command_started_with_execute_bash_script(tmp_path: Path) -> None:
    write(
        tmp_path / "shell.py",
        """
        import yanex
        print("ready", flush=True)
        yanex.execute_bash_script("echo $$ > bash.pid; exec sleep 30")
        """,
    )
    process = start_yanex("run", "shell.py", cwd=tmp_path)
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    [experiment_id] = Store().ids()
    pid_file = Store().path(experiment_id) / "bash.pid"
    assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip() != "")
    sleeper = int(pid_file.read_text())
    try:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
        assert only_record()["status"] == "cancelled"
        assert wait_until(lambda: not running(sleeper), 3), "the shell command outlived the run"
    finally:
        if running(sleeper):
            os.kill(sleeper, signal.SIGKILL)


def test_a_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    write(
        tmp_path / "deaf.py",
        """
        import os, signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", os.getpid(), flush=True)
        while True:
            time.sleep(0.01)
        """,
    )
    process = start_yanex("run", "deaf.py", cwd=tmp_path)
    assert process.stdout is not None
    child = int(process.stdout.readline().split()[1])
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    # Without the second Ctrl-C the ladder would wait out its grace periods (3 s + 5 s).
    assert time.monotonic() - started < 2.5
    assert process.returncode == 128 + signal.SIGINT
    assert wait_until(lambda: not running(child))
    assert only_record()["status"] == "cancelled"


STUBBORN = """
import os, signal, sys, time
log = sys.argv[1]
def note(signum, frame):
    with open(log, "a") as handle:
        handle.write(signal.Signals(signum).name + "\\n")
signal.signal(signal.SIGINT, note)
signal.signal(signal.SIGTERM, note)
print("ready", flush=True)
while True:
    time.sleep(0.01)
"""


def test_the_termination_ladder_is_sigint_then_sigterm_then_sigkill(
    tmp_path: Path, experiments_dir: Path
) -> None:
    script = write(tmp_path / "stubborn.py", STUBBORN)
    log = tmp_path / "signals.log"
    store = Store()
    experiment_id = store.create(
        {
            "status": "queued",
            "script_path": str(script),
            "script_args": [str(log)],
            "cwd": str(tmp_path),
        },
        {},
    )
    runner = Runner(store, RunOptions(interrupt_grace=0.3, terminate_grace=0.3))
    control = RunControl()
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(runner.run(experiment_id, control)))
    worker.start()
    stdout = store.artifacts_dir(experiment_id) / "stdout.txt"
    assert wait_until(lambda: stdout.exists() and "ready" in stdout.read_text())
    started = time.monotonic()
    control.cancel("stop it")
    worker.join(timeout=20)
    took = time.monotonic() - started
    assert not worker.is_alive()
    assert log.read_text().split() == ["SIGINT", "SIGTERM"]
    assert 0.5 < took < 5
    [result] = results
    assert result.status == "cancelled"
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == "cancelled" and metadata["error_message"] == "stop it"
    assert not running(metadata["execution"]["child_pid"])


# -- errors ----------------------------------------------------------------------------------


def cli_run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["run", *args])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a good script, made the cwd."""
    write(tmp_path / "train.py", "print('ok')\n")
    write(tmp_path / "notes.txt", "not python\n")
    (tmp_path / "package").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_nothing_created(experiments_dir: Path) -> None:
    if experiments_dir.exists():
        leftovers = [p.name for p in experiments_dir.iterdir() if not p.name.startswith(".")]
        assert leftovers == []
    assert Store().ids() == []
    assert Store().batch_ids() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py"], "script not found: missing.py"),
        (["package"], "package is a directory"),
        (["notes.txt"], "notes.txt is not a Python file"),
        (["train.py", "--param", "lr"], 'invalid --param "lr": no "=" in it'),
        (["train.py", "--param", "=3"], 'invalid --param "=3": the key is empty'),
        (["train.py", "-c", "absent.yaml"], "absent.yaml does not exist"),
    ],
)
def test_usage_errors_are_one_line_exit_2_and_create_nothing(
    project: Path, experiments_dir: Path, args: list[str], message: str
) -> None:
    result = cli_run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert_nothing_created(experiments_dir)


def test_a_config_that_is_not_a_mapping(project: Path, experiments_dir: Path) -> None:
    write(project / "list.yaml", "- 1\n- 2\n")
    result = cli_run("train.py", "-c", "list.yaml")
    assert result.exit_code == 2
    assert "list.yaml must contain a mapping" in result.output
    assert "got a list" in result.output
    assert_nothing_created(experiments_dir)


def test_a_config_that_does_not_parse_names_file_line_and_column(
    project: Path, experiments_dir: Path
) -> None:
    write(project / "broken.yaml", "lr: 0.1\nmodel:\n  layers: [1, 2\n  act: relu\n")
    result = cli_run("train.py", "-c", "broken.yaml")
    assert result.exit_code == 2
    first = result.output.strip().splitlines()[0]
    assert first.startswith("Error: cannot parse config file broken.yaml at line 4, column")
    assert "Traceback" not in result.output
    assert_nothing_created(experiments_dir)


def test_a_broken_default_config_yaml_is_reported_too(project: Path, experiments_dir: Path) -> None:
    write(project / "config.yaml", "just a string\n")
    result = cli_run("train.py")
    assert result.exit_code == 2
    assert "config.yaml must contain a mapping" in result.output
    assert_nothing_created(experiments_dir)


def test_errors_from_the_real_command_line(tmp_path: Path, experiments_dir: Path) -> None:
    result = run_yanex("run", "nope.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: script not found: nope.py"
    assert result.stdout == ""
    assert_nothing_created(experiments_dir)


def test_an_unusable_experiments_directory_is_exit_1_in_one_line(tmp_path: Path) -> None:
    write(tmp_path / "train.py", "print('ok')\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory")
    env = {**os.environ, "YANEX_EXPERIMENTS_DIR": str(blocker / "experiments")}
    result = run_yanex("run", "train.py", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and "YANEX_EXPERIMENTS_DIR" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_artifact_name_that_escapes_fails_the_run_clearly(
    tmp_path: Path, experiments_dir: Path
) -> None:
    write(tmp_path / "escape.py", "import yanex\nyanex.save_artifact('x', '../../outside.txt')\n")
    result = run_yanex("run", "escape.py", cwd=tmp_path)
    assert result.returncode == 1
    metadata = only_record()
    assert metadata["status"] == "failed"
    assert "ArtifactError" in metadata["error_message"]
    assert "escapes the artifacts directory" in metadata["error_message"]
    assert not (experiments_dir / "outside.txt").exists()
    assert not (experiments_dir.parent / "outside.txt").exists()


# -- git and environment capture -------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit of train.py, on branch main."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    path = tmp_path / "repo"
    path.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Ada Lovelace"],
        ["config", "user.email", "ada@example.com"],
        ["config", "commit.gpgsign", "false"],
    ):
        git(path, *args)
    write(path / "train.py", "print('trained')\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first commit")
    return path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_a_clean_repository_is_recorded(repo: Path, experiments_dir: Path) -> None:
    git(repo, "remote", "add", "origin", f"https://ada:{SECRET}@github.com/ada/engine.git")
    result = run_yanex("run", "train.py", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    metadata = only_record()
    recorded = metadata["git"]
    assert recorded["commit_hash"] == git(repo, "rev-parse", "HEAD").strip()
    assert recorded["commit_hash_short"] == recorded["commit_hash"][:8]
    assert recorded["branch"] == "main"
    assert recorded["message"] == "first commit"
    assert recorded["author"] == "Ada Lovelace"
    assert recorded["remote_url"] == "https://github.com/ada/engine.git"
    assert recorded["has_uncommitted_changes"] is False
    assert recorded["patch_file"] is None
    assert not (experiments_dir / metadata["id"] / "artifacts" / "git_diff.patch").exists()
    assert SECRET not in (experiments_dir / metadata["id"] / "metadata.json").read_text()


def test_a_dirty_repository_saves_the_patch_and_flags_secrets(
    repo: Path, experiments_dir: Path
) -> None:
    write(repo / "train.py", f"print('trained')\npassword = \"{SECRET}\"\n")
    result = run_yanex("run", "train.py", cwd=repo)
    assert result.returncode == 0, result.stderr
    metadata = only_record()
    recorded = metadata["git"]
    assert recorded["has_uncommitted_changes"] is True
    assert recorded["patch_file"] == "artifacts/git_diff.patch"
    patch = experiments_dir / metadata["id"] / "artifacts" / "git_diff.patch"
    assert patch.read_text() == git(repo, "diff", "HEAD")
    assert recorded["patch_size_bytes"] == patch.stat().st_size
    assert recorded["patch_has_secrets"] is True
    assert recorded["patch_secret_count"] >= 1
    assert {"file": "train.py", "line": 2} in [
        {"file": f["file"], "line": f["line"]} for f in recorded["patch_secrets"]
    ]
    # Summarised and warned about, never printed or stored outside the patch itself.
    assert "secret" in result.stderr.lower() and "train.py" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert SECRET not in (experiments_dir / metadata["id"] / "metadata.json").read_text()


def test_the_patch_is_readable_like_other_store_files(repo: Path, experiments_dir: Path) -> None:
    write(repo / "train.py", "print('changed')\n")
    assert run_yanex("run", "train.py", cwd=repo).returncode == 0
    patch = experiments_dir / only_record()["id"] / "artifacts" / "git_diff.patch"
    assert stat.S_IMODE(patch.stat().st_mode) == 0o666 & ~umask()


def test_a_patch_over_one_megabyte_warns(repo: Path) -> None:
    write(repo / "data.txt", "")
    git(repo, "add", "data.txt")
    git(repo, "commit", "-q", "-m", "data")
    line = "0123456789" * 6 + "\n"
    (repo / "data.txt").write_text(line * 20_000)  # about 1.2 MB of added lines
    result = run_yanex("run", "train.py", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "MB" in result.stderr and "warning" in result.stderr.lower()
    recorded = only_record()["git"]
    assert recorded["patch_size_bytes"] > 1024 * 1024
    assert recorded["has_uncommitted_changes"] is True
