"""`yanex run`: one script, a sweep, or the staged experiments, through `run_multiple`."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.progress import make_reporter
from yanex.cli.runview import print_detached, print_dry_run, print_staged, print_warnings
from yanex.core.plan import RunRequest, plan_run, sweep_size
from yanex.core.spec import ExperimentResult
from yanex.core.sweep import SWEEP_LIMIT
from yanex.errors import UsageError
from yanex.execution.executor import Interrupted
from yanex.execution.multiple import (
    check_specs,
    execute,
    resolve_staged,
    stage_experiments,
    staged_ids,
    submit,
)
from yanex.execution.output import OutputMode, terminal_echo
from yanex.execution.runner import RunOptions

EPILOG = """\b
Examples:
  yanex run train.py --param lr=0.01 --tag baseline -- --epochs 3
  yanex run train.py -p "lr=logspace(-4,-1,4)" -p "bs=list(32,64)" -j 4
  yanex run train.py -c base.yaml -c big.yaml --stage
  yanex run --staged -j 2
  yanex run -m tools.prepare --python tools/prep/.venv/bin/python
"""


@click.command(
    "run",
    epilog=EPILOG,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": True},
)
@click.argument("script", required=False)
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a parameter (dotted keys, YAML values, sweeps like list(1,2)).",
)
@click.option(
    "-c",
    "--config",
    "configs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Config file (repeatable, later wins; ./config.yaml when none).",
)
@click.option("--clone-from", metavar="ID", help="Start from another experiment's parameters.")
@click.option("-m", "--module", help="Run `python -m MODULE` instead of a script.")
@click.option("--python", help="Interpreter to run it with (e.g. a tool's own venv).")
@click.option("--name", help="Experiment name (sweep members get name-key=value).")
@click.option("--description", help="Experiment description.")
@click.option("-t", "--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option(
    "-D",
    "--depends-on",
    "dependencies",
    multiple=True,
    metavar="ID",
    help="Dependency: ID, ID,ID, SLOT=ID or SLOT=list(ID,...) (repeatable).",
)
@click.option(
    "--allow-failed-deps", is_flag=True, help="Run even if a dependency failed or was cancelled."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Fail the experiment if it runs longer than this.",
)
@click.option(
    "-j",
    "--parallel",
    type=click.IntRange(min=0),
    metavar="N",
    help="Run N experiments at a time (0 = one per CPU).",
)
@click.option("--stage", is_flag=True, default=None, help="Create staged experiments; run later.")
@click.option("--staged", is_flag=True, help="Run staged experiments (all, or the IDs given).")
@click.option("--batch", "batch_id", metavar="BATCH", help="With --staged: only this batch.")
@click.option("-s", "no_capture", is_flag=True, help="Shorthand for --capture=no.")
@click.option(
    "--capture",
    type=click.Choice(["yes", "no"]),
    default="yes",
    help="no: stream every member's output live, prefixed with its name.",
)
@click.option("--dry-run", is_flag=True, help="Validate and show what would run; create nothing.")
@click.option("-y", "--yes", is_flag=True, help=f"Allow sweeps over {SWEEP_LIMIT} experiments.")
@click.option("--detach", is_flag=True, help="With --queue: print the batch id and return.")
@click.option(
    "--retry",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Run a failed or lost experiment again, up to N more times.",
)
@click.option("--ignore-dirty", is_flag=True, hidden=True)
@pass_cli_config(queue=True, redis=True)
def run_command(config: CliConfig, **options: Any) -> None:
    """Run a Python script (or module) as tracked experiment(s).

    Flags yanex does not know, and everything after `--`, go to the script.
    """
    if options.pop("ignore_dirty"):
        click.echo("warning: --ignore-dirty is deprecated and has no effect", err=True)
    store = config.store()
    if options["staged"]:
        _run_staged(config, options)
        return
    request = _request(config, options)
    if options["dry_run"]:
        plan = plan_run(request, store)
        check_specs(plan.specs, store, allow_failed_dependencies=options["allow_failed_deps"])
        print_dry_run(plan)
        return
    _confirm_size(sweep_size(request, store), options["yes"])
    plan = plan_run(request, store)
    if plan.stage:
        if options["parallel"] is not None:
            raise UsageError("--parallel cannot be combined with --stage; give it to --staged")
        batch = stage_experiments(
            plan.specs, store=store, allow_failed_dependencies=options["allow_failed_deps"]
        )
        print_warnings(batch.warnings)
        print_staged(batch)
        return
    batch, store = submit(
        plan.specs,
        store=store,
        queue=plan.queue,
        retry=options["retry"],
        allow_failed_dependencies=options["allow_failed_deps"],
        redis_url=config.redis_url,
    )
    print_warnings(batch.warnings)
    single = len(plan.specs) == 1
    results = _execute(batch, store, config, plan.parallel, plan.queue, single, options)
    if options["detach"]:
        print_detached(batch.batch_id, results)
        return
    sys.exit(exit_code(results, single))


def _run_staged(config: CliConfig, options: dict[str, Any]) -> None:
    store = config.store()
    references = [r for r in (options["script"], *options["script_args"]) if r]
    if references:
        ids = resolve_staged(store, references)
    else:
        ids = staged_ids(store, batch_id=options["batch_id"])
    if not ids:
        click.echo("No staged experiments to run (stage some with `yanex run ... --stage`).")
        return
    results = _execute(ids, store, config, options["parallel"], config.queue, False, options)
    if options["detach"]:
        print_detached(None, results)
        return
    sys.exit(exit_code(results, single=False))


def _execute(
    batch: Any,
    store: Any,
    config: CliConfig,
    parallel: int | None,
    queue: str | None,
    single: bool,
    options: dict[str, Any],
) -> list[ExperimentResult]:
    live = options["no_capture"] or options["capture"] == "no"
    mode = OutputMode.STREAM if single else (OutputMode.PREFIX if live else OutputMode.CAPTURE)
    reporter = make_reporter(single=single, live_output=live)
    run_options = RunOptions(output=mode, echo=terminal_echo)
    try:
        return execute(
            batch,
            store,
            parallel=parallel,
            queue=queue,
            retry=options["retry"],
            redis_url=config.redis_url,
            detach=options["detach"],
            reporter=reporter,
            options=run_options,
        )
    except Interrupted as interrupted:
        reporter.batch_finished(interrupted.results)
        sys.exit(128 + signal.SIGINT)


def _request(config: CliConfig, options: dict[str, Any]) -> RunRequest:
    script_args = list(options["script_args"])
    script = options["script"]
    if options["module"] and script:  # with -m, every positional goes to the module
        script_args.insert(0, script)
        script = None
    cli_args = {
        "script": script,
        "module": options["module"],
        "config": list(options["configs"]),
        "clone_from": options["clone_from"],
        "param": list(options["params"]),
        "name": options["name"],
        "tag": list(options["tags"]),
        "description": options["description"],
        "depends_on": list(options["dependencies"]),
        "dry_run": options["dry_run"],
        "stage": bool(options["stage"]),
        "staged": False,
        "parallel": options["parallel"],
        "queue": config.queue,
        "timeout": options["timeout"],
        "python": options["python"],
    }
    return RunRequest(
        script=script,
        module=options["module"],
        script_args=script_args,
        params=list(options["params"]),
        configs=list(options["configs"]),
        clone_from=options["clone_from"],
        name=options["name"],
        description=options["description"],
        tags=list(options["tags"]) or None,
        dependencies=list(options["dependencies"]),
        python=options["python"],
        timeout=options["timeout"],
        stage=options["stage"],
        parallel=options["parallel"],
        queue=config.queue,
        cli_args=cli_args,
    )


def _confirm_size(count: int, yes: bool) -> None:
    if count <= SWEEP_LIMIT or yes:
        return
    question = f"This sweep creates {count:,} experiments. Continue?"
    if sys.stdin.isatty():
        if click.confirm(question, default=False, err=True):
            return
        raise click.Abort()
    raise UsageError(
        f"the sweep creates {count:,} experiments (more than {SWEEP_LIMIT:,}); check the sweep "
        "expressions, or pass --yes to confirm"
    )


def exit_code(results: list[ExperimentResult], single: bool) -> int:
    """A single run exits like its script; a batch exits 1 when any member did not complete."""
    if not single:
        return 0 if all(r.succeeded for r in results) else 1
    result = results[0]
    if result.succeeded:
        return 0
    if result.status == "cancelled":
        return 128 + signal.SIGINT if result.failure_reason == "cancelled" else 1
    code = result.exit_code
    if result.failure_reason == "exit_code" and code:
        return code
    if result.failure_reason == "signal" and code:
        return 128 - code
    return 1
