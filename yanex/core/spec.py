"""`ExperimentSpec` (what to run) and `ExperimentResult` (how it ended): the only currency.

The CLI builds specs for single runs, sweeps and staged runs; scripts build them for
`yanex.run_multiple`; executors turn them into results. Both types round-trip through
JSON (`to_dict`/`from_dict`) so they can cross a queue.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from yanex.core.status import Status

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass
class ExperimentSpec:
    """One experiment to run: a script (or module) with its parameters and metadata.

    Example:
        yanex.ExperimentSpec(script_path=Path("train.py"), config={"lr": 0.01},
                             name="lr-0.01", tags=["grid"])
        yanex.ExperimentSpec(module="tool.main", python="tools/x/.venv/bin/python")
    """

    script_path: Path | str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    script_args: list[str] = field(default_factory=list)
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    description: str | None = None
    function: Callable[..., Any] | None = None
    module: str | None = None
    dependencies: list[Any] | dict[str, Any] = field(default_factory=list)
    """Experiment ids, prefixes or names (a `{slot: ...}` dict names the slots), or earlier
    specs of the same `run_multiple` call."""
    python: str | None = None
    cwd: Path | str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """Extra fields recorded in the experiment's metadata (the CLI records cli_args here)."""

    def validate(self) -> None:
        """Raise ValueError (or NotImplementedError for `function`) if the spec cannot run."""
        targets = [t for t in (self.script_path, self.module, self.function) if t is not None]
        if len(targets) != 1:
            raise ValueError(
                "Must specify exactly one of script_path or function (or module, to run "
                "`python -m module`)"
            )
        if self.function is not None:
            raise NotImplementedError(
                "Inline function execution is not supported yet; use script_path= "
                "(a Python file) or module= (run as `python -m module`)"
            )
        if self.script_path is not None:
            _check_script(self.resolved_script())
        if self.module is not None and not _MODULE_NAME.match(self.module):
            raise ValueError(f"module {self.module!r} is not a dotted Python module name")
        self._validate_options()

    def _validate_options(self) -> None:
        if not isinstance(self.config, Mapping):
            raise ValueError(f"config must be a dict, got {type(self.config).__name__}")
        for name in ("script_args", "tags"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a list of strings, got {value!r}")
        if self.timeout is not None and not (
            isinstance(self.timeout, (int, float)) and self.timeout > 0
        ):
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if self.python is not None:
            python = self.resolved_python()
            if not (os.path.isfile(python) and os.access(python, os.X_OK)):
                raise ValueError(f"python interpreter {python} does not exist or is not executable")
        if self.cwd is not None and not Path(self.cwd).is_dir():
            raise ValueError(f"working directory {self.cwd} does not exist")

    def resolved_cwd(self) -> Path:
        return Path(self.cwd).absolute() if self.cwd is not None else Path.cwd()

    def resolved_script(self) -> Path:
        """The script's absolute path (relative paths are taken from `cwd`)."""
        assert self.script_path is not None
        path = Path(self.script_path).expanduser()
        return path if path.is_absolute() else self.resolved_cwd() / path

    def resolved_python(self) -> str:
        import sys

        if self.python is None:
            return sys.executable
        path = Path(self.python).expanduser()
        return str(path if path.is_absolute() else self.resolved_cwd() / path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (`function` cannot be serialized and must be None)."""
        if self.function is not None:
            raise ValueError("a spec with function= cannot be serialized")
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "function"}
        needs = self.dependencies
        if any(
            not isinstance(d, str) for d in (needs.values() if isinstance(needs, dict) else needs)
        ):
            raise ValueError("a spec whose dependencies are other specs cannot be serialized")
        for key in ("script_path", "cwd"):
            if data[key] is not None:
                data[key] = str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentSpec:
        known = {f.name for f in fields(cls)} - {"function"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ExperimentSpec fields: {', '.join(sorted(unknown))}")
        return cls(**dict(data))


def _check_script(path: Path) -> None:
    if not path.exists():
        raise ValueError(f"script not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a Python script")
    if path.suffix != ".py":
        raise ValueError(f"{path} is not a Python file (expected a .py script)")


@dataclass
class ExperimentResult:
    """How one experiment ended.

    `status` is "completed", "failed" or "cancelled" (or "staged"/"queued" for work that
    was only submitted); `failure_reason` tells a crash (exit_code) from a kill (signal),
    a timeout, a lost runner or worker, a cancellation or a failed dependency.
    """

    experiment_id: str
    status: str
    error_message: str | None = None
    duration: float | None = None
    name: str | None = None
    exit_code: int | None = None
    failure_reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == Status.COMPLETED.value

    @property
    def error_headline(self) -> str | None:
        """The first line of `error_message`, for one-line displays."""
        return self.error_message.splitlines()[0] if self.error_message else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentResult:
        values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**values)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> ExperimentResult:
        """Build the result from an experiment's stored metadata (the source of truth)."""
        reason = metadata.get("failure_reason")
        return cls(
            experiment_id=str(metadata["id"]),
            status=str(metadata.get("status")),
            error_message=metadata.get("error_message"),
            duration=metadata.get("duration"),
            name=metadata.get("name"),
            exit_code=metadata.get("exit_code"),
            # as stored: a reason added by a newer yanex must not make the record unreadable
            failure_reason=str(reason) if reason else None,
        )
