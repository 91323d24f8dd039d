"""Which experiment the run API talks to, if any.

Inside `yanex run` the Runner sets `YANEX_EXPERIMENT_ID` and `YANEX_EXPERIMENTS_DIR`;
`create_experiment()` / `create_context()` push an in-process context instead. With
neither, the API is in standalone mode: logging is a no-op and artifacts go to
`./artifacts/`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from yanex.core.metrics import MetricsLog
from yanex.core.store import ARTIFACTS_DIR, Store

STANDALONE_ARTIFACTS = Path("artifacts")


class ExperimentContext:
    """A handle on one experiment in a store; also what `create_experiment` yields.

    Example:
        with yanex.create_experiment(script_path=Path(__file__), name="demo") as exp:
            exp.log_metrics({"accuracy": 0.9})
    """

    def __init__(self, store: Store, experiment_id: str) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self._metrics: MetricsLog | None = None
        self._params: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @property
    def experiment_dir(self) -> Path:
        return self.store.path(self.experiment_id)

    @property
    def artifacts_dir(self) -> Path:
        return self.experiment_dir / ARTIFACTS_DIR

    @property
    def params(self) -> dict[str, Any]:
        if self._params is None:
            self._params = self.store.read_config(self.experiment_id)
        return self._params

    def metadata(self) -> dict[str, Any]:
        return self.store.read_metadata(self.experiment_id)

    def log_metrics(self, data: dict[str, Any], step: int | None = None) -> int:
        """Append one metrics row (see `yanex.log_metrics`); return its step."""
        with self._lock:
            if self._metrics is None:
                self._metrics = MetricsLog(self.store.metrics_path(self.experiment_id))
        return self._metrics.append(data, step)

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()

    # The same operations as the module-level API, bound to this experiment.
    def log_results(self, data: dict[str, Any], step: int | None = None) -> int:
        return self.log_metrics(data, step)

    def save_artifact(self, obj: Any, filename: str, saver: Any = None) -> Path:
        from yanex.core.artifacts import save_artifact

        return save_artifact(obj, self.artifacts_dir, filename, saver)

    def copy_artifact(self, src_path: Path | str, filename: str | None = None) -> Path:
        from yanex.core.artifacts import copy_artifact

        return copy_artifact(src_path, self.artifacts_dir, filename)

    def load_artifact(self, filename: str, loader: Any = None) -> Any:
        from yanex.core.artifacts import load_artifact

        return load_artifact(self.artifacts_dir, filename, loader)


_stack: list[ExperimentContext] = []
_env_context: tuple[str, str, ExperimentContext] | None = None
_env_lock = threading.Lock()


def current() -> ExperimentContext | None:
    """The active experiment: an in-process context first, then the one `yanex run` set."""
    if _stack:
        return _stack[-1]
    experiment_id = os.environ.get("YANEX_EXPERIMENT_ID")
    if not experiment_id:
        return None
    root = os.environ.get("YANEX_EXPERIMENTS_DIR", "")
    global _env_context
    with _env_lock:
        if _env_context is None or _env_context[:2] != (experiment_id, root):
            _env_context = (
                experiment_id,
                root,
                ExperimentContext(Store(root or None), experiment_id),
            )
        return _env_context[2]


def push(context: ExperimentContext) -> None:
    _stack.append(context)


def pop(context: ExperimentContext) -> None:
    if context in _stack:
        _stack.remove(context)
    context.close()


def inside_yanex_run() -> bool:
    """True inside a script started by `yanex run` (or by a worker)."""
    return bool(os.environ.get("YANEX_EXPERIMENT_ID") or os.environ.get("YANEX_CLI_ACTIVE"))


def artifacts_dir() -> Path:
    """Where artifact functions read and write: the experiment's, or ./artifacts standalone."""
    context = current()
    return context.artifacts_dir if context else STANDALONE_ARTIFACTS.absolute()
