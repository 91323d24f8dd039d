"""`yanex list | show | compare | get | plot` through click's CliRunner, errors included.

Machine formats are parsed back; piping into `head` runs real processes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from test_results import make_experiment, write_legacy

from yanex.cli.main import cli
from yanex.core.store import Store

SUMMARY_KEYS = [
    "id",
    "name",
    "status",
    "tags",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "script",
    "batch",
]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def store(experiments_dir: Path) -> Store:
    return Store(experiments_dir)


@pytest.fixture
def sweep(store: Store) -> dict[str, str]:
    """Three finished runs of a small sweep and one still running."""
    return {
        "slow": make_experiment(
            store,
            name="lr-0.1",
            config={"lr": 0.1, "bs": 32},
            tags=["sweep"],
            metrics=[{"acc": 0.5, "loss": 1.0}, {"acc": 0.6, "loss": 0.8}],
            age=timedelta(hours=3),
            batch="cafe0001",
        ),
        "best": make_experiment(
            store,
            name="lr-0.01",
            config={"lr": 0.01, "bs": 32},
            tags=["sweep", "keep"],
            metrics=[{"acc": 0.7, "loss": 0.9}, {"acc": 0.9, "loss": 0.2}],
            age=timedelta(hours=2),
            batch="cafe0001",
        ),
        "broken": make_experiment(
            store,
            name="lr-1",
            status="failed",
            config={"lr": 1.0, "bs": 32},
            tags=["sweep"],
            metrics=[{"acc": 0.1, "loss": 9.0}],
            age=timedelta(hours=1),
            batch="cafe0001",
            error_message="ValueError: nan loss",
            failure_reason="exit_code",
            exit_code=1,
        ),
        "live": make_experiment(
            store,
            name="live",
            status="running",
            config={"lr": 0.05},
            execution={"worker": "gpu-box-7", "host": "gpu-box-7", "attempt": 1},
            age=timedelta(minutes=2),
        ),
    }


# --- list ---------------------------------------------------------------------------------


def test_list_table(sweep: dict[str, str]) -> None:
    result = run("list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split()[:6] == ["id", "name", "status", "tags", "started", "duration"]
    assert [line.split()[0] for line in lines[1:]] == [
        sweep["live"],
        sweep["broken"],
        sweep["best"],
        sweep["slow"],
    ]
    assert re.search(r"running \(gpu-box-7, [12]m \d\ds\)", result.stdout)
    assert "sweep, keep" in result.stdout


def test_list_limit_and_all(store: Store) -> None:
    for index in range(23):
        make_experiment(store, name=f"n{index}", age=timedelta(minutes=index))
    result = run("list")
    assert len(result.stdout.splitlines()) == 21
    assert "20 of 23 shown" in result.stderr
    assert len(run("list", "--all").stdout.splitlines()) == 24
    assert len(run("list", "-l", "2").stdout.splitlines()) == 3
    assert run("list", "-l", "0").exit_code == 2


def test_list_json_parses_back(sweep: dict[str, str]) -> None:
    result = run("list", "-F", "json", "--params", "lr,bs", "--metrics", "acc,loss:min")
    rows = json.loads(result.stdout)
    assert list(rows[0]) == [*SUMMARY_KEYS, "param:lr", "param:bs", "metric:acc", "metric:loss:min"]
    best = next(row for row in rows if row["id"] == sweep["best"])
    assert best["param:lr"] == 0.01 and best["metric:acc"] == 0.9
    assert best["metric:loss:min"] == 0.2 and best["tags"] == ["sweep", "keep"]
    assert best["duration"] == 60.0 and best["batch"] == "cafe0001"
    assert "\x1b[" not in result.stdout


def test_list_csv_and_markdown(sweep: dict[str, str]) -> None:
    result = run("list", "-F", "csv", "--params", "lr", "-t", "sweep")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [*SUMMARY_KEYS, "param:lr"]
    assert [row["id"] for row in rows] == [sweep["broken"], sweep["best"], sweep["slow"]]
    assert rows[1]["tags"] == "sweep,keep" and rows[1]["param:lr"] == "0.01"
    markdown = run("list", "-F", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| id | name | status |") and markdown[1].startswith("| --- |")
    assert len(markdown) == 6


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-s", "failed"], ["broken"]),
        (["-s", "FAILED", "-s", "running"], ["live", "broken"]),
        (["-n", "lr-0.*"], ["best", "slow"]),
        (["-t", "sweep", "-t", "keep"], ["best"]),
        (["--script", "train"], ["live", "broken", "best", "slow"]),
        (["--batch", "cafe"], ["broken", "best", "slow"]),
        (["-w", "lr<0.1"], ["live", "best"]),
        (["-w", "metric:acc>=0.6", "-w", "bs==32"], ["best", "slow"]),
        (["-w", "metric:loss:min<=0.8"], ["best", "slow"]),
        (["--started-after", "90 minutes ago"], ["live", "broken"]),
        (["--ended-before", "1 hour ago"], ["best", "slow"]),
        (["-i", "ffffffff"], []),
    ],
)
def test_list_filters(sweep: dict[str, str], args: list[str], expected: list[str]) -> None:
    result = run("list", "-F", "json", *args)
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)] == [sweep[k] for k in expected]


def test_list_id_filter(sweep: dict[str, str]) -> None:
    rows = json.loads(run("list", "-F", "json", "-i", sweep["best"][:5]).stdout)
    assert sweep["best"] in [row["id"] for row in rows]


def test_list_archived(store: Store, sweep: dict[str, str]) -> None:
    store.archive(sweep["slow"])
    ids = [row["id"] for row in json.loads(run("list", "-F", "json").stdout)]
    assert sweep["slow"] not in ids
    archived = json.loads(run("list", "-F", "json", "--archived").stdout)
    assert [row["id"] for row in archived] == [sweep["slow"]]
    assert len(json.loads(run("list", "-F", "json", "--include-archived").stdout)) == 4
    both = run("list", "--archived", "--include-archived")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_list_nothing_matches(sweep: dict[str, str]) -> None:
    result = run("list", "-s", "failed", "-t", "keep")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no experiments match all of status=failed, tags=keep together" in result.stderr
    empty = run("list", "-F", "json", "-t", "nope")
    assert json.loads(empty.stdout) == []
    assert "tags=nope matches none of the 4 experiments" in empty.stderr


def test_list_empty_store(tmp_path: Path) -> None:
    result = run("list", "--dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 0 and "no experiments in" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "done"], "'done' is not one of 'created', 'staged', 'queued', 'running'"),
        (["-w", "lr"], "Error: cannot read the condition 'lr'"),
        (["-w", "metric:acc:median>1"], "Error: unknown metric aggregate 'median'"),
        (["--started-after", "someday"], "Error: cannot read started-after 'someday'"),
        (["--metrics", "acc:median"], "Error: unknown metric aggregate 'median'"),
    ],
)
def test_list_usage_errors(args: list[str], message: str) -> None:
    result = run("list", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_legacy_record_lists_and_shows(store: Store) -> None:
    write_legacy(store.root)
    make_experiment(store, name="new")
    rows = json.loads(run("list", "-F", "json", "--params", "lr").stdout)
    legacy = next(row for row in rows if row["id"] == "01d01d00")
    assert legacy["status"] == "failed" and legacy["param:lr"] == 0.01
    assert legacy["ended_at"] is not None and legacy["duration"] == pytest.approx(119.5)
    shown = run("show", "01d01d00")
    assert shown.exit_code == 0
    assert "legacy-run" in shown.stdout and "boom" in shown.stdout and "layers: 3" in shown.stdout


# --- show ---------------------------------------------------------------------------------


def test_show_table(store: Store, sweep: dict[str, str]) -> None:
    experiment_id = sweep["broken"]
    artifacts = store.artifacts_dir(experiment_id)
    (artifacts / "model.pt").write_bytes(b"x" * 2048)
    (artifacts / "git_diff.patch").write_text("diff --git a/f b/f\n+new\n-old\n")
    store.update_metadata(
        experiment_id,
        {
            "git": {
                "commit_hash": "abcdef0123",
                "commit_hash_short": "abcdef0",
                "branch": "main",
                "has_uncommitted_changes": True,
                "patch_size_bytes": 30,
            },
            "environment": {
                "python": {"version": "3.11.7", "executable": "/usr/bin/python3"},
                "hostname": "box",
            },
            "execution": {
                "backend": "rq",
                "worker": "w-3",
                "host": "box",
                "gpu": "1",
                "attempt": 2,
            },
            "attempts": [{"attempt": 1, "worker": "w-1", "failure_reason": "worker_lost"}],
            "dependencies": {"data": sweep["slow"]},
        },
    )
    result = run("show", experiment_id[:6])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in (
        f"Experiment {experiment_id}",
        "lr-1",
        "failed",
        "lr: 1.0",
        "bs: 32",
        "model.pt",
        "2.0 KB",
        "abcdef0 on main",
        "1 files, +1 -1 lines",
        "3.11.7",
        "w-3",
        "worker_lost on w-1",
        "exit_code",
        "ValueError: nan loss",
        "lr-0.1",
        "yanex run /work/project/train.py --param lr=1.0 --param bs=32 --name lr-1 --tag sweep",
    ):
        assert expected in out, expected
    assert "9 (min)" in out  # loss: last 9.0, best (lowest) 9.0


def test_show_json(sweep: dict[str, str]) -> None:
    details = json.loads(run("show", sweep["best"], "-F", "json").stdout)
    assert details["id"] == sweep["best"] and details["params"] == {"lr": 0.01, "bs": 32}
    loss = next(m for m in details["metrics"] if m["name"] == "loss")
    assert (loss["last"], loss["best"], loss["steps"]) == (0.2, 0.2, 2)
    assert details["status"] == "completed" and details["archived"] is False


def test_show_errors(store: Store) -> None:
    missing = run("show", "ffffffff")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: no experiment with id, id prefix or name 'ffffffff'")
    ids = [make_experiment(store) for _ in range(40)]
    prefixes = [i[0] for i in ids]
    shared = next(p for p in prefixes if prefixes.count(p) > 1)
    ambiguous = run("show", shared)
    assert ambiguous.exit_code == 2 and "matches" in ambiguous.stderr
    assert "Traceback" not in ambiguous.output


# --- compare ------------------------------------------------------------------------------


def test_compare_table_and_sort(sweep: dict[str, str]) -> None:
    result = run("compare", "-t", "sweep", "--sort", "metric:acc", "--desc")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "id",
        "name",
        "status",
        "duration",
        "param:lr",
        "metric:acc",
        "metric:loss",
    ]
    assert [line.split()[0] for line in lines[1:]] == [
        sweep["best"],
        sweep["slow"],
        sweep["broken"],
    ]


def test_compare_exports_parse_back(sweep: dict[str, str]) -> None:
    ids = [sweep["slow"], sweep["best"]]
    rows = json.loads(run("compare", *ids, "--metrics", "acc:max,loss", "-F", "json").stdout)
    assert list(rows[0]) == [*SUMMARY_KEYS, "param:lr", "metric:acc:max", "metric:loss"]
    assert [row["metric:acc:max"] for row in rows] == [0.6, 0.9]
    table = list(
        csv.DictReader(io.StringIO(run("compare", *ids, "--all-params", "-F", "csv").stdout))
    )
    assert {"param:lr", "param:bs"} <= set(table[0]) and table[1]["param:bs"] == "32"
    markdown = run("compare", *ids, "-F", "markdown").stdout
    assert markdown.startswith("| id | name | status |")


def test_compare_errors(sweep: dict[str, str]) -> None:
    both = run("compare", sweep["best"], "-s", "failed")
    assert both.exit_code == 2
    assert both.stderr.strip() == "Error: give experiment ids or filters, not both"
    none = run("compare", "-t", "nope")
    assert none.exit_code == 1 and "tags=nope matches none" in none.stderr
    bad_sort = run("compare", "--sort", "colour")
    assert bad_sort.exit_code == 2 and "cannot sort by 'colour'" in bad_sort.stderr


# --- get ----------------------------------------------------------------------------------


def test_get_values(store: Store, sweep: dict[str, str]) -> None:
    best = sweep["best"]
    assert run("get", "param:lr", best).stdout == "0.01\n"
    assert run("get", "metric:acc", best).stdout == "0.9\n"
    assert run("get", "metric:loss:max", best).stdout == "0.9\n"
    assert run("get", "meta:status", best).stdout == "completed\n"
    assert run("get", "tags", best).stdout == '["sweep", "keep"]\n'
    assert run("get", "experiment-dir", best).stdout == f"{store.root / best}\n"
    assert run("get", "artifacts-dir", best).stdout == f"{store.root / best / 'artifacts'}\n"
    command = run("get", "cli-command", best).stdout
    assert command.startswith("yanex run /work/project/train.py --param lr=0.01")


def test_get_over_filters(sweep: dict[str, str]) -> None:
    lines = run("get", "param:lr", "-t", "sweep").stdout.splitlines()
    assert lines == [f"{sweep['broken']}\t1.0", f"{sweep['best']}\t0.01", f"{sweep['slow']}\t0.1"]
    rows = json.loads(run("get", "metric:acc", "-s", "completed", "-F", "json").stdout)
    assert rows == [{"id": sweep["best"], "value": 0.9}, {"id": sweep["slow"], "value": 0.6}]
    table = list(
        csv.DictReader(io.StringIO(run("get", "param:lr", "-n", "live", "-F", "csv").stdout))
    )
    assert table == [{"id": sweep["live"], "value": "0.05"}]


def test_get_output_streams(store: Store, sweep: dict[str, str]) -> None:
    best = sweep["best"]
    (store.artifacts_dir(best) / "stdout.txt").write_text("a\nb\nc\n")
    (store.artifacts_dir(best) / "stderr.txt").write_text("warning\n")
    assert run("get", "stdout", best).stdout == "a\nb\nc\n"
    assert run("get", "stdout", best, "--tail", "2").stdout == "b\nc\n"
    assert run("get", "stdout", best, "--follow").stdout == "a\nb\nc\n"  # ended: no waiting
    assert run("get", "stderr", best).stdout == "warning\n"
    many = run("get", "stdout", "-t", "keep", "-t", "sweep")
    assert many.stdout == "a\nb\nc\n"
    several = run("get", "stdout", "-t", "sweep", "--follow")
    assert several.exit_code == 2 and "exactly one experiment" in several.stderr


def test_get_dependencies(store: Store, sweep: dict[str, str]) -> None:
    named = make_experiment(store, dependencies={"data": sweep["slow"]})
    listed = make_experiment(store, dependencies=[sweep["slow"], sweep["best"]])
    assert run("get", "dependencies", named).stdout == f'["data={sweep["slow"]}"]\n'
    assert json.loads(run("get", "dependencies", listed).stdout) == [sweep["slow"], sweep["best"]]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["colour"], 2, "Error: unknown field 'colour'; fields are: param:KEY"),
        (["param:lr", "--tail", "3"], 2, "--tail and --follow work with stdout and stderr"),
        (["param:nope"], 1, "has no parameter 'nope'"),
        (["metric:acc:median"], 2, "unknown metric aggregate 'median'"),
    ],
)
def test_get_errors(sweep: dict[str, str], args: list[str], code: int, message: str) -> None:
    result = run("get", args[0], sweep["best"], *args[1:])
    assert result.exit_code == code
    assert message in result.stderr


def test_get_default_and_ids_with_filters(sweep: dict[str, str]) -> None:
    assert run("get", "param:nope", sweep["best"], "--default", "none").stdout == "none\n"
    both = run("get", "param:lr", sweep["best"], "-t", "sweep")
    assert both.exit_code == 2 and "not both" in both.stderr


# --- plot ---------------------------------------------------------------------------------


def test_plot_writes_a_png(sweep: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "loss.png"
    result = run("plot", "metric:loss", "-t", "sweep", "-w", "lr<1", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {output} (2 experiments)\n"
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 2000
    svg = tmp_path / "acc.svg"
    assert run("plot", "acc", sweep["best"], "-o", str(svg)).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_plot_errors(sweep: dict[str, str], tmp_path: Path) -> None:
    result = run("plot", "metric:nothing", "-o", str(tmp_path / "x.png"))
    assert (
        result.exit_code == 1
        and "none of the 4 experiments logged metric 'nothing'" in result.stderr
    )
    assert not (tmp_path / "x.png").exists()
    assert run("plot", "metric:loss").exit_code == 2  # -o is required


# --- whole processes ----------------------------------------------------------------------


def yanex(*args: str, **options: Any) -> list[str]:
    return [sys.executable, "-m", "yanex", *args]


@pytest.mark.parametrize("output_format", ["json", "table"])
def test_piping_into_head_is_quiet(store: Store, output_format: str) -> None:
    """`yanex list | head -1`: no traceback, exit status 0."""
    long_name = "x" * 250  # 300 rows of it: more than a pipe buffer (64 KB) in either format
    for index in range(300):
        store.create({"name": f"{long_name}-{index}", "tags": ["a", "b"]}, {"lr": index})
    with subprocess.Popen(
        yanex("list", "--all", "-F", output_format),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.readline()
        process.stdout.close()  # what `head -1` does
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=60) == 0
    assert stderr == ""


def test_list_imports_stay_light(sweep: dict[str, str], tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from yanex.cli.main import cli
        try:
            cli(["list", "--params", "lr", "--metrics", "acc"])
        except SystemExit:
            pass
        heavy = {"pandas", "matplotlib", "numpy", "yaml", "git"}
        print(sorted(heavy & set(sys.modules)), file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert result.stderr.strip() == "[]"


@pytest.mark.parametrize(
    "command",
    ["list", "show", "compare", "get", "archive", "unarchive", "delete", "update", "plot"],
)
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout
