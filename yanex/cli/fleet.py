"""`yanex queue`, `yanex wait`, `yanex cancel` and `yanex doctor`: the fleet from a shell."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click
from rich.console import Console
from rich.table import Table

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.progress import make_reporter, print_summary


@click.command("queue")
@pass_cli_config(redis=True)
def queue_command(config: CliConfig) -> None:
    """Show RQ queues (queued/started/failed counts) and workers (host, GPU, experiment).

    \b
    Example:
        yanex queue --redis-url redis://gpu-head:6379/0
    """
    from yanex.queue.connection import connect
    from yanex.queue.fleet import fleet_status

    queues, workers = fleet_status(connect(config.redis_url))
    console = Console()
    table = Table("queue", "queued", "started", "deferred", "failed", "finished", "canceled")
    for q in queues:
        table.add_row(
            q.name,
            *(str(n) for n in (q.queued, q.started, q.deferred, q.failed, q.finished, q.canceled)),
        )
    console.print(table if queues else "No queues yet.")
    table = Table("worker", "host", "state", "queues", "GPU", "experiment", "last heartbeat")
    for w in workers:
        table.add_row(
            w.name + ("" if w.is_yanex else " (rq)"),
            w.host or "",
            w.state,
            ",".join(w.queues),
            w.gpu or "",
            w.experiment_id or "",
            _ago(w.last_heartbeat),
        )
    console.print(
        table if workers else "No workers are running (start one: yanex-worker --queue default)."
    )


@click.command("wait")
@click.argument("references", nargs=-1, required=True)
@click.option(
    "--timeout", type=click.FloatRange(min=0), metavar="SECONDS", help="Give up after this long."
)
@pass_cli_config(redis=True)
def wait_command(config: CliConfig, references: tuple[str, ...], timeout: float | None) -> None:
    """Wait until experiments (ids, names or a batch id) end; exit 1 if any did not complete.

    \b
    Example:
        yanex run train.py -p "seed=range(20)" --queue default --detach
        yanex wait 3f9a2c1d
    """
    from yanex.queue.waiting import resolve_targets, wait_for

    store = config.store()
    ids = resolve_targets(store, references)
    reporter = make_reporter(single=False, live_output=True)
    try:
        results = wait_for(
            store, ids, redis_url=config.redis_url, reporter=reporter, timeout=timeout
        )
    except KeyboardInterrupt:
        click.echo("stopped waiting (the experiments go on)", err=True)
        sys.exit(130)
    print_summary(Console(stderr=True), results)
    sys.exit(0 if all(r.succeeded for r in results) else 1)


@click.command("cancel")
@click.argument("references", nargs=-1, required=True)
@pass_cli_config(redis=True)
def cancel_command(config: CliConfig, references: tuple[str, ...]) -> None:
    """Cancel experiments (ids, names, or a batch id): queued ones now, running ones gracefully.

    \b
    Example:
        yanex cancel 3f9a2c1d
    """
    from yanex.queue.waiting import cancel, resolve_targets

    store = config.store()
    ids = resolve_targets(store, references)
    stopped = cancel(store, ids, redis_url=config.redis_url)
    for experiment_id in stopped:
        click.echo(f"cancelled {experiment_id}")
    if not stopped:
        click.echo("Nothing to cancel: every experiment given has already ended.")


@click.command("doctor")
@pass_cli_config(redis=True, queue=True)
def doctor_command(config: CliConfig) -> None:
    """Check the setup: store, git, detect-secrets, Redis and its persistence, workers.

    Exits 1 if a required part is broken; says for each problem what to do.
    """
    from yanex.queue.doctor import diagnose

    checks = diagnose(config.store(), config.redis_url, config.queue)
    console = Console()
    for check in checks:
        mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]–[/]"}[check.ok]
        console.print(f"{mark} {check.name}: {check.detail}", highlight=False)
        if check.advice and check.ok is not True:
            console.print(f"    → {check.advice}", highlight=False)
    sys.exit(1 if any(c.ok is False for c in checks) else 0)


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    return f"{seconds:.0f}s ago"
