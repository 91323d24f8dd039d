"""A listing index: the summary fields of every record, so a listing reads one file.

`<root>/.yanex-index.json` keeps, per experiment, the few metadata fields that listings
and filters use, with the (mtime, size, inode) of the metadata.json they came from.
`scan` stats every metadata.json (cheap), takes unchanged records from the index and
reads new or changed ones through the Store; when anything changed, the index is
rewritten atomically. Every metadata write replaces the file (new inode), so a stale
entry is never taken for a fresh one. A missing, corrupt or unwritable index only
costs speed: the records themselves stay the source of truth.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from yanex.core.jsonfile import write_json
from yanex.core.store import ARCHIVE_DIR, ID_PATTERN, METADATA_FILE, Metadata, Store
from yanex.errors import ExperimentNotFoundError, StoreError
from yanex.results.experiment import Experiment

INDEX_FILE = ".yanex-index.json"
VERSION = 3  # 2: entries carry metrics_summary; 3: and the parameters
FIELDS = (
    "id",
    "name",
    "status",
    "tags",
    "created_at",
    "queued_at",
    "started_at",
    "ended_at",
    "completed_at",
    "duration",
    "script_path",
    "module",
    "batch",
    "metrics_summary",
)
EXECUTION_FIELDS = ("worker", "host", "queue")

_BULK = 200  # more changed records than this are read with one Store.iter_metadata pass
Stamp = list[int]
Entry = list[Any]  # [stamp, [values of FIELDS], [values of EXECUTION_FIELDS], params]
PARAMS = "_params"  # where an index-built Experiment finds its parameters (config.json is
# written once, when the record is created, so the metadata's stamp covers it)


def scan(store: Store, archived: bool) -> list[Experiment]:
    """Every readable experiment of one scope (active or archived), unordered."""
    index = _read_index(store)
    scope = "archived" if archived else "active"
    known: dict[str, Entry] = index.get(scope, {})
    current: dict[str, Entry] = {}
    experiments = []
    missing: dict[str, Stamp] = {}
    for experiment_id, stamp in _stamps(store, archived).items():
        entry = known.get(experiment_id)
        fields = _fields(entry) if entry is not None and entry[0] == stamp else None
        if entry is None or fields is None:
            missing[experiment_id] = stamp
            continue
        current[experiment_id] = entry
        experiments.append(Experiment(store, fields, archived=archived, complete=False))
    for metadata in _read(store, archived, missing):
        entry = _entry(missing[metadata["id"]], metadata, _params(store, metadata["id"]))
        current[metadata["id"]] = entry
        experiments.append(Experiment(store, metadata, archived=archived))
    if current != known:
        index[scope] = current
        _write_index(store, index)
    return experiments


def _stamps(store: Store, archived: bool) -> dict[str, Stamp]:
    """(mtime_ns, size, inode) of each record's metadata.json; no file, no record."""
    base = str(store.root / ARCHIVE_DIR if archived else store.root)
    try:
        entries = list(os.scandir(base))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    stamps = {}
    for entry in entries:
        if not ID_PATTERN.match(entry.name):
            continue
        try:
            stat = os.stat(f"{entry.path}/{METADATA_FILE}")
        except OSError:
            continue  # being created: not a record yet
        stamps[entry.name] = [stat.st_mtime_ns, stat.st_size, stat.st_ino]
    return stamps


def _read(store: Store, archived: bool, wanted: dict[str, Stamp]) -> Iterator[Metadata]:
    """The metadata of the `wanted` records; damaged or vanished ones are skipped."""
    if len(wanted) > _BULK:  # a new or rebuilt index: one pass over the store is faster
        records = (m for m in store.iter_metadata(archived=archived) if m["id"] in wanted)
        yield from records
        return
    for experiment_id in wanted:
        try:
            metadata = store.read_metadata(experiment_id)
        except (ExperimentNotFoundError, StoreError, OSError):
            continue  # deleted meanwhile, or damaged: skipped, as iter_metadata does
        metadata["id"] = experiment_id
        yield metadata


def _entry(stamp: Stamp, metadata: Metadata, params: dict[str, Any] | None) -> Entry:
    execution = metadata.get("execution")
    execution = execution if isinstance(execution, dict) else {}
    return [
        stamp,
        [metadata.get(field) for field in FIELDS],
        [execution.get(field) for field in EXECUTION_FIELDS],
        params,
    ]


def _params(store: Store, experiment_id: str) -> dict[str, Any] | None:
    try:
        return store.read_config(experiment_id)
    except (ExperimentNotFoundError, StoreError, OSError, ValueError):
        return None  # read later, if ever needed, from the record itself


def _fields(entry: Any) -> Metadata | None:
    """The summary fields of an index entry; None for an entry of the wrong shape."""
    try:
        fields = dict(zip(FIELDS, entry[1], strict=True))
        fields["execution"] = dict(zip(EXECUTION_FIELDS, entry[2], strict=True))
        if isinstance(entry[3], dict):
            fields[PARAMS] = entry[3]
    except (TypeError, ValueError, IndexError):
        return None
    return fields


def _read_index(store: Store) -> dict[str, Any]:
    try:
        with open(store.root / INDEX_FILE, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    if data.get("fields") != list(FIELDS) + list(EXECUTION_FIELDS):
        return {}
    return {k: v for k, v in data.items() if k in ("active", "archived") and isinstance(v, dict)}


def _write_index(store: Store, index: dict[str, Any]) -> None:
    if not store.root.is_dir():
        return
    data = {"version": VERSION, "fields": list(FIELDS) + list(EXECUTION_FIELDS), **index}
    with contextlib.suppress(OSError, TypeError, ValueError):  # read-only store: just slower
        write_json(store.root / INDEX_FILE, data, indent=None)
