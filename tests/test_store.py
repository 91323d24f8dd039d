"""The experiments directory: layout, ids, atomic writes, locking, the status machine,
the store id file, and records written by the original yanex 0.6."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from yanex.core import timestamps
from yanex.core.jsonfile import read_json, write_json
from yanex.core.status import Status
from yanex.core.store import (
    ARTIFACTS_DIR,
    CONFIG_FILE,
    METADATA_FILE,
    RUNNING_DIR,
    STORE_ID_FILE,
    Store,
    experiments_root,
)
from yanex.errors import (
    AmbiguousIdError,
    ExperimentNotFoundError,
    StatusTransitionError,
    StoreError,
    UsageError,
)

ID = re.compile(r"^[0-9a-f]{8}$")

# The status machine as DESIGN.md draws it, written out here independently of the code.
LEGAL = {
    "created": {"staged", "queued", "running"},
    "staged": {"queued", "running", "cancelled"},
    "queued": {"running", "cancelled", "failed"},
    "running": {"completed", "failed", "cancelled"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
}
TERMINAL = {"completed", "failed", "cancelled"}
ALL_PAIRS = [(current, target) for current in LEGAL for target in LEGAL]


def experiment_dirs(root: Path) -> list[str]:
    """Every id-shaped directory under the root, complete or not."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and ID.match(p.name))


def umask() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    raise AssertionError("no Umask line in /proc/self/status")


# -- where the store is ------------------------------------------------------------------


def test_root_is_read_from_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YANEX_EXPERIMENTS_DIR", str(tmp_path / "one"))
    assert Store().root == tmp_path / "one"
    monkeypatch.setenv("YANEX_EXPERIMENTS_DIR", str(tmp_path / "two"))
    assert Store().root == tmp_path / "two"
    assert experiments_root() == tmp_path / "two"


def test_default_root_is_under_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YANEX_EXPERIMENTS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Store().root == tmp_path / ".yanex" / "experiments"


def test_an_unusable_root_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = Store(blocker / "experiments")
    with pytest.raises(StoreError, match="YANEX_EXPERIMENTS_DIR"):
        store.create({}, {})


# -- records -------------------------------------------------------------------------------


def test_create_writes_the_documented_layout(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "demo", "tags": ["a"]}, {"lr": 0.1, "model": {"n": 2}})
    assert ID.match(experiment_id)
    directory = experiments_dir / experiment_id
    assert (directory / ARTIFACTS_DIR).is_dir()
    assert read_json(directory / CONFIG_FILE) == {"lr": 0.1, "model": {"n": 2}}
    metadata = read_json(directory / METADATA_FILE)
    assert metadata["id"] == experiment_id
    assert metadata["name"] == "demo"
    assert metadata["status"] == "created"
    created = timestamps.parse(metadata["created_at"])
    assert created is not None and created.utcoffset() is not None
    assert store.read_config(experiment_id) == {"lr": 0.1, "model": {"n": 2}}
    assert store.ids() == [experiment_id]
    assert store.path(experiment_id) == directory


def test_records_are_readable_by_the_whole_group_per_umask(experiments_dir: Path) -> None:
    """A shared store (NFS) has clients and workers running as different users."""
    store = Store()
    experiment_id = store.create({}, {"lr": 1})
    store.transition(experiment_id, Status.RUNNING)
    expected = 0o666 & ~umask()
    for path in (
        experiments_dir / experiment_id / METADATA_FILE,
        experiments_dir / experiment_id / CONFIG_FILE,
        experiments_dir / STORE_ID_FILE,
    ):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_the_record_id_is_always_its_directory(experiments_dir: Path) -> None:
    store = Store()
    copied = {"id": "ffffffff", "name": "copy", "status": "created"}  # e.g. from another record
    experiment_id = store.create(copied, {})
    assert experiment_id != "ffffffff"
    assert store.read_metadata(experiment_id)["id"] == experiment_id
    assert [m["id"] for m in store.iter_metadata()] == [experiment_id]


def test_config_with_nan_and_infinity_is_stored_as_valid_json(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {"a": math.nan, "b": math.inf, "c": {"d": -math.inf}})
    text = (experiments_dir / experiment_id / CONFIG_FILE).read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in config.json"))
    config = store.read_config(experiment_id)
    assert math.isnan(config["a"]) and config["b"] == math.inf and config["c"]["d"] == -math.inf


def test_a_record_that_cannot_be_written_leaves_nothing_behind(experiments_dir: Path) -> None:
    store = Store()
    with pytest.raises(TypeError, match="'weights'"):
        store.create({"name": "x"}, {"weights": object()})
    assert experiment_dirs(experiments_dir) == []
    assert store.ids() == []


def test_a_directory_without_metadata_is_not_an_experiment(experiments_dir: Path) -> None:
    store = Store()
    store.ensure()
    (experiments_dir / "deadbeef").mkdir()  # a record being created by someone else
    assert store.ids() == []
    assert list(store.iter_metadata()) == []
    assert not store.exists("deadbeef")
    with pytest.raises(ExperimentNotFoundError):
        store.resolve("dead")


def test_ids_are_unique_with_many_concurrent_writers(experiments_dir: Path) -> None:
    store = Store()
    store.ensure()
    code = (
        "from yanex.core.store import Store\n"
        "s = Store()\n"
        "print(' '.join(s.create({'writer': 'process'}, {}) for _ in range(60)))\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    thread_ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        made = [store.create({"writer": "thread"}, {}) for _ in range(60)]
        with lock:
            thread_ids.extend(made)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    process_ids = [i for p in processes for i in p.communicate(timeout=30)[0].split()]
    assert all(p.returncode == 0 for p in processes)
    everything = thread_ids + process_ids
    assert len(everything) == 6 * 60 + 2 * 60
    assert len(set(everything)) == len(everything)
    assert all(ID.match(i) for i in everything)
    assert sorted(store.ids()) == sorted(everything)
    assert len(list(store.iter_metadata())) == len(everything)


def test_corrupt_metadata_is_a_store_error(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    (experiments_dir / experiment_id / METADATA_FILE).write_text('{"id": ')
    with pytest.raises(StoreError, match=experiment_id):
        store.read_metadata(experiment_id)
    assert list(store.iter_metadata()) == []  # skipped, not fatal


def test_unknown_experiment_is_not_found(experiments_dir: Path) -> None:
    with pytest.raises(ExperimentNotFoundError, match="yanex list"):
        Store().read_metadata("0badc0de")


# -- atomic writes and the metadata lock ---------------------------------------------------


def test_a_reader_never_sees_half_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    payloads = [{"n": n, "blob": "x" * (50_000 + n)} for n in range(40)]
    write_json(path, payloads[0])
    done = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not done.is_set():
            try:
                value = read_json(path)
            except ValueError as error:
                problems.append(str(error))
                return
            assert len(value["blob"]) == 50_000 + value["n"]

    reader = threading.Thread(target=read)
    reader.start()
    for payload in payloads:
        write_json(path, payload)
    done.set()
    reader.join()
    assert problems == []
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]  # no temporary left over


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    write_json(path, {"old": True})
    with pytest.raises(ValueError):
        write_json(path, {"bad": math.nan})  # allow_nan=False: never write invalid JSON
    assert read_json(path) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_metadata_updates_from_threads_and_processes_are_never_lost(
    experiments_dir: Path,
) -> None:
    store = Store()
    experiment_id = store.create({"count": 0}, {})
    code = (
        "import sys\n"
        "from yanex.core.store import Store\n"
        "s = Store()\n"
        "def bump(m): m['count'] += 1\n"
        "for _ in range(100): s.update_metadata(sys.argv[1], bump)\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code, experiment_id]) for _ in range(2)]

    def bump(metadata: dict[str, Any]) -> None:
        metadata["count"] += 1

    def work() -> None:
        for _ in range(100):
            store.update_metadata(experiment_id, bump)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(p.wait(timeout=30) == 0 for p in processes)
    assert store.read_metadata(experiment_id)["count"] == 600


def test_update_metadata_merges_a_dict(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "a", "tags": []}, {})
    returned = store.update_metadata(experiment_id, {"name": "b", "extra": 1})
    assert returned["name"] == "b"
    assert store.read_metadata(experiment_id)["extra"] == 1
    assert store.read_metadata(experiment_id)["tags"] == []


# -- the status machine --------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS)
def test_status_machine(experiments_dir: Path, current: str, target: str) -> None:
    store = Store()
    experiment_id = store.create({"status": current, "marker": 1}, {})
    before = store.read_metadata(experiment_id)
    if current in TERMINAL:
        # The first writer of a terminal status wins: later ones change nothing.
        assert store.transition(experiment_id, Status(target), error_message="late") is False
        assert store.read_metadata(experiment_id) == before
    elif target in LEGAL[current]:
        assert store.transition(experiment_id, Status(target), exit_code=0) is True
        after = store.read_metadata(experiment_id)
        assert after["status"] == target
        assert after["exit_code"] == 0
    else:
        with pytest.raises(StatusTransitionError, match=f"from {current} to {target}"):
            store.transition(experiment_id, Status(target))
        assert store.read_metadata(experiment_id) == before


def test_transitions_stamp_their_times(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    store.transition(experiment_id, Status.QUEUED)
    assert timestamps.parse(store.read_metadata(experiment_id)["queued_at"]) is not None
    store.transition(experiment_id, Status.RUNNING)
    metadata = store.read_metadata(experiment_id)
    assert timestamps.parse(metadata["started_at"]) is not None
    store.transition(experiment_id, Status.COMPLETED)
    metadata = store.read_metadata(experiment_id)
    ended = timestamps.parse(metadata["ended_at"])
    started = timestamps.parse(metadata["started_at"])
    assert ended is not None and started is not None and ended >= started
    assert metadata["duration"] == pytest.approx((ended - started).total_seconds())


def test_an_illegal_transition_is_a_yanex_error_with_exit_code_1(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    with pytest.raises(StatusTransitionError) as caught:
        store.transition(experiment_id, Status.COMPLETED)
    assert caught.value.exit_code == 1
    assert experiment_id in str(caught.value)


def test_the_first_terminal_writer_wins_a_race(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({}, {})
    store.transition(experiment_id, Status.RUNNING)
    targets = [Status.COMPLETED, Status.FAILED, Status.CANCELLED] * 4
    barrier = threading.Barrier(len(targets))
    outcomes: list[tuple[Status, bool]] = []

    def finish(target: Status) -> None:
        barrier.wait()
        outcomes.append((target, store.transition(experiment_id, target, winner=target.value)))

    threads = [threading.Thread(target=finish, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [target for target, applied in outcomes if applied]
    assert len(winners) == 1
    metadata = store.read_metadata(experiment_id)
    assert metadata["status"] == winners[0].value == metadata["winner"]


def test_a_stale_attempt_cannot_end_the_experiment(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"execution": {"attempt": 2}}, {})
    store.transition(experiment_id, Status.RUNNING)
    assert store.transition(experiment_id, Status.FAILED, attempt=1) is False
    assert store.read_metadata(experiment_id)["status"] == "running"
    assert store.transition(experiment_id, Status.FAILED, attempt=2) is True


def test_running_experiments_are_indexed_until_they_end(experiments_dir: Path) -> None:
    store = Store()
    first, second = store.create({}, {}), store.create({}, {})
    assert store.running_ids() == []
    store.transition(first, Status.RUNNING)
    store.transition(second, Status.RUNNING)
    assert sorted(store.running_ids()) == sorted([first, second])
    assert (experiments_dir / RUNNING_DIR / first).exists()
    store.transition(first, Status.FAILED)
    assert store.running_ids() == [second]


# -- the store id file ---------------------------------------------------------------------


def test_store_id_is_created_once_and_kept(experiments_dir: Path) -> None:
    store = Store()
    store_id = store.ensure()
    assert re.fullmatch(r"[0-9a-f]{32}", store_id)
    content = read_json(experiments_dir / STORE_ID_FILE)
    assert content["store_id"] == store_id
    assert timestamps.parse(content["created_at"]) is not None
    store.create({}, {})
    assert Store().store_id == store_id


def first_users(root: Path, count: int = 8) -> list[str]:
    """What `count` threads starting at once on a fresh store see as its id (or their error)."""
    barrier = threading.Barrier(count)
    seen: list[str] = []

    def first_use() -> None:
        barrier.wait()
        try:
            seen.append(Store(root).store_id)
        except Exception as error:  # recorded, so the assertion shows it
            seen.append(repr(error))

    threads = [threading.Thread(target=first_use) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


def test_store_id_is_the_same_for_every_concurrent_first_user(tmp_path: Path) -> None:
    """Many threads touching a fresh store at once must agree, and none may fail."""
    for trial in range(15):
        seen = first_users(tmp_path / f"store{trial}")
        assert len(set(seen)) == 1, seen
        assert re.fullmatch(r"[0-9a-f]{32}", seen[0])
        assert [p.name for p in (tmp_path / f"store{trial}").iterdir()] == [STORE_ID_FILE]


def test_corrupt_store_id_file_says_what_to_do(experiments_dir: Path) -> None:
    experiments_dir.mkdir()
    (experiments_dir / STORE_ID_FILE).write_text("{not json")
    with pytest.raises(StoreError, match="delete it"):
        Store().ensure()


# -- finding experiments -------------------------------------------------------------------


def test_resolve_by_id_prefix_and_name(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "baseline"}, {})
    assert store.resolve(experiment_id) == experiment_id
    assert store.resolve(experiment_id[:3]) == experiment_id
    assert store.resolve(f"  {experiment_id[:5]} ") == experiment_id
    assert store.resolve("baseline") == experiment_id


def test_resolve_errors(experiments_dir: Path) -> None:
    store = Store()
    ids = [store.create({"name": "twin"}, {}) for _ in range(40)]
    with pytest.raises(AmbiguousIdError, match="twin") as caught:
        store.resolve("twin")
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    # 40 ids over 16 first characters: some first character is shared.
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(AmbiguousIdError, match="type more characters"):
        store.resolve(shared)
    with pytest.raises(ExperimentNotFoundError, match="nothing-like-this"):
        store.resolve("nothing-like-this")


def test_archived_experiments_are_still_found(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "old"}, {"a": 1})
    store.archive(experiment_id)
    assert store.ids() == []
    assert store.ids(archived=True) == [experiment_id]
    assert store.is_archived(experiment_id)
    assert store.resolve("old") == experiment_id
    assert store.read_config(experiment_id) == {"a": 1}
    store.unarchive(experiment_id)
    assert store.ids() == [experiment_id]


# -- records written by the original yanex 0.6 ---------------------------------------------

# Written by the original yanex 0.6.1 (`yanex run t.py --name legacy --tag old -p lr=0.02`
# with a config.yaml), trimmed of its long environment section.
LEGACY_METADATA = {
    "cli_args": {"name": "legacy", "param": ["lr=0.02"], "script": "t.py", "tag": ["old"]},
    "completed_at": "2026-11-22T14:14:47.710897",
    "created_at": "2026-11-22T14:14:47.311852",
    "description": None,
    "duration": 0.324471,
    "git": {
        "author": "A",
        "branch": "master",
        "commit_hash": "421a7f7cdecca523f6512a873700f95c05409f84",
        "commit_hash_short": "421a7f7c",
        "has_uncommitted_changes": False,
        "patch_file": None,
    },
    "id": "68e50a9d",
    "name": "legacy",
    "process_id": 26240,
    "project": "orig",
    "script_args": [],
    "script_path": "/tmp/orig/t.py",
    "started_at": "2026-11-22T14:14:47.386426",
    "status": "completed",
    "tags": ["old"],
}
LEGACY_METRICS = """[
  {
    "loss": 0.4,
    "acc": NaN,
    "step": 0,
    "timestamp": "2026-11-22T14:14:47.653409",
    "last_updated": "2026-11-22T14:14:47.653782"
  },
  {
    "loss": 0.3,
    "step": 1,
    "timestamp": "2026-11-22T14:14:47.654311"
  }
]"""
LEGACY_PARAMS = "lr: 0.02\nmodel:\n  layers: 3\n"


def write_legacy(root: Path, config: str = "params.yaml") -> Path:
    directory = root / "68e50a9d"
    (directory / "artifacts").mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps(LEGACY_METADATA, indent=2))
    (directory / "metrics.json").write_text(LEGACY_METRICS)
    if config == "params.yaml":
        (directory / "params.yaml").write_text(LEGACY_PARAMS)
    else:
        (directory / "config.json").write_text('{"lr": 0.02, "model": {"layers": 3}}')
    (directory / "artifacts" / "stdout.txt").write_text("hi\n")
    return directory


@pytest.mark.parametrize("config", ["params.yaml", "config.json"])
def test_original_yanex_records_are_read_without_migration(
    experiments_dir: Path, config: str
) -> None:
    directory = write_legacy(experiments_dir, config)
    files_before = {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    store = Store()
    assert store.ids() == ["68e50a9d"]
    assert store.resolve("legacy") == "68e50a9d"
    metadata = store.read_metadata("68e50a9d")
    assert metadata["status"] == "completed" and metadata["tags"] == ["old"]
    assert store.read_config("68e50a9d") == {"lr": 0.02, "model": {"layers": 3}}
    metrics = store.read_metrics("68e50a9d")
    assert [row["step"] for row in metrics] == [0, 1]
    assert metrics[0]["loss"] == 0.4 and math.isnan(metrics[0]["acc"])
    assert metrics[0]["last_updated"] == "2026-11-22T14:14:47.653782"
    assert metrics[1]["loss"] == 0.3
    # Naive local times are read as local times, and durations work across them.
    started = timestamps.parse(metadata["started_at"])
    assert started is not None and started.utcoffset() is not None
    assert timestamps.seconds_between(
        metadata["started_at"], metadata["completed_at"]
    ) == pytest.approx(0.324471)
    # Reading changed nothing: no migration, no new files.
    assert {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()} == files_before


def test_original_record_without_metrics_or_params(experiments_dir: Path) -> None:
    directory = experiments_dir / "0123abcd"
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"id": "0123abcd", "status": "failed"}))
    store = Store()
    assert store.read_metrics("0123abcd") == []
    assert store.read_config("0123abcd") == {}


def test_new_metrics_file_wins_over_the_original_one(experiments_dir: Path) -> None:
    directory = write_legacy(experiments_dir)
    (directory / "metrics.jsonl").write_text('{"step": 0, "timestamp": "t", "new": 1}\n')
    assert Store().read_metrics("68e50a9d") == [{"step": 0, "timestamp": "t", "new": 1}]


def test_timestamps_are_utc_with_offset() -> None:
    now = timestamps.parse(timestamps.now())
    assert now is not None and now.utcoffset() is not None
    assert now.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert timestamps.parse("not a time") is None
    assert timestamps.parse(None) is None
    assert timestamps.seconds_between(None, timestamps.now()) is None


def test_store_files_are_in_a_plain_directory_anyone_can_read(experiments_dir: Path) -> None:
    store = Store()
    experiment_id = store.create({"name": "plain"}, {"lr": 0.5})
    metadata = json.loads((experiments_dir / experiment_id / METADATA_FILE).read_text())
    assert metadata["name"] == "plain"
    assert os.listdir(experiments_dir / experiment_id / ARTIFACTS_DIR) == []


def test_original_records_are_listed_and_shown_by_the_command_line(
    experiments_dir: Path, tmp_path: Path
) -> None:
    write_legacy(experiments_dir)
    listed = subprocess.run(
        [sys.executable, "-m", "yanex", "list"], cwd=tmp_path, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert "68e50a9d" in listed.stdout and "legacy" in listed.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "yanex", "show", "legacy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "completed" in shown.stdout and "0.02" in shown.stdout and "loss" in shown.stdout
    assert sorted(p.name for p in (experiments_dir / "68e50a9d").iterdir()) == [
        "artifacts", "metadata.json", "metrics.json", "params.yaml"
    ]  # fmt: skip
