"""yanex: track and run Python experiments, locally or on a fleet of RQ workers.

Inside a script (`yanex run train.py --param lr=0.01`, or plain `python train.py`):

    import yanex
    lr = yanex.get_param("lr", 0.001)
    yanex.log_metrics({"loss": 0.3})

From an orchestrating script:

    results = yanex.run_multiple([yanex.ExperimentSpec(script_path="train.py", config={...})],
                                 parallel=4)

Importing yanex is cheap (standard library only); the results API (`yanex.results`),
run_multiple's executors, git, rich, rq and numpy load on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from yanex.api.context import ExperimentContext
from yanex.api.params import get_cli_args, get_param, get_params
from yanex.api.tracking import (
    get_artifacts_dir,
    get_experiment_dir,
    get_experiment_id,
    get_metadata,
    get_status,
    has_context,
    is_standalone,
    log_metrics,
    log_results,
)
from yanex.errors import ExperimentContextError, YanexError
from yanex.version import __version__

if TYPE_CHECKING:
    from yanex.api.artifacts import (
        artifact_exists,
        copy_artifact,
        list_artifacts,
        load_artifact,
        save_artifact,
    )
    from yanex.api.bash import execute_bash_script
    from yanex.api.dependencies import assert_dependency, get_dependencies, get_dependency
    from yanex.api.lifecycle import cancel, completed, create_context, create_experiment, fail
    from yanex.core.spec import ExperimentResult, ExperimentSpec

# Loaded on first use. Every experiment process imports yanex, so what a script does not
# call should cost it nothing: dataclasses alone (for the spec types) pulls in inspect.
_LAZY = {
    "ExperimentSpec": "yanex.core.spec",
    "ExperimentResult": "yanex.core.spec",
    "results": "yanex.results",
    **dict.fromkeys(
        ["artifact_exists", "copy_artifact", "list_artifacts", "load_artifact", "save_artifact"],
        "yanex.api.artifacts",
    ),
    "execute_bash_script": "yanex.api.bash",
    **dict.fromkeys(
        ["assert_dependency", "get_dependencies", "get_dependency"], "yanex.api.dependencies"
    ),
    **dict.fromkeys(
        ["cancel", "completed", "create_context", "create_experiment", "fail"],
        "yanex.api.lifecycle",
    ),
}


def run_multiple(
    experiments: Sequence[ExperimentSpec],
    parallel: int | None = None,
    verbose: bool = False,
    **options: Any,
) -> list[ExperimentResult]:
    """Run experiments (sequentially, in parallel, or on a queue) and return their results.

    `parallel`: None one at a time, 0 one per CPU, N at most N. `queue="name"` (or
    `YANEX_QUEUE`) sends them to `yanex-worker`s instead. Blocks until all ended; one
    failure never aborts the others. See `yanex.execution.multiple.run_multiple`.

    Example:
        specs = [yanex.ExperimentSpec(script_path="train.py", config={"_fold_idx": i})
                 for i in range(5)]
        results = yanex.run_multiple(specs, parallel=5)
    """
    from yanex.execution.multiple import run_multiple as run

    return run(experiments, parallel, verbose, **options)


def __getattr__(name: str) -> Any:
    """The public names listed in `_LAZY`, imported on first use."""
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if name == "results" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'yanex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ExperimentContext",
    "ExperimentContextError",
    "ExperimentResult",
    "ExperimentSpec",
    "YanexError",
    "__version__",
    "artifact_exists",
    "assert_dependency",
    "cancel",
    "completed",
    "copy_artifact",
    "create_context",
    "create_experiment",
    "execute_bash_script",
    "fail",
    "get_artifacts_dir",
    "get_cli_args",
    "get_dependencies",
    "get_dependency",
    "get_experiment_dir",
    "get_experiment_id",
    "get_metadata",
    "get_param",
    "get_params",
    "get_status",
    "has_context",
    "is_standalone",
    "list_artifacts",
    "load_artifact",
    "log_metrics",
    "log_results",
    "results",
    "run_multiple",
    "save_artifact",
]
