"""Logging metrics and asking about the current experiment from inside a script."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from yanex.api.context import current


def log_metrics(data: dict[str, Any], step: int | None = None) -> None:
    """Record metrics for a step (auto-incremented when None); a no-op standalone.

    Several calls for the same step merge: new keys are added, existing ones are
    overwritten, the first timestamp is kept and `last_updated` is added. Values must
    be JSON-like (NaN, infinities and numpy scalars are fine); anything else raises a
    TypeError naming the key, and nothing is written.

    Example:
        yanex.log_metrics({"loss": 0.3, "accuracy": 0.91})
        yanex.log_metrics({"val_loss": 0.4}, step=10)
    """
    context = current()
    if context is not None:
        context.log_metrics(data, step)


def log_results(data: dict[str, Any], step: int | None = None) -> None:
    """Deprecated alias of `log_metrics`."""
    warnings.warn(
        "yanex.log_results() is deprecated; use yanex.log_metrics()",
        DeprecationWarning,
        stacklevel=2,
    )
    log_metrics(data, step)


def is_standalone() -> bool:
    """True when no experiment is being tracked (plain `python script.py`)."""
    return current() is None


def has_context() -> bool:
    """True when an experiment is being tracked."""
    return current() is not None


def get_experiment_id() -> str | None:
    """The tracked experiment's id, or None standalone."""
    context = current()
    return context.experiment_id if context else None


def get_status() -> str | None:
    """The tracked experiment's status ("running" while the script runs), or None."""
    context = current()
    return str(context.metadata().get("status")) if context else None


def get_metadata() -> dict[str, Any]:
    """The tracked experiment's whole metadata; `{}` standalone."""
    context = current()
    return context.metadata() if context else {}


def get_experiment_dir() -> Path | None:
    """The experiment's directory (absolute), or None standalone."""
    context = current()
    return context.experiment_dir if context else None


def get_artifacts_dir() -> Path | None:
    """The experiment's artifacts directory (absolute), or None standalone."""
    context = current()
    return context.artifacts_dir if context else None
