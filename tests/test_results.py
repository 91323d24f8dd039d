"""The results library: Experiment, filters, queries, comparisons, fields, records, frames.

Experiments are written through the real Store (create, transition, MetricsLog); a
record of the original yanex 0.6 is written by hand, file by file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import yanex.results as yr
from yanex.core import liveness
from yanex.core.metrics import MetricsLog
from yanex.core.status import Status
from yanex.core.store import Store
from yanex.errors import AmbiguousIdError, ExperimentNotFoundError, UsageError, YanexError
from yanex.results import index, query, records
from yanex.results.command import format_value, reproduce_command
from yanex.results.comparison import compare, flatten, metric_column
from yanex.results.details import describe, lower_is_better, patch_summary
from yanex.results.fields import get_field, lookup
from yanex.results.filters import Condition, Filter
from yanex.results.logs import follow_output, read_output
from yanex.results.times import parse_time

NOW = datetime.now(timezone.utc)


def make_experiment(
    store: Store,
    *,
    name: str | None = None,
    status: str = "completed",
    config: Mapping[str, Any] | None = None,
    metrics: Iterable[Mapping[str, Any]] = (),
    tags: Iterable[str] = (),
    age: timedelta = timedelta(0),
    duration: float = 60.0,
    script: str = "/work/project/train.py",
    **metadata: Any,
) -> str:
    """A real record in `store`: created `age` ago, run for `duration`, ended in `status`."""
    created = datetime.now(timezone.utc) - age  # now, not at import: suites run for minutes
    record = {
        "name": name,
        "tags": list(tags),
        "script_path": script,
        "created_at": created.isoformat(),
        **metadata,
    }
    experiment_id = store.create(record, dict(config or {}))
    if status in ("queued", "staged"):
        store.transition(experiment_id, Status(status))
    elif status != "created":
        store.transition(experiment_id, Status.RUNNING)
        if status != "running":
            store.transition(experiment_id, Status(status))
        started = created + timedelta(seconds=1)
        times = {"started_at": started.isoformat()}
        if status != "running":
            times["ended_at"] = (started + timedelta(seconds=duration)).isoformat()
            times["duration"] = duration
        store.update_metadata(experiment_id, times)
    log = MetricsLog(store.metrics_path(experiment_id))
    for row in metrics:
        log.append(row)
    log.close()
    return experiment_id


def write_legacy(root: Path, experiment_id: str = "01d01d00") -> Path:
    """An experiment exactly as the original yanex 0.6 wrote it."""
    directory = root / experiment_id
    (directory / "artifacts").mkdir(parents=True)
    (directory / "params.yaml").write_text("lr: 0.01\nmodel:\n  layers: 3\n")
    metrics = [
        {"step": 0, "timestamp": "2024-05-01T10:00:01", "loss": 0.9},
        {"step": 1, "timestamp": "2024-05-01T10:00:02", "loss": 0.5, "acc": 0.7},
    ]
    (directory / "metrics.json").write_text(json.dumps(metrics))
    metadata = {
        "id": experiment_id,
        "name": "legacy-run",
        "status": "failed",
        "tags": ["old"],
        "script_path": "/home/ada/old/train.py",
        "created_at": "2024-05-01T10:00:00",
        "started_at": "2024-05-01T10:00:00.500000",
        "completed_at": "2024-05-01T10:02:00",
        "duration": None,
        "error_message": "boom",
        "storage_version": 2,
        "dependencies": {"data": "abcdef12"},
    }
    (directory / "metadata.json").write_text(json.dumps(metadata))
    return directory


@pytest.fixture
def store(experiments_dir: Path) -> Store:
    return Store(experiments_dir)


# --- Experiment ------------------------------------------------------------------------


def test_experiment_properties(store: Store) -> None:
    experiment_id = make_experiment(
        store,
        name="run-a",
        config={"lr": 0.01, "model": {"layers": 4}},
        metrics=[{"loss": 1.0}, {"loss": 0.4, "acc": 0.8}, {"loss": 0.6, "acc": 0.9}],
        tags=["x", "y"],
        duration=90.0,
        batch="feedbeef",
        dependencies={"data": "12345678"},
        execution={"worker": "w1", "host": "box", "gpu": "0", "attempt": 2},
    )
    experiment = yr.get_experiment(experiment_id)
    assert (experiment.id, experiment.name, experiment.status) == (
        experiment_id,
        "run-a",
        "completed",
    )
    assert experiment.tags == ["x", "y"] and experiment.batch == "feedbeef"
    assert experiment.script == "/work/project/train.py"
    assert experiment.duration == 90.0
    assert experiment.ended_at is not None and experiment.started_at is not None
    assert experiment.params == {"lr": 0.01, "model": {"layers": 4}}
    assert experiment.param("model.layers") == 4 and experiment.param("nope", 7) == 7
    assert experiment.metric_names == ["loss", "acc"]
    assert experiment.metric("loss") == 0.6 and experiment.metric("loss", "min") == 0.4
    assert experiment.metric("acc", "first") == 0.8 and experiment.metric("acc", "max") == 0.9
    assert experiment.metric("loss", "mean") == pytest.approx(2.0 / 3)
    assert experiment.metric("missing") is None
    assert experiment.metric_history("acc") == [(1, 0.8), (2, 0.9)]
    assert experiment.dependencies == ["12345678"]
    assert experiment.dependency_slots == {"data": "12345678"}
    assert experiment.worker == "w1" and experiment.execution["gpu"] == "0"
    assert not experiment.archived and experiment.experiment_dir == store.root / experiment_id
    with pytest.raises(UsageError, match="unknown metric aggregate 'median'"):
        experiment.metric("loss", "median")


def test_experiment_artifacts_and_loading(store: Store) -> None:
    experiment = yr.get_experiment(make_experiment(store))
    (experiment.artifacts_dir / "result.json").write_text('{"a": 1}')
    (experiment.artifacts_dir / "plots").mkdir()
    (experiment.artifacts_dir / "plots" / "x.txt").write_text("12345")
    (experiment.artifacts_dir / ".half.tmp").write_text("hidden")
    assert [(a.name, a.size) for a in experiment.artifacts] == [
        ("plots/x.txt", 5),
        ("result.json", 8),
    ]
    assert experiment.load_artifact("result.json") == {"a": 1}
    assert experiment.load_artifact("absent.json") is None
    assert experiment.load_artifact("plots/x.txt", loader=lambda p: p.read_text()) == "12345"


def test_running_duration_is_elapsed(store: Store) -> None:
    experiment_id = make_experiment(store, status="running", age=timedelta(seconds=30))
    duration = yr.get_experiment(experiment_id).duration
    assert duration is not None and 25 < duration < 120
    assert yr.get_experiment(make_experiment(store, status="queued")).duration is None


def test_legacy_record_reads_as_is(store: Store) -> None:
    write_legacy(store.root)
    experiment = yr.get_experiment("01d0")
    assert experiment.status == "failed" and experiment.name == "legacy-run"
    assert experiment.params == {"lr": 0.01, "model": {"layers": 3}}
    assert experiment.metric("acc") == 0.7 and experiment.metric("loss", "min") == 0.5
    assert experiment.ended_at is not None and experiment.ended_at.tzinfo is not None
    assert experiment.duration == pytest.approx(119.5)
    assert experiment.dependencies == ["abcdef12"]
    assert experiment.error_message == "boom"
    assert [e.id for e in yr.find(ended_after="2024-05-01", where="lr==0.01")] == ["01d01d00"]


def test_dependencies_resolve_to_experiments(store: Store) -> None:
    first = make_experiment(store, name="data")
    second = make_experiment(store, dependencies=[first])
    assert [e.name for e in yr.get_experiment(second).get_dependencies()] == ["data"]


# --- conditions and times -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr<0.01", Condition("param", "lr", "<", 0.01)),
        ("param:model.layers == 4", Condition("param", "model.layers", "==", 4)),
        ("metric:accuracy>=0.9", Condition("metric", "accuracy", ">=", 0.9)),
        ("metric:loss:min<0.1", Condition("metric", "loss", "<", 0.1, "min")),
        ("optimizer=adam", Condition("param", "optimizer", "=", "adam")),
        ("flag!=true", Condition("param", "flag", "!=", True)),
        ("lr>1e-3", Condition("param", "lr", ">", 0.001)),
    ],
)
def test_condition_parse(text: str, expected: Condition) -> None:
    assert Condition.parse(text) == expected


@pytest.mark.parametrize("text", ["lr", "lr<", "<3", "param:a:b<1", "metric:acc:median>1"])
def test_condition_parse_errors(text: str) -> None:
    with pytest.raises(UsageError):
        Condition.parse(text)


def test_parse_time() -> None:
    now = datetime(2025, 3, 10, 15, 30, tzinfo=timezone.utc)
    assert parse_time("2 days ago", now=now) == now - timedelta(days=2)
    assert parse_time("3 hours ago", now=now) == now - timedelta(hours=3)
    assert parse_time("1 week ago", now=now) == now - timedelta(weeks=1)
    assert parse_time("30m ago", now=now) == now - timedelta(minutes=30)
    assert parse_time("today", now=now) == now.replace(hour=0, minute=0)
    assert parse_time("Yesterday", now=now) == now.replace(hour=0, minute=0) - timedelta(days=1)
    assert parse_time("2025-01-31T12:00:00+00:00") == datetime(2025, 1, 31, 12, tzinfo=timezone.utc)
    local = parse_time("2025-01-31")
    assert local.tzinfo is not None and (local.year, local.month, local.day) == (2025, 1, 31)
    with pytest.raises(UsageError, match="cannot read started-after 'soonish'"):
        parse_time("soonish", "started_after")


# --- filters and queries ----------------------------------------------------------------


@pytest.fixture
def population(store: Store) -> dict[str, str]:
    """Five experiments with different statuses, names, tags, scripts, params, times."""
    return {
        "old": make_experiment(
            store,
            name="lr-old",
            config={"lr": 0.1},
            tags=["base"],
            age=timedelta(days=10),
            metrics=[{"acc": 0.5}],
            batch="aaaa0000",
        ),
        "good": make_experiment(
            store,
            name="lr-good",
            config={"lr": 0.001, "model": {"layers": 8}},
            tags=["sweep", "base"],
            age=timedelta(days=1, hours=2),
            metrics=[{"acc": 0.95}],
            batch="bbbb0000",
        ),
        "bad": make_experiment(
            store,
            name="lr-bad",
            status="failed",
            config={"lr": 0.5},
            tags=["sweep"],
            age=timedelta(hours=5),
            metrics=[{"acc": 0.1}],
            batch="bbbb0000",
        ),
        "prep": make_experiment(
            store,
            name=None,
            config={"size": 3},
            age=timedelta(hours=2),
            script="/work/project/prep_data.py",
        ),
        "live": make_experiment(
            store,
            name="live",
            status="running",
            config={"lr": 0.01},
            age=timedelta(minutes=1),
            module="pkg.train",
            script=None,
        ),
    }


def ids_of(**filters: Any) -> set[str]:
    return {e.id for e in yr.find(**filters)}


def test_find_is_newest_first(population: dict[str, str]) -> None:
    order = [e.id for e in yr.find()]
    assert order == [population[k] for k in ("live", "prep", "bad", "good", "old")]
    assert [e.id for e in yr.find(limit=2)] == order[:2]
    latest = yr.get_latest(status="completed")
    assert latest is not None and latest.id == population["prep"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "failed"}, {"bad"}),
        ({"status": ["failed", "running"]}, {"bad", "live"}),
        ({"status": Status.RUNNING}, {"live"}),
        ({"name": "lr-*"}, {"old", "good", "bad"}),
        ({"name": ""}, {"prep"}),
        ({"tags": "sweep"}, {"good", "bad"}),
        ({"tags": ["sweep", "base"]}, {"good"}),
        ({"tag": "base"}, {"old", "good"}),
        ({"script": "prep*"}, {"prep"}),
        ({"script": "PREP_DATA"}, {"prep"}),
        ({"script": "/work/project/*.py"}, {"old", "good", "bad", "prep"}),
        ({"script": "pkg.*"}, {"live"}),
        ({"batch": "bbbb"}, {"good", "bad"}),
        ({"where": "lr<0.05"}, {"good", "live"}),
        ({"where": ["lr<0.05", "model.layers>=8"]}, {"good"}),
        ({"where": "metric:acc>0.4"}, {"old", "good"}),
        ({"where": "lr>abc"}, set()),
        ({"started_after": "1 day ago"}, {"bad", "prep", "live"}),
        ({"started_before": "3 days ago"}, {"old"}),
        ({"ended_after": "6 hours ago"}, {"bad", "prep"}),
        ({"ended_before": datetime.now(timezone.utc) - timedelta(days=2)}, {"old"}),
    ],
)
def test_each_filter(
    population: dict[str, str], filters: dict[str, Any], expected: set[str]
) -> None:
    assert ids_of(**filters) == {population[k] for k in expected}


def test_ids_filter_takes_prefixes(population: dict[str, str]) -> None:
    good = population["good"]
    assert ids_of(ids=[good[:3]]) >= {good}
    assert ids_of(ids=good) == {good}


def test_archived_scope(store: Store, population: dict[str, str]) -> None:
    store.archive(population["old"])
    assert population["old"] not in ids_of()
    assert ids_of(archived=True) == {population["old"]}
    assert ids_of(archived=None) == set(population.values())
    archived = yr.get_experiment(population["old"])
    assert archived.archived and archived.experiment_dir.parent.name == "archived"


def test_filter_errors() -> None:
    with pytest.raises(UsageError, match="unknown status 'done'; use one of created"):
        Filter.build(status="done")
    with pytest.raises(UsageError, match="unknown filter 'colour'"):
        yr.find(colour="red")
    with pytest.raises(UsageError, match="cannot read ended-before"):
        Filter.build(ended_before="next tuesday")


def test_filter_describe() -> None:
    filters = Filter.build(status="failed", tags=["a", "b"], where="lr<1", name="x*")
    assert filters.describe() == "status=failed, name='x*', tags=a,b, param:lr<1"
    assert not Filter.build().given and Filter.build(batch="ab").given


def test_select_rules(store: Store, population: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="give experiment ids or filters, not both"):
        query.select(store, ["abc"], Filter.build(status="failed"))
    with pytest.raises(UsageError, match="nothing is selected by default"):
        query.select(store, [], Filter.build(), require_selection=True)
    picked = query.select(store, [population["bad"], "lr-good"], Filter.build())
    assert [e.id for e in picked] == [population["bad"], population["good"]]
    with pytest.raises(ExperimentNotFoundError, match="no experiment with id"):
        query.select(store, ["ffffffff"], Filter.build())


def test_ambiguous_prefix(store: Store) -> None:
    ids = [make_experiment(store) for _ in range(40)]
    prefixes = [i[0] for i in ids]
    shared = next(p for p in prefixes if prefixes.count(p) > 1)
    with pytest.raises(AmbiguousIdError, match=f"id prefix '{shared}' matches"):
        yr.get_experiment(shared)


def test_empty_result_says_which_filter(store: Store, population: dict[str, str]) -> None:
    with pytest.raises(ExperimentNotFoundError) as caught:
        query.select(store, [], Filter.build(status="failed", tags="nope"))
    assert str(caught.value) == (
        "no experiments match: tags=nope matches none of the 5 experiments"
    )
    message = query.explain_empty(store, Filter.build(status="failed", tags="base"))
    assert "all of status=failed, tags=base together" in message
    store.archive(population["old"])
    assert "1 archived experiments were not searched" in query.explain_empty(
        store, Filter.build(name="nothing*")
    )
    assert query.explain_empty(Store(store.root / "void"), Filter.build()).startswith(
        "no experiments in"
    )


def test_where_stops_at_limit(store: Store, population: dict[str, str]) -> None:
    matches = query.find(store, Filter.build(where="lr<1"), limit=2)
    assert [e.id for e in matches.experiments] == [population["live"], population["bad"]]
    assert matches.total is None
    assert query.find(store, Filter.build(where="lr<1")).total == 4


def test_find_reaps_lost_runs(store: Store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    execution = {"host": liveness.this_host(), "pid": dead.pid, "attempt": 1}
    experiment_id = make_experiment(store, status="running", execution=execution)
    (found,) = yr.find(ids=experiment_id)
    assert found.status == "failed" and found.failure_reason == "runner_lost"


# --- the listing index ------------------------------------------------------------------


def test_index_is_reused_and_refreshed(store: Store) -> None:
    first = make_experiment(store, name="one")
    assert [e.name for e in query.scan(store)] == ["one"]
    assert (store.root / index.INDEX_FILE).exists()
    (cached,) = query.scan(store)
    assert cached._full is None and cached.name == "one"  # from the index
    assert cached.metadata["script_path"] == "/work/project/train.py"  # the full record
    store.update_metadata(first, {"name": "renamed"})
    second = make_experiment(store, name="two")
    assert sorted(e.name or "" for e in query.scan(store)) == ["renamed", "two"]
    store.delete(second)
    assert [e.name for e in query.scan(store)] == ["renamed"]


def test_corrupt_or_unwritable_index_costs_only_speed(store: Store) -> None:
    make_experiment(store, name="one")
    (store.root / index.INDEX_FILE).write_text("{not json")
    assert [e.name for e in query.scan(store)] == ["one"]
    assert json.loads((store.root / index.INDEX_FILE).read_text())["version"] == index.VERSION
    (store.root / index.INDEX_FILE).unlink()
    (store.root / index.INDEX_FILE).mkdir()  # cannot be replaced by a file
    assert [e.name for e in query.scan(store)] == ["one"]


# --- comparison -------------------------------------------------------------------------


def test_compare_differing_params_and_metrics(store: Store) -> None:
    a = make_experiment(
        store,
        name="a",
        config={"lr": 0.1, "bs": 32, "m": {"d": 1}},
        metrics=[{"acc": 0.5, "loss": 2.0}, {"acc": 0.7, "loss": 1.0}],
        age=timedelta(hours=1),
    )
    b = make_experiment(
        store,
        name="b",
        config={"lr": 0.01, "bs": 32, "m": {"d": 2}, "x": 1},
        metrics=[{"acc": 0.9}],
    )
    experiments = yr.find()
    table = compare(experiments, sort="metric:acc", descending=True)
    assert table.param_columns == ["param:lr", "param:m.d", "param:x"]
    assert table.metric_columns == ["metric:acc", "metric:loss"]
    assert [row["id"] for row in table.rows] == [b, a]
    assert table.rows[1]["metric:loss"] == 1.0 and table.rows[0]["metric:loss"] is None
    everything = compare(experiments, all_params=True, metrics=["loss:min", "acc:max"])
    assert "param:bs" in everything.param_columns
    assert everything.metric_columns == ["metric:loss:min", "metric:acc:max"]
    by_name = compare(experiments, sort="name")
    assert [row["name"] for row in by_name.rows] == ["a", "b"]
    sorted_by_lr = compare(experiments, params=["bs"], sort="param:lr")
    assert "param:lr" in sorted_by_lr.columns and sorted_by_lr.rows[0]["id"] == b
    single = compare(experiments[:1]).param_columns  # one experiment: every parameter
    assert single == ["param:lr", "param:bs", "param:m.d", "param:x"]
    with pytest.raises(UsageError, match="cannot sort by 'colour'"):
        compare(experiments, sort="colour")


def test_flatten_and_columns() -> None:
    assert flatten({"a": {"b": 1, "c": {}}, "d": [1, 2]}) == {"a.b": 1, "a.c": {}, "d": [1, 2]}
    assert metric_column("metric:acc:last") == "metric:acc"
    with pytest.raises(UsageError):
        metric_column("acc:median")


# --- show, get, cli-command ---------------------------------------------------------------


def test_describe_everything(store: Store) -> None:
    dependency = make_experiment(store, name="data")
    experiment_id = make_experiment(
        store,
        name="full",
        config={"lr": 0.1},
        metrics=[{"loss": 2.0}, {"loss": 1.0, "acc": 0.5}],
        dependencies={"data": dependency, "gone": "ffff0000"},
        git={"commit_hash": "abc123", "branch": "main", "has_uncommitted_changes": True},
        environment={"python": {"version": "3.11"}},
        failure_reason=None,
    )
    experiment = yr.get_experiment(experiment_id)
    patch = b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-old\n+new\n+more\n"
    (experiment.artifacts_dir / "git_diff.patch").write_bytes(patch)
    details = describe(experiment)
    assert details["params"] == {"lr": 0.1}
    assert details["metrics"][0] == {
        "name": "loss",
        "last": 1.0,
        "best": 1.0,
        "goal": "min",
        "min": 1.0,
        "max": 2.0,
        "steps": 2,
        "last_step": 1,
    }
    assert details["metrics"][1]["goal"] == "max"
    assert details["git"]["patch"] == {"files": 1, "insertions": 2, "deletions": 1}
    assert details["artifacts"] == [{"name": "git_diff.patch", "size": len(patch)}]
    assert [d["status"] for d in details["dependencies"]] == ["completed", "missing"]
    assert details["timings"]["duration"] == 60.0
    json.dumps(details)  # JSON-ready
    assert lower_is_better("val_loss") and not lower_is_better("accuracy")
    assert patch_summary(b"") == {"files": 0, "insertions": 0, "deletions": 0}


def test_fields(store: Store) -> None:
    experiment_id = make_experiment(
        store,
        name="f",
        config={"lr": 0.1, "m": {"d": 2}},
        metrics=[{"acc": 0.2}, {"acc": 0.4}],
        tags=["t"],
        dependencies={"data": "12345678"},
        git={"branch": "main"},
    )
    experiment = yr.get_experiment(experiment_id)
    assert get_field(experiment, "param:m.d") == 2
    assert get_field(experiment, "metric:acc") == 0.4
    assert get_field(experiment, "metric:acc:min") == 0.2
    assert get_field(experiment, "meta:status") == "completed"
    assert get_field(experiment, "meta:git.branch") == "main"
    assert get_field(experiment, "tags") == ["t"] and get_field(experiment, "name") == "f"
    assert get_field(experiment, "dependencies") == ["data=12345678"]
    assert get_field(experiment, "metrics") == ["acc"]
    assert get_field(experiment, "experiment-dir") == str(store.root / experiment_id)
    assert get_field(experiment, "param:nope", default="x") == "x"
    with pytest.raises(YanexError, match=f"experiment {experiment_id} has no parameter 'nope'"):
        get_field(experiment, "param:nope")
    with pytest.raises(UsageError, match="unknown field 'colour'; fields are: param:KEY"):
        lookup(experiment, "colour")


def test_cli_command_of_a_sweep_member(store: Store) -> None:
    cli_args = {
        "script": "train.py",
        "config": ["base.yaml"],
        "clone_from": None,
        "param": ["lr=list(0.1, 0.01)", "epochs=5", "bs=range(1, 3)"],
        "name": None,
        "tag": ["sweep", "a b"],
        "description": None,
        "depends_on": ["abcd1234"],
        "parallel": 2,
        "queue": None,
        "detach": False,
        "stage": True,
    }
    experiment_id = make_experiment(
        store, cli_args=cli_args, sweep={"lr": 0.01, "bs": 2}, script_args=["--fast", "x y"]
    )
    command = reproduce_command(yr.get_experiment(experiment_id))
    assert command == (
        "yanex run train.py --config base.yaml --param epochs=5 --param lr=0.01 --param bs=2 "
        "--tag sweep --tag 'a b' --depends-on abcd1234 --parallel 2 -- --fast 'x y'"
    )
    module_args = {"script": None, "module": "pkg.train", "param": ["lr=0.1"], "stage": False}
    module_run = make_experiment(store, cli_args=module_args, script=None, module="pkg.train")
    assert reproduce_command(yr.get_experiment(module_run)) == (
        "yanex run --module pkg.train --param lr=0.1"
    )


def test_cli_command_without_cli_args(store: Store) -> None:
    experiment_id = make_experiment(
        store, name="api", config={"lr": 0.001, "m": {"opt": "adam"}, "tag": "123"}, tags=["t"]
    )
    command = reproduce_command(yr.get_experiment(experiment_id))
    assert command == (
        "yanex run /work/project/train.py --param lr=0.001 --param m.opt=adam "
        "--param 'tag=\"123\"' --name api --tag t"
    )
    assert [format_value(v) for v in (True, None, [1, 2], "a b", 1e-05)] == [
        "true",
        "null",
        "[1, 2]",
        "a b",
        "1e-05",
    ]


# --- output -------------------------------------------------------------------------------


def test_read_and_tail_output(store: Store) -> None:
    experiment = yr.get_experiment(make_experiment(store))
    assert read_output(experiment) == ""
    lines = "".join(f"line {i}\n" for i in range(30000))
    (experiment.artifacts_dir / "stdout.txt").write_text(lines)
    assert read_output(experiment, tail=2) == "line 29998\nline 29999\n"
    assert read_output(experiment, tail=0) == ""
    assert read_output(experiment) == lines
    with pytest.raises(UsageError, match="unknown output stream"):
        read_output(experiment, "stdlog")


def test_follow_output_until_the_run_ends(store: Store) -> None:
    experiment_id = make_experiment(store, status="running")
    experiment = yr.get_experiment(experiment_id)
    out = experiment.artifacts_dir / "stdout.txt"
    out.write_text("first\n")

    def write_then_finish() -> None:
        time.sleep(0.1)
        with open(out, "a") as handle:
            handle.write("second\n")
        time.sleep(0.1)
        store.transition(experiment_id, Status.COMPLETED)

    writer = threading.Thread(target=write_then_finish)
    writer.start()
    text = "".join(follow_output(experiment, poll_interval=0.02))
    writer.join()
    assert text == "first\nsecond\n"


# --- managing records ---------------------------------------------------------------------


def test_archive_unarchive_delete(store: Store) -> None:
    a, b = make_experiment(store, name="a"), make_experiment(store, name="b")
    changes = records.archive(yr.find(ids=[a]))
    assert [(c.experiment.id, c.done) for c in changes] == [(a, "archived")]
    assert (store.root / "archived" / a).is_dir()
    assert records.archive([yr.get_experiment(a)])[0].skipped == "already archived"
    assert records.unarchive([yr.get_experiment(b)])[0].skipped == "not archived"
    assert records.unarchive(yr.find(archived=True))[0].done == "unarchived"
    assert (store.root / a).is_dir()
    records.delete([yr.get_experiment(b)])
    assert not (store.root / b).exists()


def test_active_experiments_are_not_moved(store: Store) -> None:
    running = make_experiment(store, status="running", age=timedelta(hours=1))
    queued = make_experiment(store, status="queued")
    with pytest.raises(UsageError, match=f"yanex cancel {queued} {running}`"):
        records.delete(yr.find(status=["running", "queued"]))  # newest first
    with pytest.raises(UsageError, match="cannot archive 1 experiment still queued"):
        records.archive([yr.get_experiment(running)])
    assert store.exists(running) and store.exists(queued)


def test_update(store: Store) -> None:
    experiment_id = make_experiment(store, name="a", tags=["x", "y"])
    (change,) = records.update(
        [yr.get_experiment(experiment_id)],
        records.Update(name="b", description="why", add_tags=["z", "x"], remove_tags=["y"]),
    )
    assert change.done == "name -> 'b'; description set; +tag z; -tag y"
    experiment = yr.get_experiment(experiment_id)
    assert (experiment.name, experiment.description, experiment.tags) == ("b", "why", ["x", "z"])
    (again,) = records.update([experiment], records.Update(name="b"))
    assert again.skipped == "already as requested"
    records.update([experiment], records.Update(name=""))
    assert yr.get_experiment(experiment_id).name is None
    with pytest.raises(UsageError, match="nothing to update"):
        records.update([experiment], records.Update())
    with pytest.raises(UsageError, match="both added and removed"):
        records.Update(add_tags=["q"], remove_tags=["q"]).check()


# --- results API with pandas and matplotlib ---------------------------------------------


def test_get_best(population: dict[str, str]) -> None:
    best = yr.get_best("acc")
    assert best is not None and best.id == population["good"]
    worst = yr.get_best("acc", maximize=False, status="completed")
    assert worst is not None and worst.id == population["old"]
    assert yr.get_best("nothing") is None


def test_compare_dataframe(population: dict[str, str]) -> None:
    frame = yr.compare(
        metrics=["acc"], status=["completed", "failed"], sort="metric:acc", descending=True
    )
    assert list(frame["id"]) == [population[k] for k in ("good", "old", "bad", "prep")]
    assert {"param:lr", "param:size", "metric:acc"} <= set(frame.columns)
    chosen = yr.find(name="lr-*")
    assert len(yr.compare(experiments=chosen)) == 3
    with pytest.raises(UsageError, match="not both"):
        yr.compare(experiments=chosen, status="failed")


def test_get_metrics_long_frame(store: Store) -> None:
    a = make_experiment(store, metrics=[{"loss": 1.0, "acc": 0.1}, {"loss": 0.5}])
    frame = yr.get_metrics()
    assert list(frame.columns) == ["experiment_id", "step", "metric", "value"]
    assert frame.values.tolist() == [[a, 0, "loss", 1.0], [a, 0, "acc", 0.1], [a, 1, "loss", 0.5]]
    assert len(yr.get_metrics("acc")) == 1


def test_plot_metrics_figure(store: Store, tmp_path: Path) -> None:
    make_experiment(store, name="a", metrics=[{"loss": 1.0}, {"loss": 0.5}])
    make_experiment(store, name="b", metrics=[{"loss": 2.0}, {"loss": 0.1}])
    figure = yr.plot_metrics("loss")
    assert len(figure.axes[0].lines) == 2
    figure.savefig(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 1000
    from matplotlib import pyplot

    pyplot.close(figure)
    with pytest.raises(ExperimentNotFoundError, match="none of the 2 experiments logged"):
        yr.plot_metrics("accuracy")


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )


def test_missing_extras_name_the_extra(store: Store, tmp_path: Path) -> None:
    make_experiment(store, metrics=[{"loss": 1.0}])
    result = run_python(
        """
        import sys
        sys.modules["pandas"] = None
        sys.modules["matplotlib"] = None
        import yanex.results as yr
        for call in (yr.compare, yr.get_metrics, lambda: yr.plot_metrics("loss")):
            try:
                call()
            except ImportError as error:
                print(error)
        """,
        tmp_path,
    )
    assert result.stdout.splitlines() == [
        "yanex.results.compare() needs pandas: pip install 'yanex[data]'",
        "yanex.results.get_metrics() needs pandas: pip install 'yanex[data]'",
        "yanex.results.plot_metrics() needs matplotlib: pip install 'yanex[plot]'",
    ], result.stderr


def test_importing_results_stays_light(tmp_path: Path) -> None:
    result = run_python(
        """
        import sys
        import yanex.results
        heavy = {"pandas", "matplotlib", "numpy", "yaml", "git", "click", "rich"}
        print(sorted(heavy & set(sys.modules)))
        """,
        tmp_path,
    )
    assert result.stdout.strip() == "[]", result.stderr
