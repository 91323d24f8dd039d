"""Reading the experiment's parameters from inside a script."""

from __future__ import annotations

import copy
import warnings
from typing import Any

from yanex.api.context import current

_MISSING: Any = object()


def get_params() -> dict[str, Any]:
    """All parameters of the running experiment (a copy); `{}` in standalone mode.

    Example:
        params = yanex.get_params()
        lr = params.get("learning_rate", 0.001)
    """
    context = current()
    return copy.deepcopy(context.params) if context else {}


def get_param(key: str, default: Any = _MISSING) -> Any:
    """One parameter; dotted keys reach into nested dicts (`get_param("model.lr")`).

    Returns `default` when the key is missing. Inside a tracked run, a missing key with
    no default given warns, since it is usually a typo.
    """
    context = current()
    params = context.params if context else {}
    value = _lookup(params, key)
    if value is not _MISSING:
        return copy.deepcopy(value)
    if default is _MISSING:
        if context is not None:
            warnings.warn(f"parameter {key!r} not found; returning None", stacklevel=2)
        return None
    return default


def get_cli_args() -> dict[str, Any]:
    """The `yanex run` flags this experiment was started with (`{}` in standalone mode).

    Example:
        parallel = yanex.get_cli_args().get("parallel", 1)
    """
    context = current()
    if context is None:
        return {}
    cli_args = context.metadata().get("cli_args")
    return dict(cli_args) if isinstance(cli_args, dict) else {}


def _lookup(params: dict[str, Any], key: str) -> Any:
    if key in params:  # an exact key (even one containing dots) wins
        return params[key]
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node
