"""Options shared by many commands (`--dir`, `--redis-url`, `--queue`) as one object.

Like rq's `CliConfig`/`pass_cli_config`: a decorator adds the options to a command and
hands the command a `CliConfig` instead of the loose values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from yanex.core.store import Store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliConfig:
    """The shared options of one command invocation."""

    experiments_dir: str | None = None
    redis_url: str | None = None
    queue: str | None = None

    def store(self) -> Store:
        return Store(self.experiments_dir)


_DIR = click.option(
    "--dir",
    "experiments_dir",
    envvar="YANEX_EXPERIMENTS_DIR",
    type=click.Path(file_okay=False),
    help="Experiments directory [env: YANEX_EXPERIMENTS_DIR; default ~/.yanex/experiments].",
)
_REDIS = click.option(
    "--redis-url",
    envvar="YANEX_REDIS_URL",
    help="Redis for the queue [env: YANEX_REDIS_URL; default redis://localhost:6379/0].",
)
_QUEUE = click.option(
    "--queue",
    envvar="YANEX_QUEUE",
    help="Run on yanex-workers listening on this RQ queue [env: YANEX_QUEUE].",
)


def pass_cli_config(*, redis: bool = False, queue: bool = False) -> Callable[[F], F]:
    """Add the shared options to a command and pass it a `CliConfig` as first argument."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            config = CliConfig(
                experiments_dir=kwargs.pop("experiments_dir", None),
                redis_url=kwargs.pop("redis_url", None),
                queue=kwargs.pop("queue", None),
            )
            return func(config, *args, **kwargs)

        decorated: Any = wrapper
        if queue:
            decorated = _QUEUE(decorated)
        if redis:
            decorated = _REDIS(decorated)
        decorated = _DIR(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate
