"""The experiments directory: the one module that knows its layout.

```
<root>/.yanex-store.json      the store's id (a worker writing elsewhere is caught)
<root>/.running/<id>          one marker per running experiment (cheap liveness scans)
<root>/.batches/<batch>.json  batch manifests: which experiments a run_multiple call made
<root>/archived/<id>/         archived experiments, same layout
<root>/<id>/
    metadata.json             everything about the run; read-modify-write under .lock
    config.json               the resolved parameters (original yanex: params.yaml)
    metrics.jsonl             one JSON line per log_metrics call (original: metrics.json)
    artifacts/                user files, stdout.txt, stderr.txt, git_diff.patch
```

Every write is atomic; metadata changes happen under a per-experiment lock; status
changes go through `transition`, which enforces the status machine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from yanex.core import timestamps
from yanex.core.jsonfile import jsonable, read_json, restore_floats, write_json
from yanex.core.lock import FileLock
from yanex.core.metrics import merge_rows, read_metrics
from yanex.core.status import Status, can_transition
from yanex.errors import (
    AmbiguousIdError,
    ExperimentNotFoundError,
    StatusTransitionError,
    StoreError,
)

METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
ARTIFACTS_DIR = "artifacts"
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"
PATCH_FILE = "git_diff.patch"
LOCK_FILE = ".lock"
SCRIPT_RUNS_FILE = "script_runs.json"
LEGACY_METRICS_FILE = "metrics.json"
LEGACY_PARAMS_FILE = "params.yaml"

STORE_ID_FILE = ".yanex-store.json"
RUNNING_DIR = ".running"
BATCHES_DIR = ".batches"
ARCHIVE_DIR = "archived"

DEFAULT_ROOT = "~/.yanex/experiments"
ID_PATTERN = re.compile(r"^[0-9a-f]{8}$")

Metadata = dict[str, Any]


def experiments_root() -> Path:
    """The store root: `YANEX_EXPERIMENTS_DIR` (read now, not at import) or the default."""
    return Path(os.environ.get("YANEX_EXPERIMENTS_DIR") or DEFAULT_ROOT).expanduser().absolute()


def new_id() -> str:
    """A random candidate id: 8 lowercase hex characters."""
    return os.urandom(4).hex()


class Store:
    """One experiments directory.

    Example:
        store = Store()
        experiment_id = store.create({"name": "demo", "status": "created"}, {"lr": 0.1})
        store.transition(experiment_id, Status.RUNNING)
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser().absolute() if root else experiments_root()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- the store as a whole -------------------------------------------------------

    @property
    def store_id(self) -> str:
        """The id in the store's id file, created on first use."""
        path = self.root / STORE_ID_FILE
        try:
            return _read_store_id(path)
        except FileNotFoundError:
            pass
        self._ensure_root()
        try:
            _create_store_id_file(path)
        except OSError as error:
            raise StoreError(
                f"cannot write the store id file {path}: {error.strerror} — "
                "set YANEX_EXPERIMENTS_DIR to a writable directory"
            ) from error
        return _read_store_id(path)

    def ensure(self) -> str:
        """Create the store (directory and id file) if needed; return its id."""
        return self.store_id

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the experiments directory {self.root}: {error.strerror} — "
                "set YANEX_EXPERIMENTS_DIR to a writable directory"
            ) from error

    def ids(self, *, archived: bool = False) -> list[str]:
        """Ids of complete experiment records (active, or archived with `archived=True`)."""
        base = self.root / ARCHIVE_DIR if archived else self.root
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):  # no store (yet) at this root
            return []
        # A directory without metadata.json is a record still being created: not yet one.
        return [
            e.name
            for e in entries
            if ID_PATTERN.match(e.name) and os.path.isfile(os.path.join(e.path, METADATA_FILE))
        ]

    # -- one experiment ------------------------------------------------------------

    def create(self, metadata: Metadata, config: dict[str, Any]) -> str:
        """Create a new experiment record; return its id.

        The id is claimed with an exclusive mkdir, so concurrent writers never collide.
        If writing the record fails, nothing is left behind.
        """
        self.ensure()
        stored_config = _encode_config(config)  # before claiming: a bad value claims nothing
        directory, experiment_id = self._claim_directory()
        try:
            (directory / ARTIFACTS_DIR).mkdir()
            write_json(directory / CONFIG_FILE, stored_config)
            # The directory names the record: an "id" in `metadata` (say, copied from
            # another experiment) must not contradict it.
            record = {"id": experiment_id, **{k: v for k, v in metadata.items() if k != "id"}}
            record.setdefault("status", Status.CREATED.value)
            record.setdefault("created_at", timestamps.now())
            write_json(directory / METADATA_FILE, record)  # last: its presence marks completion
        except BaseException:
            import shutil

            shutil.rmtree(directory, ignore_errors=True)
            raise
        return experiment_id

    def _claim_directory(self) -> tuple[Path, str]:
        for _ in range(1000):
            experiment_id = new_id()
            if (self.root / ARCHIVE_DIR / experiment_id).exists():
                continue
            directory = self.root / experiment_id
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            return directory, experiment_id
        raise StoreError(f"could not allocate a free experiment id in {self.root}")

    def path(self, experiment_id: str) -> Path:
        """The directory of an experiment (active or archived)."""
        active = self.root / experiment_id
        if (active / METADATA_FILE).exists():
            return active
        archived = self.root / ARCHIVE_DIR / experiment_id
        if (archived / METADATA_FILE).exists():
            return archived
        raise ExperimentNotFoundError(
            f"experiment {experiment_id} not found in {self.root} — see `yanex list`"
        )

    def exists(self, experiment_id: str) -> bool:
        try:
            self.path(experiment_id)
        except ExperimentNotFoundError:
            return False
        return True

    def is_archived(self, experiment_id: str) -> bool:
        return self.path(experiment_id).parent.name == ARCHIVE_DIR

    def artifacts_dir(self, experiment_id: str) -> Path:
        return self.path(experiment_id) / ARTIFACTS_DIR

    def read_metadata(self, experiment_id: str) -> Metadata:
        path = self.path(experiment_id) / METADATA_FILE
        try:
            data = read_json(path)
        except ValueError as error:
            raise StoreError(
                f"metadata of experiment {experiment_id} is corrupt: {error}"
            ) from error
        if not isinstance(data, dict):
            raise StoreError(f"metadata of experiment {experiment_id} is not a JSON object")
        return data

    def update_metadata(
        self, experiment_id: str, change: Metadata | Callable[[Metadata], None]
    ) -> Metadata:
        """Apply `change` (a dict to merge, or a function that edits in place) under the lock."""
        directory = self.path(experiment_id)
        with FileLock(directory / LOCK_FILE):
            metadata = self.read_metadata(experiment_id)
            if callable(change):
                change(metadata)
            else:
                metadata.update(change)
            write_json(directory / METADATA_FILE, metadata)
        return metadata

    def transition(
        self, experiment_id: str, target: Status, *, attempt: int | None = None, **fields: Any
    ) -> bool:
        """Move an experiment to `target` status, recording `fields` with it.

        Returns False, changing nothing, when the experiment already reached a terminal
        status (the first writer of completed/failed/cancelled wins) or when `attempt`
        is given and is no longer the current attempt. Raises StatusTransitionError for
        a move the status machine forbids.
        """
        applied = False

        def change(metadata: Metadata) -> None:
            nonlocal applied
            current = Status(metadata.get("status", Status.CREATED.value))
            if current.is_terminal:
                return
            if attempt is not None and metadata.get("execution", {}).get("attempt", 1) != attempt:
                return
            if not can_transition(current, target):
                raise StatusTransitionError(
                    f"experiment {experiment_id} cannot go from {current} to {target}"
                )
            _stamp(metadata, target)
            metadata.update(fields)
            applied = True

        marked = False
        if target is Status.RUNNING and not (self.root / RUNNING_DIR / experiment_id).exists():
            # Marker first: a supervisor killed right after the status change must still
            # be found by the liveness scan, which reads only the markers.
            self._update_running_marker(experiment_id, target)
            marked = True
        try:
            self.update_metadata(experiment_id, change)
        finally:
            if marked and not applied:
                self.forget_running(experiment_id)
        if applied and target is not Status.RUNNING:
            self._update_running_marker(experiment_id, target)
        return applied

    def retry(self, experiment_id: str, *, attempt: int, outcome: Metadata) -> bool:
        """Put a running experiment whose `attempt` failed back to queued, as attempt + 1.

        The failed attempt is recorded in `attempts` (with `outcome`: failure_reason,
        error_message, exit_code) and its logs are kept as `stdout.attempt<N>.txt` and
        `stderr.attempt<N>.txt`. Returns False, changing nothing, when the experiment is
        not running that attempt any more (someone else already ended or retried it).
        """
        applied = False

        def change(metadata: Metadata) -> None:
            nonlocal applied
            execution = metadata.get("execution") or {}
            if (
                metadata.get("status") != Status.RUNNING.value
                or execution.get("attempt", 1) != attempt
            ):
                return
            metadata.setdefault("attempts", []).append(
                {
                    "attempt": attempt,
                    "started_at": metadata.get("started_at"),
                    "ended_at": timestamps.now(),
                    "worker": execution.get("worker"),
                    "host": execution.get("host"),
                    **outcome,
                }
            )
            kept = ("backend", "queue", "job_id", "max_attempts", "events")
            metadata["execution"] = {k: execution[k] for k in kept if k in execution}
            metadata["execution"]["attempt"] = attempt + 1
            metadata["status"] = Status.QUEUED.value
            metadata["queued_at"] = timestamps.now()
            metadata["started_at"] = None
            applied = True

        self.update_metadata(experiment_id, change)
        if applied:
            self.forget_running(experiment_id)
            artifacts = self.artifacts_dir(experiment_id)
            for name in (STDOUT_FILE, STDERR_FILE):
                log = artifacts / name
                if log.exists():
                    stem, suffix = name.rsplit(".", 1)
                    os.replace(log, artifacts / f"{stem}.attempt{attempt}.{suffix}")
        return applied

    def _update_running_marker(self, experiment_id: str, status: Status) -> None:
        marker = self.root / RUNNING_DIR / experiment_id
        if status is Status.RUNNING:
            marker.parent.mkdir(exist_ok=True)
            marker.touch()
        elif status.is_terminal:
            marker.unlink(missing_ok=True)

    def running_ids(self) -> list[str]:
        """Ids marked running: the experiments whose liveness needs checking."""
        try:
            return [e.name for e in os.scandir(self.root / RUNNING_DIR) if ID_PATTERN.match(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def forget_running(self, experiment_id: str) -> None:
        """Drop a running marker whose experiment is gone or no longer running."""
        (self.root / RUNNING_DIR / experiment_id).unlink(missing_ok=True)

    def read_config(self, experiment_id: str) -> dict[str, Any]:
        """The resolved parameters (config.json, or params.yaml from the original yanex)."""
        directory = self.path(experiment_id)
        try:
            text = (directory / CONFIG_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            data = _read_legacy_params(directory / LEGACY_PARAMS_FILE)
            return data if isinstance(data, dict) else {}
        data = json.loads(text)
        if not isinstance(data, dict):
            return {}
        # Only a config holding an encoded NaN/infinity needs the walk that restores them.
        return restore_floats(data) if ("NaN" in text or "Infinity" in text) else data

    def metrics_path(self, experiment_id: str) -> Path:
        return self.path(experiment_id) / METRICS_FILE

    def read_metrics(self, experiment_id: str) -> list[dict[str, Any]]:
        """Metric rows merged by step (metrics.jsonl, or the original's metrics.json)."""
        directory = self.path(experiment_id)
        rows = read_metrics(directory / METRICS_FILE)
        if rows:
            return rows
        try:
            legacy = read_json(directory / LEGACY_METRICS_FILE)
        except (FileNotFoundError, ValueError):
            return []
        return (
            merge_rows(r for r in legacy if isinstance(r, dict)) if isinstance(legacy, list) else []
        )

    # -- finding experiments -----------------------------------------------------------

    def resolve(self, reference: str) -> str:
        """Find one experiment by full id, unique id prefix, or unique name."""
        reference = reference.strip()
        if ID_PATTERN.match(reference) and self.exists(reference):
            return reference
        all_ids = self.ids() + self.ids(archived=True)
        if re.fullmatch(r"[0-9a-f]{1,8}", reference):
            matches = sorted(i for i in all_ids if i.startswith(reference))
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise AmbiguousIdError(
                    f"id prefix {reference!r} matches {len(matches)} experiments "
                    f"({', '.join(matches[:5])}{', ...' if len(matches) > 5 else ''}); "
                    "type more characters"
                )
        named = [i for i in all_ids if self._name_of(i) == reference]
        if len(named) == 1:
            return named[0]
        if named:
            raise AmbiguousIdError(
                f"name {reference!r} matches {len(named)} experiments "
                f"({', '.join(sorted(named)[:5])}); use an id instead"
            )
        raise ExperimentNotFoundError(
            f"no experiment with id, id prefix or name {reference!r} in {self.root} "
            "— see `yanex list`"
        )

    def _name_of(self, experiment_id: str) -> str | None:
        try:
            name = self.read_metadata(experiment_id).get("name")
        except (ExperimentNotFoundError, StoreError, OSError):
            return None
        return name if isinstance(name, str) else None

    def iter_metadata(self, *, archived: bool = False) -> Iterator[Metadata]:
        """Metadata of every readable experiment (unordered); corrupt records are skipped."""
        base = self.root / ARCHIVE_DIR if archived else self.root
        for experiment_id in self.ids(archived=archived):
            try:
                data = read_json(base / experiment_id / METADATA_FILE)
            except (OSError, ValueError):
                continue  # being created right now, or damaged: not an experiment yet
            if isinstance(data, dict):
                data.setdefault("id", experiment_id)
                yield data

    # -- moving and removing ---------------------------------------------------------

    def archive(self, experiment_id: str) -> None:
        source = self.path(experiment_id)
        if source.parent.name == ARCHIVE_DIR:
            return
        (self.root / ARCHIVE_DIR).mkdir(exist_ok=True)
        os.rename(source, self.root / ARCHIVE_DIR / experiment_id)

    def unarchive(self, experiment_id: str) -> None:
        source = self.path(experiment_id)
        if source.parent.name != ARCHIVE_DIR:
            return
        os.rename(source, self.root / experiment_id)

    def delete(self, experiment_id: str) -> None:
        directory = self.path(experiment_id)
        self.forget_running(experiment_id)
        import shutil

        shutil.rmtree(directory)

    # -- batches --------------------------------------------------------------------

    def create_batch(self, manifest: dict[str, Any]) -> str:
        """Write a new batch manifest; return the batch id (8 hex chars, claimed exclusively)."""
        directory = self.root / BATCHES_DIR
        directory.mkdir(parents=True, exist_ok=True)
        for _ in range(1000):
            batch_id = new_id()
            try:
                os.close(os.open(directory / f"{batch_id}.json", os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            write_json(directory / f"{batch_id}.json", {"id": batch_id, **manifest})
            return batch_id
        raise StoreError(f"could not allocate a free batch id in {directory}")

    def update_batch(self, batch_id: str, change: dict[str, Any]) -> None:
        path = self.root / BATCHES_DIR / f"{batch_id}.json"
        with FileLock(path.with_suffix(".lock")):
            manifest = self.read_batch(batch_id)
            manifest.update(change)
            write_json(path, manifest)

    def delete_batch(self, batch_id: str) -> None:
        (self.root / BATCHES_DIR / f"{batch_id}.json").unlink(missing_ok=True)
        (self.root / BATCHES_DIR / f"{batch_id}.lock").unlink(missing_ok=True)

    def read_batch(self, batch_id: str) -> dict[str, Any]:
        try:
            data = read_json(self.root / BATCHES_DIR / f"{batch_id}.json")
        except (FileNotFoundError, ValueError) as error:
            raise ExperimentNotFoundError(
                f"no batch {batch_id!r} in {self.root} — the id is printed when a sweep starts"
            ) from error
        return data if isinstance(data, dict) else {}

    def batch_ids(self) -> list[str]:
        try:
            names = os.listdir(self.root / BATCHES_DIR)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [n[:-5] for n in names if n.endswith(".json") and ID_PATTERN.match(n[:-5])]


def _stamp(metadata: Metadata, target: Status) -> None:
    now = timestamps.now()
    metadata["status"] = target.value
    if target is Status.RUNNING:
        metadata["started_at"] = now
    elif target.is_terminal:
        metadata["ended_at"] = now
        metadata["duration"] = timestamps.seconds_between(metadata.get("started_at"), now)
    else:
        metadata[f"{target.value}_at"] = now


def _create_store_id_file(path: Path) -> None:
    """Create the store id file unless it exists, never letting anyone read half of it.

    The file is written in full under a scratch name, then hard-linked into place: the
    link fails when another process won the race, and the winner's id stays.
    """
    scratch = path.with_name(f".{STORE_ID_FILE}.{os.urandom(16).hex()}.tmp")
    try:
        write_json(scratch, {"store_id": os.urandom(16).hex(), "created_at": timestamps.now()})
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass  # another process made it just now
        except OSError:  # a filesystem without hard links: still whole, the last one wins
            if not path.exists():
                os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def _read_store_id(path: Path) -> str:
    """The id in an existing store id file (FileNotFoundError when there is none)."""
    try:
        return str(read_json(path)["store_id"])
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError) as error:
        raise StoreError(f"store id file {path} is corrupt ({error}); delete it") from error
    except OSError as error:
        raise StoreError(
            f"cannot read the store id file {path}: {error.strerror} — "
            "set YANEX_EXPERIMENTS_DIR to a usable experiments directory"
        ) from error


def _encode_config(config: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON can hold them (NaN and infinities as strings, numpy as numbers).

    Raises TypeError naming the parameter whose value cannot be stored.
    """
    return {str(key): jsonable(value, str(key)) for key, value in config.items()}


def _read_legacy_params(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    import yaml  # only records written by the original yanex need this

    return yaml.safe_load(text) or {}
