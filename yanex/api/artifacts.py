"""Artifacts from inside a script: the experiment's artifacts directory, or ./artifacts.

The formats (by file extension) live in `yanex.core.artifacts`, imported on first use
(it needs csv, pickle and friends; `import yanex` must stay cheap); these functions
only choose the directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from yanex.api.context import artifacts_dir, current
from yanex.core.store import Store


def copy_artifact(src_path: Path | str, filename: str | None = None) -> Path:
    """Copy a file into the artifacts directory (as `filename`, default its own name).

    Example:
        yanex.copy_artifact("output/model.pth", "model.pth")
    """
    from yanex.core import artifacts

    return artifacts.copy_artifact(src_path, artifacts_dir(), filename)


def save_artifact(
    obj: Any, filename: str, saver: Callable[[Any, Path], None] | None = None
) -> Path:
    """Save a Python object as an artifact, in the format its extension names.

    Supported: .txt .csv .json .jsonl .npy .npz .pt .pth .pkl .png; anything else with
    `saver(obj, path)`.

    Example:
        yanex.save_artifact({"acc": 0.95}, "results.json")
    """
    from yanex.core import artifacts

    return artifacts.save_artifact(obj, artifacts_dir(), filename, saver)


def load_artifact(
    filename: str,
    loader: Callable[[Path], Any] | None = None,
    from_experiment: str | None = None,
) -> Any:
    """Load an artifact (None when it does not exist).

    `from_experiment` (an id, prefix or name) reads another experiment's artifact.
    Without it, the current experiment's artifacts are searched first, then those of
    its dependencies.

    Example:
        data = yanex.load_artifact("processed.pkl", from_experiment="abc12345")
    """
    from yanex.core import artifacts

    if from_experiment is not None:
        return artifacts.load_artifact(_other_artifacts_dir(from_experiment), filename, loader)
    here = artifacts_dir()
    if artifacts.artifact_exists(here, filename):
        return artifacts.load_artifact(here, filename, loader)
    for directory in _dependency_artifact_dirs():
        if artifacts.artifact_exists(directory, filename):
            return artifacts.load_artifact(directory, filename, loader)
    return None


def artifact_exists(filename: str) -> bool:
    """True when the artifact exists in the current artifacts directory."""
    from yanex.core import artifacts

    return artifacts.artifact_exists(artifacts_dir(), filename)


def list_artifacts() -> list[str]:
    """Names of the current experiment's artifacts, sorted."""
    from yanex.core import artifacts

    return artifacts.list_artifacts(artifacts_dir())


def _store() -> Store:
    context = current()
    return context.store if context else Store()


def _other_artifacts_dir(reference: str) -> Path:
    store = _store()
    return store.artifacts_dir(store.resolve(reference))


def _dependency_artifact_dirs() -> list[Path]:
    context = current()
    if context is None:
        return []
    dependencies = context.metadata().get("dependencies") or []
    ids = list(dependencies.values()) if isinstance(dependencies, dict) else list(dependencies)
    return [context.store.artifacts_dir(str(i)) for i in ids if context.store.exists(str(i))]
