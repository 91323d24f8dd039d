"""Dependencies and pipelines: declaring, the script-side API, ordering, failures, graphs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from queue_support import Fleet, fleet_fixture

import yanex
from yanex.cli.main import cli
from yanex.core import timestamps
from yanex.core.dependencies import check_acyclic
from yanex.core.store import Store
from yanex.errors import DependencyError
from yanex.results import get_lineage
from yanex.results.lineage import get_lineage as lineage_of

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "examples" / "pipeline"


def yanex_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yanex", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def records(store: Store) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in store.iter_metadata()}


def by_name(store: Store, name: str) -> dict[str, Any]:
    (found,) = [m for m in store.iter_metadata() if m.get("name") == name]
    return found


def assert_topological(store: Store) -> None:
    """Every experiment started after each of its dependencies had ended."""
    everything = records(store)
    for metadata in everything.values():
        started = timestamps.parse(metadata.get("started_at"))
        for dependency in yanex.core.dependencies.as_ids(metadata.get("dependencies")):
            ended = timestamps.parse(everything[dependency].get("ended_at"))
            assert started is not None and ended is not None
            assert started >= ended, f"{metadata['name']} started before {dependency} ended"


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    (tmp_path / "prepare.py").write_text(
        "import yanex\nyanex.save_artifact({'rows': [1, 2, 3]}, 'data.json')\n"
    )
    (tmp_path / "train.py").write_text(
        "import time, yanex\n"
        "yanex.assert_dependency('prepare.py')\n"
        "rows = yanex.load_artifact('data.json')['rows']\n"
        "lr = yanex.get_param('lr', 1)\n"
        "if lr == 'bad':\n    raise ValueError('cannot train with a bad learning rate')\n"
        "time.sleep(0.2)\n"
        "yanex.log_metrics({'score': sum(rows) * lr})\n"
    )
    (tmp_path / "ensemble.py").write_text(
        "import yanex\n"
        "deps = yanex.get_dependencies()\n"
        "yanex.log_metrics({'models': len(deps), 'score': sum(d.metric('score') for d in deps)})\n"
    )
    return tmp_path


def stage(cwd: Path, *args: str) -> list[str]:
    before = set(Store().ids())
    result = yanex_cli("run", *args, "--stage", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return sorted(set(Store().ids()) - before)


# -- declaring ---------------------------------------------------------------------------


def run_now(cwd: Path, *args: str) -> str:
    before = set(Store().ids())
    result = yanex_cli("run", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    (created,) = set(Store().ids()) - before
    return created


def test_every_way_to_name_a_dependency(scripts: Path) -> None:
    prepare = run_now(scripts, "prepare.py", "--name", "data-v1")
    for reference in (prepare, prepare[:5], "data-v1"):
        result = yanex_cli("run", "train.py", "-D", reference, cwd=scripts)
        assert result.returncode == 0, result.stderr
    store = Store()
    trained = [m for m in store.iter_metadata() if m["script_path"].endswith("train.py")]
    assert [m["dependencies"] for m in trained] == [[prepare]] * 3
    assert {m["status"] for m in trained} == {"completed"}


def test_running_on_a_staged_dependency_is_refused(scripts: Path) -> None:
    (prepare,) = stage(scripts, "prepare.py")
    result = yanex_cli("run", "train.py", "-D", prepare, cwd=scripts)
    assert result.returncode == 1
    assert f"dependency {prepare} is staged, so nothing would run it" in result.stderr
    assert Store().ids() == [prepare]


def test_named_slots_and_comma_lists(scripts: Path) -> None:
    (first,) = stage(scripts, "prepare.py", "--name", "prep-left")
    (second,) = stage(scripts, "prepare.py", "--name", "prep-right")
    stage(scripts, "ensemble.py", "-D", f"{first},{second}", "--name", "listed")
    stage(
        scripts, "ensemble.py", "-D", f"left={first}", "-D", "right=prep-right", "--name", "slotted"
    )
    store = Store()
    assert by_name(store, "listed")["dependencies"] == [first, second]
    assert by_name(store, "slotted")["dependencies"] == {"left": first, "right": second}


def test_a_dependency_sweep_combines_with_a_parameter_sweep(scripts: Path) -> None:
    stage(scripts, "prepare.py", "--name", "prep-x")
    stage(scripts, "prepare.py", "--name", "prep-y")
    created = stage(scripts, "train.py", "-D", "data=list(prep-x,prep-y)", "-p", "lr=list(1,2)")
    store = Store()
    members = [store.read_metadata(i) for i in created]
    assert len(members) == 4
    names = {m["name"] for m in members}
    assert names == {f"train-lr={lr}-data=prep-{d}" for lr in (1, 2) for d in "xy"}
    assert all("sweep" in m["tags"] for m in members)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("nothere", "no experiment with id, id prefix or name 'nothere'"),
        ("slot=", "give an experiment id"),
        ("bad slot=abc", "is not a slot name"),
        ("x=a,b", "a slot takes one experiment"),
    ],
)
def test_a_bad_dependency_creates_nothing(scripts: Path, reference: str, message: str) -> None:
    stage(scripts, "prepare.py", "--name", "prep-a")
    before = set(Store().ids())
    result = yanex_cli("run", "train.py", "-D", reference, cwd=scripts)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert set(Store().ids()) == before


def test_an_ambiguous_prefix_is_refused(scripts: Path) -> None:
    store = Store()
    for _ in range(40):  # 40 records: two of them share a first hex digit
        store.create({"name": None, "status": "completed"}, {})
    first_digits = [i[0] for i in store.ids()]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)
    result = yanex_cli("run", "train.py", "-D", shared, cwd=scripts)
    assert result.returncode == 2
    assert "matches" in result.stderr and "type more characters" in result.stderr


def test_a_failed_dependency_is_refused_unless_allowed(scripts: Path) -> None:
    (scripts / "crash.py").write_text("raise SystemExit(3)\n")
    assert yanex_cli("run", "crash.py", "--name", "broken", cwd=scripts).returncode == 3
    refused = yanex_cli("run", "train.py", "-D", "broken", cwd=scripts)
    assert refused.returncode == 1
    assert "is failed" in refused.stderr and "--allow-failed-deps" in refused.stderr
    allowed = yanex_cli("run", "prepare.py", "-D", "broken", "--allow-failed-deps", cwd=scripts)
    assert allowed.returncode == 0, allowed.stderr


def test_a_cycle_in_recorded_dependencies_is_reported() -> None:
    store = Store()
    first = store.create({"status": "completed"}, {})
    second = store.create({"status": "completed", "dependencies": [first]}, {})
    store.update_metadata(first, {"dependencies": [second]})
    with pytest.raises(DependencyError, match=f"dependency cycle: {first} -> {second} -> {first}"):
        check_acyclic(store, first)


def test_a_spec_may_only_depend_on_earlier_specs(scripts: Path) -> None:
    later = yanex.ExperimentSpec(script_path=scripts / "prepare.py")
    early = yanex.ExperimentSpec(script_path=scripts / "train.py", dependencies=[later])
    with pytest.raises(DependencyError, match="list dependencies before their dependents"):
        yanex.run_multiple([early, later])
    assert Store().ids() == []


# -- inside scripts ----------------------------------------------------------------------


def test_the_script_side_api(scripts: Path) -> None:
    (scripts / "inspect_deps.py").write_text(
        "import json, yanex\n"
        "direct = [d.id for d in yanex.get_dependencies()]\n"
        "every = [d.id for d in yanex.get_dependencies(transitive=True)]\n"
        "slot = yanex.get_dependency('model')\n"
        "print(json.dumps({'direct': direct, 'every': every, 'slot': slot.id,\n"
        "    'missing': yanex.get_dependency('nope'), 'script': slot.script_path.name,\n"
        "    'data': yanex.load_artifact('data.json'),\n"
        "    'from': yanex.load_artifact('data.json', from_experiment='data')}))\n"
    )
    assert yanex_cli("run", "prepare.py", "--name", "data", cwd=scripts).returncode == 0
    trained = yanex_cli("run", "train.py", "-D", "data", "--name", "model", cwd=scripts)
    assert trained.returncode == 0
    result = yanex_cli("run", "inspect_deps.py", "-D", "model=model", cwd=scripts)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    store = Store()
    data, model = by_name(store, "data")["id"], by_name(store, "model")["id"]
    assert seen["direct"] == [model] and seen["every"] == [data, model]
    assert seen["slot"] == model and seen["missing"] is None and seen["script"] == "train.py"
    assert seen["data"] is None  # not in the direct dependency (train), nor here
    assert seen["from"] == {"rows": [1, 2, 3]}


def test_assert_dependency_fails_the_experiment_cleanly(scripts: Path) -> None:
    (scripts / "other.py").write_text("print('not the data step')\n")
    assert yanex_cli("run", "other.py", "--name", "other", cwd=scripts).returncode == 0
    result = yanex_cli("run", "train.py", "-D", "other", cwd=scripts)
    assert result.returncode == 1
    assert "No dependency from 'prepare.py' found" in result.stderr
    assert "Current dependencies are from: other.py" in result.stderr
    failed = [m for m in Store().iter_metadata() if m["script_path"].endswith("train.py")]
    assert failed[0]["status"] == "failed"
    assert "No dependency from 'prepare.py'" in failed[0]["error_message"]


def test_assert_dependency_is_a_no_op_standalone(scripts: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import yanex; yanex.assert_dependency('x.py'); print('went on')"],
        capture_output=True,
        text=True,
        cwd=scripts,
    )
    assert result.returncode == 0 and "went on" in result.stdout


# -- ordering and failures -------------------------------------------------------------------


def stage_pipeline(scripts: Path, lrs: str = "list(1,2,3)") -> None:
    stage(scripts, "prepare.py", "--name", "prep")
    trains = stage(scripts, "train.py", "-D", "prep", "-p", f"lr={lrs}")
    stage(scripts, "ensemble.py", "-D", ",".join(trains), "--name", "ensemble")


def test_a_staged_pipeline_runs_in_dependency_order(scripts: Path) -> None:
    stage_pipeline(scripts)
    result = yanex_cli("run", "--staged", "-j", "2", cwd=scripts)
    assert result.returncode == 0, result.stderr
    store = Store()
    assert {m["status"] for m in store.iter_metadata()} == {"completed"}
    assert_topological(store)
    ensemble = by_name(store, "ensemble")
    assert Store().read_metrics(ensemble["id"])[-1]["models"] == 3


def test_a_failing_middle_stage_cancels_its_dependents(scripts: Path) -> None:
    stage_pipeline(scripts, lrs="list(1,bad,3)")
    result = yanex_cli("run", "--staged", "-j", "2", cwd=scripts)
    assert result.returncode == 1
    store = Store()
    bad = by_name(store, "train-lr=bad")
    assert bad["status"] == "failed"
    ensemble = by_name(store, "ensemble")
    assert ensemble["status"] == "cancelled"
    assert ensemble["failure_reason"] == "dependency_failed"
    assert bad["id"] in ensemble["error_message"]
    assert "skipped" in result.stderr or "dependency" in result.stderr


def test_the_pipeline_example_runs_locally(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PIPELINE / "pipeline.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    store = Store()
    assert len(store.ids()) == 5
    assert {m["status"] for m in store.iter_metadata()} == {"completed"}
    assert_topological(store)
    ensemble = by_name(store, "pipeline-ensemble")
    assert store.read_metrics(ensemble["id"])[-1]["models"] == 3


# -- on a queue ---------------------------------------------------------------------------------


@pytest.fixture
def fleet(redis_url: str, experiments_dir: Path, tmp_path: Path) -> Iterator[Fleet]:
    yield from fleet_fixture(redis_url, experiments_dir, tmp_path)


def test_the_pipeline_example_runs_on_two_workers(fleet: Fleet, tmp_path: Path) -> None:
    fleet.start(queues=("pipeline",))
    fleet.start(queues=("pipeline",))
    result = subprocess.run(
        [sys.executable, str(PIPELINE / "pipeline.py"), "--queue", "pipeline"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + fleet.outputs()
    store = Store()
    assert {m["status"] for m in store.iter_metadata()} == {"completed"}
    assert {m["execution"]["worker"] for m in store.iter_metadata()} <= {
        w.name for w in fleet.workers
    }
    assert_topological(store)


def test_a_failing_stage_on_a_queue_cancels_its_dependents(fleet: Fleet, scripts: Path) -> None:
    fleet.start(queues=("pipeline",))
    stage_pipeline(scripts, lrs="list(1,bad)")
    result = yanex_cli("run", "--staged", "--queue", "pipeline", cwd=scripts)
    assert result.returncode == 1, result.stderr + fleet.outputs()
    store = Store()
    bad = by_name(store, "train-lr=bad")
    ensemble = by_name(store, "ensemble")
    assert bad["status"] == "failed"
    assert ensemble["status"] == "cancelled"
    assert ensemble["failure_reason"] == "dependency_failed"
    assert bad["id"] in ensemble["error_message"]


# -- seeing the graph ------------------------------------------------------------------------------


def test_graph_and_lineage(scripts: Path) -> None:
    stage_pipeline(scripts)
    assert yanex_cli("run", "--staged", cwd=scripts).returncode == 0
    store = Store()
    prep, ensemble = by_name(store, "prep")["id"], by_name(store, "ensemble")["id"]
    lineage = lineage_of(store, ensemble)
    assert sorted(n.experiment.name for n in lineage.upstream) == [
        "train-lr=1",
        "train-lr=2",
        "train-lr=3",
    ]
    assert lineage.upstream[0].children[0].experiment.id == prep
    assert not lineage.upstream[0].children[0].repeated
    assert lineage.upstream[1].children[0].repeated  # the diamond is expanded once
    down = lineage_of(store, prep).downstream
    assert len(down) == 3 and down[0].children[0].experiment.id == ensemble
    output = CliRunner().invoke(cli, ["graph", "prep"]).output
    assert "used by" in output and "ensemble" in output and "(see above)" in output
    shown = CliRunner().invoke(cli, ["show", "prep"]).output
    assert "Used by" in shown and all(f"train-lr={lr}" in shown for lr in (1, 2, 3))
    shown = CliRunner().invoke(cli, ["show", ensemble]).output
    assert "Dependencies" in shown and "train-lr=2" in shown and "Used by" not in shown
    public = get_lineage(prep).downstream
    assert [n.experiment.id for n in public] == [n.experiment.id for n in down]
