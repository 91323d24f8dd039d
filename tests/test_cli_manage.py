"""`yanex archive | unarchive | delete | update`: ids or filters, never both; says what it did."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_results import make_experiment

import yanex.results as yr
from yanex.cli.main import cli
from yanex.core.store import Store


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


@pytest.fixture
def store(experiments_dir: Path) -> Store:
    return Store(experiments_dir)


@pytest.fixture
def runs(store: Store) -> dict[str, str]:
    return {
        "old": make_experiment(store, name="old", tags=["junk"], age=timedelta(days=9)),
        "bad": make_experiment(
            store, name="bad", status="failed", tags=["junk"], age=timedelta(days=1)
        ),
        "keep": make_experiment(store, name="keep", tags=["best"], age=timedelta(hours=1)),
        "live": make_experiment(store, name="live", status="running"),
    }


def test_archive_and_unarchive(store: Store, runs: dict[str, str]) -> None:
    result = run("archive", runs["old"], runs["keep"])
    assert result.exit_code == 0
    assert result.stdout == f"{runs['old']} old: archived\n{runs['keep']} keep: archived\n"
    assert (store.root / "archived" / runs["old"]).is_dir()
    assert run("archive", runs["old"]).stdout == f"{runs['old']} old: skipped (already archived)\n"
    back = run("unarchive", "-t", "best")  # filters search the archive
    assert back.stdout == f"{runs['keep']} keep: unarchived\n"
    assert {e.id for e in yr.find(archived=True)} == {runs["old"]}


def test_archive_by_filters(store: Store, runs: dict[str, str]) -> None:
    result = run("archive", "-t", "junk", "--ended-before", "12 hours ago")
    assert result.exit_code == 0
    assert {line.split()[0] for line in result.stdout.splitlines()} == {runs["old"], runs["bad"]}
    assert {e.id for e in yr.find()} == {runs["keep"], runs["live"]}


def test_archive_refuses_running(runs: dict[str, str]) -> None:
    result = run("archive", runs["live"])
    assert result.exit_code == 2
    assert f"yanex cancel {runs['live']}" in result.stderr


@pytest.mark.parametrize("command", ["archive", "unarchive", "delete", "update"])
def test_selection_rules(runs: dict[str, str], command: str) -> None:
    extra = ["--add-tag", "x"] if command == "update" else []
    both = run(command, runs["old"], "-s", "failed", *extra)
    assert both.exit_code == 2
    assert both.stderr.strip() == "Error: give experiment ids or filters, not both"
    nothing = run(command, *extra)
    assert nothing.exit_code == 2 and "nothing is selected by default" in nothing.stderr
    unknown = run(command, "ffffffff", *extra)
    assert unknown.exit_code == 1 and "no experiment with id" in unknown.stderr


def test_no_match_names_the_filter(runs: dict[str, str]) -> None:
    result = run("archive", "-t", "junk", "-s", "cancelled")
    assert result.exit_code == 1
    assert "status=cancelled matches none of the 4 experiments" in result.stderr


def test_delete_with_force(store: Store, runs: dict[str, str]) -> None:
    result = run("delete", "-t", "junk", "--force")
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()) == sorted(
        [f"{runs['old']} old: deleted", f"{runs['bad']} bad: deleted"]
    )
    assert not store.exists(runs["old"]) and store.exists(runs["keep"])


def test_delete_refusals(store: Store, runs: dict[str, str]) -> None:
    live = run("delete", runs["live"], "--force")
    assert live.exit_code == 2
    assert "still queued or running" in live.stderr and "yanex cancel" in live.stderr
    unasked = run("delete", runs["old"], stdin="y\n")  # stdin is not a terminal
    assert unasked.exit_code == 2
    assert "without confirmation (stdin is not a terminal); pass --force" in unasked.stderr
    assert store.exists(runs["old"]) and store.exists(runs["live"])


def in_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run yanex with a real pseudo-terminal as stdin/stdout and type `answer`."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "yanex", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=os.environ.copy(),
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in output and time.monotonic() < deadline:
        if select.select([leader], [], [], 0.5)[0]:
            output += os.read(leader, 4096)
    os.write(leader, answer)
    code = process.wait(timeout=30)
    while select.select([leader], [], [], 0.1)[0]:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return code, output.decode(errors="replace")


def test_delete_asks_in_a_terminal(store: Store, runs: dict[str, str]) -> None:
    code, output = in_terminal(["delete", runs["old"]], b"n\n")
    assert code == 1 and "Delete 1 experiment and all their files?" in output
    assert store.exists(runs["old"])
    code, output = in_terminal(["delete", runs["old"]], b"y\n")
    assert code == 0 and f"{runs['old']} old: deleted" in output
    assert not store.exists(runs["old"])


def test_update(store: Store, runs: dict[str, str]) -> None:
    result = run(
        "update",
        runs["keep"],
        "--set-name",
        "champion",
        "--set-description",
        "the best",
        "--add-tag",
        "paper",
        "--remove-tag",
        "best",
    )
    assert result.exit_code == 0
    assert result.stdout == (
        f"{runs['keep']} champion: name -> 'champion'; description set; +tag paper; -tag best\n"
    )
    experiment = yr.get_experiment(runs["keep"])
    assert (experiment.name, experiment.description, experiment.tags) == (
        "champion",
        "the best",
        ["paper"],
    )
    tagged = run("update", "-t", "junk", "--add-tag", "review")
    assert len(tagged.stdout.splitlines()) == 2
    assert all("review" in yr.get_experiment(runs[k]).tags for k in ("old", "bad"))


def test_update_errors(runs: dict[str, str]) -> None:
    nothing = run("update", runs["keep"])
    assert nothing.exit_code == 2 and "nothing to update" in nothing.stderr
    status = run("update", runs["keep"], "--set-status", "completed")
    assert status.exit_code == 2 and "No such option '--set-status'" in status.stderr
    clash = run("update", runs["keep"], "--add-tag", "a", "--remove-tag", "a")
    assert clash.exit_code == 2 and "both added and removed" in clash.stderr
