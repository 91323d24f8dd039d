"""`yanex-worker`: run experiments from RQ queues on this machine (one worker per GPU)."""

from __future__ import annotations

from pathlib import Path

import click

from yanex.cli.main import reported
from yanex.core.store import Store
from yanex.errors import YanexError

EPILOG = """\b
Examples:
  yanex-worker --queue default --gpu 0
  yanex-worker -q high -q default --allow-root /shared/projects --experiments-dir /shared/yanex
  yanex-worker --queue default --burst        # run what is queued, then exit
"""


@click.command(
    "yanex-worker", epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "-q",
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME",
    help="Queue to take jobs from (repeatable, in priority order) [default: default].",
)
@click.option(
    "--redis-url",
    envvar="YANEX_REDIS_URL",
    help="Redis [env: YANEX_REDIS_URL; default redis://localhost:6379/0].",
)
@click.option("--name", help="Worker name shown in `yanex queue` and `rq info`.")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--max-jobs", type=click.IntRange(min=1), help="Exit after this many jobs.")
@click.option("--gpu", metavar="N[,M]", help="Set CUDA_VISIBLE_DEVICES for every experiment.")
@click.option(
    "--experiments-dir",
    envvar="YANEX_EXPERIMENTS_DIR",
    type=click.Path(file_okay=False),
    help="The shared experiments directory [env: YANEX_EXPERIMENTS_DIR].",
)
@click.option(
    "--allow-root",
    "allow_roots",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Only run scripts under this directory (repeatable).",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How often a running experiment's lease is renewed; it lapses after 3 missed "
    "heartbeats (at least 3 s), and the run is then recorded worker_lost.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM, how long the experiment gets before SIGKILL.",
)
@click.option("--log-level", default="INFO", show_default=True, help="RQ's logging level.")
def worker_command(
    queues: tuple[str, ...],
    redis_url: str | None,
    name: str | None,
    burst: bool,
    max_jobs: int | None,
    gpu: str | None,
    experiments_dir: str | None,
    allow_roots: tuple[str, ...],
    heartbeat: float,
    grace: float,
    log_level: str,
) -> None:
    """Run yanex experiments from RQ queues, writing into the shared experiments directory.

    SIGTERM (systemd stop, Slurm preemption) stops taking jobs, gives the running
    experiment --grace seconds, records it failed (preempted) or re-queues it when
    retries remain, and exits.
    """
    from yanex.queue.worker import WorkerSettings, run_worker

    if not allow_roots:
        click.echo(
            "warning: no --allow-root given: this worker runs any script a client submits", err=True
        )
    settings = WorkerSettings(
        store=Store(experiments_dir),
        gpus=[g.strip() for g in gpu.split(",") if g.strip()] if gpu else [],
        allowed_roots=[Path(r) for r in allow_roots],
        heartbeat_interval=heartbeat,
        grace=grace,
    )
    try:
        run_worker(
            settings,
            list(queues) or ["default"],
            redis_url=redis_url,
            name=name,
            burst=burst,
            max_jobs=max_jobs,
            log_level=log_level,
        )
    except YanexError as error:
        raise reported(error) from error
