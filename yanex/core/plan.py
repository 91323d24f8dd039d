"""From what `yanex run` was asked to the specs it will run: parameters, sweeps, names.

This is library code: the CLI fills a `RunRequest` from its flags and calls
`plan_run`; the plan's specs then go through the same `run_multiple` as any script's.
Flags left unset (None) fall back to the `yanex:` section of the config files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yanex.core import dependencies, sweep
from yanex.core.params import resolve_params
from yanex.core.spec import ExperimentSpec
from yanex.core.store import Store
from yanex.errors import UsageError

DEFAULT_CONFIG = "config.yaml"
SWEEP_TAG = "sweep"


@dataclass
class RunRequest:
    """The inputs of one `yanex run` invocation, free of any CLI library."""

    script: str | None = None
    module: str | None = None
    script_args: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    clone_from: str | None = None
    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    dependencies: list[str] = field(default_factory=list)
    """`-D` values: ID, ID,ID, SLOT=ID, SLOT=list(ID,...) (see yanex.core.dependencies)."""
    python: str | None = None
    timeout: float | None = None
    stage: bool | None = None
    parallel: int | None = None
    queue: str | None = None
    cli_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunPlan:
    """The experiments a request makes, and the execution settings that apply."""

    specs: list[ExperimentSpec]
    params: dict[str, Any]
    swept_keys: list[str]
    stage: bool
    parallel: int | None
    queue: str | None
    sources: list[str]

    @property
    def is_sweep(self) -> bool:
        return bool(self.swept_keys)


def sweep_size(request: RunRequest, store: Store, environ: Mapping[str, str] | None = None) -> int:
    """How many experiments `request` makes, without building them (cheap for huge grids)."""
    dependency_choices = 1
    for _, candidates in dependencies.parse_options(request.dependencies):
        dependency_choices *= len(candidates)
    return sweep.count(_resolve(request, store, environ)[0].params) * dependency_choices


def plan_run(
    request: RunRequest, store: Store, environ: Mapping[str, str] | None = None
) -> RunPlan:
    """Resolve parameters, expand sweeps and build one spec per experiment."""
    resolved, clone_id = _resolve(request, store, environ)
    defaults = resolved.cli_defaults
    name = request.name if request.name is not None else defaults.get("name")
    description = (
        request.description if request.description is not None else defaults.get("description")
    )
    tags = list(request.tags if request.tags is not None else _tag_list(defaults.get("tags")))
    members = sweep.expand(resolved.params)
    dependency_choices = list(
        dependencies.choices(dependencies.parse_options(request.dependencies))
    )
    swept_keys = list(members[0].swept) + list(dependency_choices[0][1])
    base_name = name or _stem(request)
    specs = []
    for member in members:
        for needs, dependency_swept in dependency_choices:
            swept = {**member.swept, **dependency_swept}
            extra: dict[str, Any] = {"cli_args": request.cli_args}
            if clone_id:
                extra["clone_from"] = clone_id
            if swept:
                extra["sweep"] = swept
            specs.append(
                ExperimentSpec(
                    script_path=request.script,
                    module=request.module,
                    config=member.params,
                    script_args=list(request.script_args),
                    name=sweep.member_name(base_name, swept) if swept else name,
                    tags=[*tags, SWEEP_TAG] if swept and SWEEP_TAG not in tags else tags,
                    description=description,
                    dependencies=needs,
                    python=request.python,
                    timeout=request.timeout,
                    metadata=extra,
                )
            )
    return RunPlan(
        specs=specs,
        params=resolved.params,
        swept_keys=swept_keys,
        stage=bool(request.stage if request.stage is not None else defaults.get("stage", False)),
        parallel=request.parallel if request.parallel is not None else defaults.get("parallel"),
        queue=request.queue or defaults.get("queue"),
        sources=resolved.sources,
    )


def check_target(request: RunRequest) -> None:
    """Raise UsageError unless the request names exactly one runnable script or module."""
    if (request.script is None) == (request.module is None):
        raise UsageError("give a script to run (yanex run train.py) or a module (-m pkg.mod)")
    if request.script is None:
        return
    path = Path(request.script)
    if not path.exists():
        raise UsageError(f"script not found: {request.script}")
    if path.is_dir():
        raise UsageError(f"{request.script} is a directory; give the Python script inside it")
    if path.suffix != ".py":
        raise UsageError(f"{request.script} is not a Python file (expected a .py script)")


def _resolve(
    request: RunRequest, store: Store, environ: Mapping[str, str] | None
) -> tuple[Any, str | None]:
    check_target(request)
    clone_id = store.resolve(request.clone_from) if request.clone_from else None
    resolved = resolve_params(
        overrides=request.params,
        config_files=[Path(c) for c in request.configs],
        clone_base=store.read_config(clone_id) if clone_id else None,
        environ=os.environ if environ is None else environ,
        default_config=Path(DEFAULT_CONFIG),
    )
    return resolved, clone_id


def _tag_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _stem(request: RunRequest) -> str:
    if request.script:
        return Path(request.script).stem
    return str(request.module).rsplit(".", 1)[-1]
