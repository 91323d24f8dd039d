"""`Experiment`: the one normalized, read-only view of an experiment record.

Every command and the results API see records through this class, so the differences
between records (timestamps with or without offsets, `completed_at` from the original
yanex, a dependency list or a `{slot: id}` dict) are settled here once. Building one
from already-read metadata costs nothing; parameters, metrics and artifacts are read
from the store on first use. Listings build them from the listing index's summary
fields (`complete=False`); the whole metadata.json is then read on first use of
`.metadata`.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from yanex.core import timestamps
from yanex.core.jsonfile import restore_floats
from yanex.core.metrics import AGGREGATES, ROW_KEYS, aggregate
from yanex.core.params import get_dotted
from yanex.core.status import Status
from yanex.core.store import ARCHIVE_DIR, ARTIFACTS_DIR, METRICS_FILE, Metadata, Store
from yanex.errors import UsageError, YanexError

METRIC_ROW_KEYS = ROW_KEYS  # not metrics


class Artifact(NamedTuple):
    """A file in an experiment's artifacts directory."""

    name: str
    size: int
    path: Path


class Experiment:
    """One experiment: identity, timings, parameters, metrics, artifacts, execution.

    Example:
        experiment = Experiment.load(Store(), "a1b2")
        experiment.params["lr"], experiment.metric("accuracy", "max")
    """

    def __init__(
        self,
        store: Store,
        metadata: Metadata,
        *,
        archived: bool | None = None,
        complete: bool = True,
    ) -> None:
        self.store = store
        # `complete=False`: `metadata` holds only the summary fields of a listing index;
        # the whole record is read on first use of `.metadata`.
        self._fields = metadata
        self._full = metadata if complete else None
        self._archived = archived

    @classmethod
    def load(cls, store: Store, reference: str) -> Experiment:
        """The experiment with this id, unique id prefix or unique name."""
        experiment_id = store.resolve(reference)
        return cls(store, store.read_metadata(experiment_id))

    def __repr__(self) -> str:
        return f"Experiment({self.id!r}, name={self.name!r}, status={self.status!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Experiment):
            return NotImplemented
        return self.id == other.id and self.store.root == other.store.root

    def __hash__(self) -> int:
        return hash((self.id, self.store.root))

    @property
    def metadata(self) -> Metadata:
        """The raw metadata.json record."""
        if self._full is None:
            self._full = self._fields = self.store.read_metadata(self.id)
        return self._full

    @metadata.setter
    def metadata(self, metadata: Metadata) -> None:
        self._full = self._fields = metadata
        for cached in ("created_at", "started_at", "ended_at"):
            self.__dict__.pop(cached, None)

    # -- identity -------------------------------------------------------------------

    @property
    def id(self) -> str:
        return str(self._fields["id"])

    @property
    def name(self) -> str | None:
        name = self._fields.get("name")
        return str(name) if name not in (None, "") else None

    @property
    def status(self) -> str:
        """The status value, e.g. "completed" (see `yanex.core.status.Status`)."""
        return str(self._fields.get("status") or Status.CREATED.value)

    @property
    def is_active(self) -> bool:
        """Queued or running: something may still happen to it."""
        return self.status in (Status.QUEUED.value, Status.RUNNING.value)

    @property
    def tags(self) -> list[str]:
        tags = self._fields.get("tags") or []
        return [str(tag) for tag in tags] if isinstance(tags, list) else [str(tags)]

    @property
    def description(self) -> str | None:
        description = self.metadata.get("description")
        return str(description) if description else None

    @property
    def script_path(self) -> Path | None:
        path = self._fields.get("script_path")
        return Path(path) if path else None

    @property
    def module(self) -> str | None:
        module = self._fields.get("module")
        return str(module) if module else None

    @property
    def script(self) -> str | None:
        """The script path, or `-m module` for a module run."""
        path = self._fields.get("script_path")
        if path:
            return str(path)
        return f"-m {self.module}" if self.module else None

    @property
    def batch(self) -> str | None:
        batch = self._fields.get("batch")
        return str(batch) if batch else None

    @property
    def archived(self) -> bool:
        if self._archived is None:
            self._archived = self.store.is_archived(self.id)
        return self._archived

    # -- timings --------------------------------------------------------------------

    @functools.cached_property
    def created_at(self) -> datetime | None:
        return timestamps.parse(self._fields.get("created_at"))

    @functools.cached_property
    def started_at(self) -> datetime | None:
        return timestamps.parse(self._fields.get("started_at"))

    @functools.cached_property
    def ended_at(self) -> datetime | None:
        """When it ended (`completed_at` in records of the original yanex)."""
        value = self._fields.get("ended_at") or self._fields.get("completed_at")
        return timestamps.parse(value)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end; for a run still going, the time elapsed so far."""
        stored = self._fields.get("duration")
        if isinstance(stored, (int, float)) and not isinstance(stored, bool):
            return float(stored)
        if self.started_at is None:
            return None
        end = self.ended_at
        if end is None:
            if self.status != Status.RUNNING.value:
                return None
            end = datetime.now(timezone.utc)
        return (end - self.started_at).total_seconds()

    # -- how it ran and ended ---------------------------------------------------------

    @property
    def execution(self) -> dict[str, Any]:
        execution = self.metadata.get("execution")
        return dict(execution) if isinstance(execution, dict) else {}

    @property
    def worker(self) -> str | None:
        """Who runs it: the queue worker's name, else the host."""
        execution = self._fields.get("execution") or {}
        who = execution.get("worker") or execution.get("host")
        return str(who) if who else None

    @property
    def queue(self) -> str | None:
        """The RQ queue it was sent to (None for local runs)."""
        queue = (self._fields.get("execution") or {}).get("queue")
        return str(queue) if queue else None

    @property
    def queued_at(self) -> datetime | None:
        return timestamps.parse(self._fields.get("queued_at"))

    @property
    def error_message(self) -> str | None:
        message = self.metadata.get("error_message") or self.metadata.get("cancellation_reason")
        return str(message) if message else None

    @property
    def failure_reason(self) -> str | None:
        reason = self.metadata.get("failure_reason")
        return str(reason) if reason else None

    @property
    def exit_code(self) -> int | None:
        code = self.metadata.get("exit_code")
        return code if isinstance(code, int) else None

    # -- dependencies ---------------------------------------------------------------

    @property
    def dependency_slots(self) -> dict[str, str]:
        """Dependencies by slot name; a plain list gets slots "0", "1", ..."""
        dependencies = self.metadata.get("dependencies") or []
        if isinstance(dependencies, dict):
            return {str(slot): str(value) for slot, value in dependencies.items()}
        if isinstance(dependencies, list):
            return {str(index): str(value) for index, value in enumerate(dependencies)}
        return {}

    @property
    def dependencies(self) -> list[str]:
        """Ids of the experiments this one depends on."""
        return list(dict.fromkeys(self.dependency_slots.values()))

    def get_dependencies(self) -> list[Experiment]:
        """The experiments this one depends on (missing ones raise ExperimentNotFoundError)."""
        return [Experiment.load(self.store, experiment_id) for experiment_id in self.dependencies]

    # -- parameters and metrics -------------------------------------------------------

    @functools.cached_property
    def params(self) -> dict[str, Any]:
        """The resolved parameters (nested dicts)."""
        indexed = self._fields.get("_params")  # a listing index carries them
        return indexed if isinstance(indexed, dict) else self.store.read_config(self.id)

    def param(self, key: str, default: Any = None) -> Any:
        """One parameter by dotted key, e.g. `param("model.lr")`."""
        return get_dotted(self.params, key, default)

    @functools.cached_property
    def metrics(self) -> list[dict[str, Any]]:
        """Logged metrics: one merged row per step (`step`, `timestamp`, values...)."""
        return self.store.read_metrics(self.id)

    @functools.cached_property
    def metrics_summary(self) -> dict[str, Any] | None:
        """Per-metric aggregates recorded when the run ended, if the metrics are unchanged since.

        Comparing thousands of finished runs then reads no metrics files (and, through
        the listing index, no metadata files either).
        """
        summary = self._fields.get("metrics_summary")
        if not isinstance(summary, dict) or not isinstance(summary.get("metrics"), dict):
            return None
        try:
            size = (self.experiment_dir / METRICS_FILE).stat().st_size
        except (FileNotFoundError, YanexError):
            size = 0
        return summary["metrics"] if summary.get("bytes") == size else None

    @property
    def metric_names(self) -> list[str]:
        """Names of every logged metric, in order of first appearance."""
        summary = self.metrics_summary
        if summary is not None:
            return list(summary)
        names: dict[str, None] = {}
        for row in self.metrics:
            names.update(dict.fromkeys(row))
        return [name for name in names if name not in METRIC_ROW_KEYS]

    def metric_history(self, name: str) -> list[tuple[int, Any]]:
        """`(step, value)` for each step that logged `name`."""
        return [(row["step"], row[name]) for row in self.metrics if name in row]

    def metric(self, name: str, agg: str = "last") -> Any:
        """One value of metric `name`: its last, first, min, max or mean; None if never logged."""
        check_aggregate(agg)
        summary = self.metrics_summary
        if summary is not None:
            return restore_floats(summary[name][agg]) if name in summary else None
        values = [value for _, value in self.metric_history(name)]
        return aggregate(values, agg)

    # -- files ----------------------------------------------------------------------

    @property
    def experiment_dir(self) -> Path:
        if self._archived is not None:
            base = self.store.root / ARCHIVE_DIR if self._archived else self.store.root
            return base / self.id
        return self.store.path(self.id)

    @property
    def artifacts_dir(self) -> Path:
        return self.experiment_dir / ARTIFACTS_DIR

    @property
    def artifacts(self) -> list[Artifact]:
        """The files under `artifacts/` (hidden temporary files left out), with sizes."""
        from yanex.core.artifacts import list_artifacts

        directory = self.artifacts_dir
        found = []
        for name in list_artifacts(directory):
            path = directory / name
            try:
                found.append(Artifact(name, path.stat().st_size, path))
            except FileNotFoundError:
                continue  # removed while we looked
        return found

    def load_artifact(self, name: str, loader: Any = None) -> Any:
        """Load an artifact by name (format from its extension), or None if it does not exist."""
        from yanex.core.artifacts import load_artifact

        return load_artifact(self.artifacts_dir, name, loader)

    # -- as plain data --------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The stable keys of machine-readable listings (ISO times, seconds)."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "tags": self.tags,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "duration": self.duration,
            "script": self.script,
            "batch": self.batch,
        }


def check_aggregate(agg: str) -> None:
    """Raise UsageError unless `agg` is one of AGGREGATES."""
    if agg not in AGGREGATES:
        raise UsageError(f"unknown metric aggregate {agg!r}; use one of {', '.join(AGGREGATES)}")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
