"""`yanex run` sweeps: -j, exit codes, captured or prefixed output, progress, Ctrl-C.

Sweeps run real experiment subprocesses through the CLI: in-process with click's
CliRunner, or as a real `python -m yanex` process where signals and terminals matter.
"""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from support import process_gone as gone
from support import wait_until

from yanex.cli.main import cli
from yanex.cli.progress import BarReporter, SummaryReporter, make_reporter
from yanex.core.spec import ExperimentResult
from yanex.core.store import Store
from yanex.execution.events import PlainReporter

MEMBER = """\
import sys
import yanex

x = yanex.get_param("x")
for line in range(3):
    print(f"member {x} line {line}")
print(f"member {x} complains", file=sys.stderr)
yanex.log_metrics({"x": x, "argv": sys.argv[1:]})
if x == yanex.get_param("fail_on", None):
    sys.exit(4)
"""


@pytest.fixture
def member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "member.py"
    path.write_text(MEMBER)
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def records() -> list[dict[str, Any]]:
    return sorted(Store().iter_metadata(), key=lambda m: str(m.get("name")))


def finished_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[") and "/" in line[:8]]


def yanex_process(*args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "yanex", "run", *args], **kwargs)


# --- sweeps through CliRunner (no terminal) --------------------------------------------------


def test_sweep_runs_every_member_and_prints_one_line_each(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2, 3)", "-j", "2")
    assert result.exit_code == 0, result.output
    stored = records()
    assert [m["name"] for m in stored] == ["member-x=1", "member-x=2", "member-x=3"]
    assert all(m["status"] == "completed" and "sweep" in m["tags"] for m in stored)
    assert len({m["batch"] for m in stored}) == 1
    assert [Store().read_config(m["id"])["x"] for m in stored] == [1, 2, 3]
    lines = finished_lines(result.stderr)
    assert len(lines) == 3
    for metadata in stored:
        assert sum(metadata["id"] in line for line in lines) == 1
    assert f"batch {stored[0]['batch']}: 3 experiment(s)" in result.stderr
    assert "3 experiment(s): 3 completed" in result.stderr


def test_member_output_is_captured_to_its_own_files(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-j", "2")
    assert result.exit_code == 0
    assert "member 1 line" not in result.output and "complains" not in result.output
    for metadata in records():
        x = Store().read_config(metadata["id"])["x"]
        artifacts = Store().artifacts_dir(metadata["id"])
        stdout = (artifacts / "stdout.txt").read_text()
        assert stdout == "".join(f"member {x} line {n}\n" for n in range(3))
        assert (artifacts / "stderr.txt").read_text() == f"member {x} complains\n"


def test_a_failing_member_makes_the_sweep_exit_1_and_is_listed(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2, 3)", "-p", "fail_on=2", "-j", "2")
    assert result.exit_code == 1
    failed = [m for m in records() if m["status"] == "failed"]
    assert [m["name"] for m in failed] == ["member-x=2"]
    assert failed[0]["failure_reason"] == "exit_code" and failed[0]["exit_code"] == 4
    assert "3 experiment(s): 2 completed, 1 failed" in result.stderr
    summary = result.stderr.split("3 experiment(s):")[1]
    assert f"failed {failed[0]['id']} member-x=2: script exited with code 4" in summary
    assert "member 2 complains" in summary  # the last stderr line is in the message


def test_parallel_zero_and_the_long_flag(member: Path) -> None:
    assert invoke(str(member), "-p", "x=list(1, 2)", "-j", "0").exit_code == 0
    assert invoke(str(member), "-p", "x=list(3, 4)", "--parallel", "2").exit_code == 0
    assert [m["status"] for m in records()] == ["completed"] * 4


def test_sequential_sweep_without_parallel(member: Path) -> None:
    result = invoke(str(member), "-p", "x=range(2)")
    assert result.exit_code == 0
    first, second = records()
    assert second["started_at"] >= first["ended_at"]


def test_negative_parallel_is_a_usage_error(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-j", "-1")
    assert result.exit_code == 2
    assert Store().ids() == []


def test_parallel_with_stage_is_a_usage_error(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-j", "2", "--stage")
    assert result.exit_code == 2
    assert "--parallel cannot be combined with --stage" in result.output
    assert Store().ids() == []


def test_script_args_reach_every_member(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-j", "2", "--", "--epochs", "3", "a b")
    assert result.exit_code == 0
    for metadata in records():
        assert Store().read_metrics(metadata["id"])[-1]["argv"] == ["--epochs", "3", "a b"]


def test_grid_of_two_sweeps(member: Path) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-p", "y=list(a, b)", "-j", "2")
    assert result.exit_code == 0
    names = [m["name"] for m in records()]
    assert names == ["member-x=1-y=a", "member-x=1-y=b", "member-x=2-y=a", "member-x=2-y=b"]
    assert "4 experiment(s): 4 completed" in result.stderr


def test_timeout_applies_to_every_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(30)\n")
    started = time.monotonic()
    result = invoke("slow.py", "-p", "x=list(1, 2)", "-j", "2", "--timeout", "0.4")
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert [(m["status"], m["failure_reason"]) for m in records()] == [("failed", "timeout")] * 2
    assert result.stderr.count("timed out after 0.4 s") >= 2


def test_module_sweep_with_its_own_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    package = tmp_path / "tool"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(
        "import sys\nimport yanex\n"
        "yanex.log_metrics({'x': yanex.get_param('x'), 'py': sys.prefix})\n"
    )
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", "venv"],
        check=True,
        capture_output=True,
    )
    python = "venv/bin/python"
    result = invoke("-m", "tool.main", "--python", python, "-p", "x=list(1, 2)", "-j", "2")
    assert result.exit_code == 0, result.output
    stored = records()
    assert [m["name"] for m in stored] == ["main-x=1", "main-x=2"]
    for metadata in stored:
        assert metadata["module"] == "tool.main"
        assert metadata["python"] == str(tmp_path / "venv/bin/python")
        assert Store().read_metrics(metadata["id"])[-1]["py"] == str(tmp_path / "venv")


# --- live output: -s / --capture=no ---------------------------------------------------------


@pytest.mark.parametrize("flag", [["-s"], ["--capture=no"]])
def test_live_output_is_prefixed_with_the_member_name(member: Path, flag: list[str]) -> None:
    result = invoke(str(member), "-p", "x=list(1, 2)", "-j", "2", *flag)
    assert result.exit_code == 0
    for x in (1, 2):
        for n in range(3):
            assert f"[member-x={x}] member {x} line {n}\n" in result.stdout
        assert f"[member-x={x}] member {x} complains\n" in result.stderr
    assert "2 experiment(s): 2 completed" in result.stderr
    for metadata in records():  # the files keep the output unprefixed
        stdout = (Store().artifacts_dir(metadata["id"]) / "stdout.txt").read_text()
        assert stdout.startswith("member ")


# --- reporters --------------------------------------------------------------------------------


def results_of_every_kind() -> list[ExperimentResult]:
    return [
        ExperimentResult("aaaa0001", "completed", None, 0.5, "lr-1", 0),
        ExperimentResult("aaaa0002", "completed", None, 0.5, "lr-2", 0),
        ExperimentResult(
            "aaaa0003",
            "failed",
            "script exited with code 3: [/] KeyError: [x]",
            0.5,
            "lr-[3]",
            3,
            "exit_code",
        ),
        ExperimentResult(
            "aaaa0004", "cancelled", "cancelled by Ctrl-C", None, "lr-4", None, "cancelled"
        ),
        ExperimentResult(
            "aaaa0005",
            "cancelled",
            "dependency aaaa0003 failed",
            None,
            "lr-5",
            None,
            "dependency_failed",
        ),
    ]


def test_bar_reporter_counts_each_outcome() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=200, color_system=None)
    bar = BarReporter(console)
    results = results_of_every_kind()
    ids = [r.experiment_id for r in results]
    bar.batch_started("b0b0b0b0", ids, [r.name or "" for r in results])
    for result in results:
        bar.experiment_started(result.experiment_id, result.name or "")
    assert "lr-[3]" in bar.progress.tasks[0].fields["running"].replace("\\", "")
    for result in results:
        bar.experiment_finished(result)
    bar.batch_finished(results)
    output = stream.getvalue()
    task = bar.progress.tasks[0]
    assert task.completed == 5 and task.total == 5
    assert bar.counts == {"completed": 2, "failed": 1, "cancelled": 1, "skipped": 1}
    assert "batch b0b0b0b0" in output and "5/5" in output
    assert "✓ 2" in output and "✗ 1" in output and "⊘ 1" in output and "↷ 1" in output
    assert "✗ aaaa0003 lr-[3]: script exited with code 3: [/] KeyError: [x]" in output


def test_bar_reporter_shows_the_running_names() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=200, color_system=None)
    bar = BarReporter(console)
    bar.batch_started("b0b0b0b0", ["aaaa0001", "aaaa0002"], ["first", "second"])
    bar.experiment_started("aaaa0001", "first")
    bar.experiment_started("aaaa0002", "second")
    bar.progress.refresh()
    assert "first, second" in stream.getvalue()
    bar.batch_finished([])


def test_summary_lists_every_unsuccessful_member_with_its_error() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=300, color_system=None)
    plain = io.StringIO()
    reporter = SummaryReporter(console, PlainReporter(plain))
    results = results_of_every_kind()
    reporter.batch_started("b0b0b0b0", [r.experiment_id for r in results], [])
    for result in results:
        reporter.experiment_finished(result)
    reporter.batch_finished(results)
    summary = stream.getvalue()
    assert "5 experiment(s): 1 cancelled, 2 completed, 1 failed, 1 skipped" in summary
    assert "failed aaaa0003 lr-[3]: script exited with code 3: [/] KeyError: [x]" in summary
    assert "cancelled aaaa0004 lr-4: cancelled by Ctrl-C" in summary
    assert "skipped aaaa0005 lr-5: dependency aaaa0003 failed" in summary
    assert "aaaa0001" not in summary
    assert len(finished_lines(plain.getvalue())) == 5


def test_summary_survives_a_status_it_has_no_colour_for() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=200, color_system=None)
    reporter = SummaryReporter(console, PlainReporter(io.StringIO()))
    reporter.batch_finished([ExperimentResult("aaaa0001", "running", name="elsewhere")])
    assert "1 experiment(s): 1 running" in stream.getvalue()
    assert "running aaaa0001 elsewhere" in stream.getvalue()


@pytest.mark.skipif(sys.stderr.isatty(), reason="stderr is a terminal (pytest -s)")
def test_plain_lines_without_a_terminal() -> None:
    reporter = make_reporter(single=False, live_output=False)
    assert isinstance(reporter, SummaryReporter)
    assert isinstance(reporter.display, PlainReporter)


# --- real processes: pipes, a terminal, Ctrl-C, a killed CLI -----------------------------------


def test_through_pipes_one_line_per_finished_experiment(member: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "yanex", "run", str(member), "-p", "x=list(1, 2, 3)", "-j", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = finished_lines(done.stderr)
    assert sorted(line[:5] for line in lines) == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(line.endswith("s") and " completed in " in line for line in lines)
    assert "\x1b[" not in done.stderr  # no escape codes in logs


def test_in_a_terminal_a_progress_bar_then_the_summary(member: Path) -> None:
    controller, terminal = pty.openpty()
    process = yanex_process(
        str(member),
        "-p",
        "x=list(1, 2, 3)",
        "-p",
        "fail_on=3",
        "-j",
        "2",
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        assert ready, "no output from yanex in 30 s"
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: yanex exited
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 1
    text = output.decode("utf-8", errors="replace")
    assert "3/3" in text and "✓ 2" in text and "✗ 1" in text
    assert "3 experiment(s):" in text and "script exited with code 4" in text
    assert "Traceback" not in text


SLEEPER = """\
import os, time
import yanex

with open(os.environ["READY_FILE"], "a") as f:
    f.write(f"{yanex.get_experiment_id()} {os.getpid()}\\n")
time.sleep(1.0)
yanex.log_metrics({"done": 1})
"""


@pytest.mark.parametrize("presses", [1, 2], ids=["ctrl-c", "ctrl-c-twice-at-once"])
def test_ctrl_c_cancels_a_parallel_sweep_and_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, presses: int
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    ready = tmp_path / "ready.txt"
    process = yanex_process(
        "sleeper.py", "-p", "x=range(6)", "-j", "2",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "READY_FILE": str(ready)},
    )  # fmt: skip
    store = Store()

    def two_running() -> bool:
        running = [m for m in store.iter_metadata() if m["status"] == "running"]
        return len(running) == 2 and ready.exists() and len(ready.read_text().splitlines()) >= 2

    wait_until(two_running)
    for _ in range(presses):  # a second press may land while the first is being handled
        process.send_signal(signal.SIGINT)
        time.sleep(0.01)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGINT, output
    stored = list(store.iter_metadata())
    assert len(stored) == 6
    statuses = [m["status"] for m in stored]
    assert set(statuses) <= {"cancelled", "completed"}, statuses
    assert statuses.count("cancelled") >= 4
    for metadata in stored:
        child = metadata.get("execution", {}).get("child_pid")
        if child is not None:
            assert gone(child), f"member process {child} survived"
        if metadata["status"] == "cancelled":
            assert metadata["failure_reason"] == "cancelled"
    for line in ready.read_text().splitlines():
        assert gone(int(line.split()[1]))
    assert store.running_ids() == []
    assert b"interrupted" in output and b"6 experiment(s)" in output


STUBBORN = """\
import os, signal, time

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(os.environ["READY_FILE"], "a") as f:
    f.write(f"{os.getpid()}\\n")
time.sleep(30)
"""


def test_a_second_ctrl_c_kills_members_that_ignore_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stubborn.py").write_text(STUBBORN)
    ready = tmp_path / "ready.txt"
    process = yanex_process(
        "stubborn.py", "-p", "x=range(3)", "-j", "2",
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "READY_FILE": str(ready)},
    )  # fmt: skip
    wait_until(lambda: ready.exists() and len(ready.read_text().splitlines()) == 2)
    process.send_signal(signal.SIGINT)
    assert process.stdout is not None
    seen = b""
    while b"interrupted" not in seen:  # the first Ctrl-C is handled; the members ignore it
        ready_to_read, _, _ = select.select([process.stdout], [], [], 15)
        assert ready_to_read, seen
        seen += os.read(process.stdout.fileno(), 65536)  # unbuffered: select stays truthful
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    output = seen + output
    assert time.monotonic() - started < 2.5  # no grace periods after the second Ctrl-C
    assert process.returncode == 128 + signal.SIGINT, output.decode()
    assert b"killing running experiments" in output
    stored = list(Store().iter_metadata())
    assert sorted(m["status"] for m in stored) == ["cancelled"] * 3
    for pid in (int(line) for line in ready.read_text().splitlines()):
        assert gone(pid)


def test_a_killed_cli_leaves_runs_that_the_next_run_marks_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sleeper.py").write_text(SLEEPER.replace("1.0", "30"))
    ready = tmp_path / "ready.txt"
    process = yanex_process(
        "sleeper.py",
        "-p",
        "x=range(2)",
        "-j",
        "2",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "READY_FILE": str(ready)},
    )
    wait_until(lambda: ready.exists() and len(ready.read_text().splitlines()) == 2)
    process.kill()
    process.wait(timeout=10)
    pids = [int(line.split()[1]) for line in ready.read_text().splitlines()]
    wait_until(lambda: all(gone(pid) for pid in pids))  # members die with their supervisor
    (tmp_path / "quick.py").write_text("")
    assert invoke("quick.py").exit_code == 0
    stored = list(Store().iter_metadata())
    lost = [m for m in stored if not m["script_path"].endswith("quick.py")]
    assert [(m["status"], m["failure_reason"]) for m in lost] == [("failed", "runner_lost")] * 2
    assert "is gone" in lost[0]["error_message"]
    assert Store().running_ids() == []
