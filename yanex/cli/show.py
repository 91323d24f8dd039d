"""`yanex show ID`: everything about one experiment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click

from yanex.cli.config import CliConfig, pass_cli_config
from yanex.cli.formats import (
    cell,
    console,
    format_duration,
    format_option,
    format_size,
    format_time,
    print_table,
    status_text,
)
from yanex.core import timestamps
from yanex.core.jsonfile import jsonable
from yanex.results import query
from yanex.results.command import format_value, reproduce_command
from yanex.results.details import describe
from yanex.results.experiment import Experiment

_EXECUTION_KEYS = ("backend", "queue", "job_id", "worker", "host", "pid", "gpu", "attempt")


@click.command("show")
@click.argument("reference", metavar="ID")
@format_option(("table", "json"))
@pass_cli_config()
def show_command(config: CliConfig, reference: str, output_format: str) -> None:
    """Show everything about one experiment (ID: id, unique prefix or name).

    \b
    Example:
        yanex show a1b2
        yanex show lr-sweep-3 -F json
    """
    experiment = query.get_experiment(config.store(), reference)
    details = describe(experiment)
    if output_format == "json":
        click.echo(json.dumps(jsonable(details), indent=2))
        return
    out = console()
    _overview(out, experiment, details)
    _parameters(out, details["params"])
    _metrics(out, details["metrics"])
    _artifacts(out, details["artifacts"])
    _dependencies(out, details["dependencies"])
    _dependents(out, details["dependents"])
    _git(out, details["git"])
    _environment(out, details["environment"])
    _execution(out, details["execution"], details["attempts"])
    _outcome(out, experiment)
    _section(out, "Reproduce")
    out.print(reproduce_command(experiment), markup=False)


def _section(out: Any, title: str) -> None:
    out.print(f"\n[bold]{title}[/bold]")


def _pairs(out: Any, pairs: list[tuple[str, Any]]) -> None:
    from rich.text import Text

    width = max((len(key) for key, _ in pairs), default=0)
    for key, value in pairs:
        if value in (None, "", [], {}):
            continue
        line = Text(f"  {key.ljust(width)}  ", style="dim")
        line.append(value if not isinstance(value, str) else Text(value))
        out.print(line)


def _overview(out: Any, experiment: Experiment, details: Mapping[str, Any]) -> None:
    from rich.text import Text

    title = Text(f"Experiment {experiment.id}", style="bold")
    if experiment.name:
        title.append(f"  {experiment.name}")
    title.append("  ")
    title.append(status_text(experiment.status))
    if experiment.archived:
        title.append("  (archived)", style="dim")
    out.print(title)
    script_args = " ".join(details["script_args"])
    _pairs(
        out,
        [
            ("script", f"{experiment.script or '-'} {script_args}".strip()),
            ("tags", ", ".join(experiment.tags)),
            ("description", experiment.description),
            ("created", format_time(experiment.created_at)),
            ("started", format_time(experiment.started_at) if experiment.started_at else None),
            ("ended", format_time(experiment.ended_at) if experiment.ended_at else None),
            ("duration", format_duration(experiment.duration)),
            ("batch", experiment.batch),
            ("directory", details["directory"]),
        ],
    )


def _parameters(out: Any, params: Mapping[str, Any]) -> None:
    _section(out, "Parameters")
    if not params:
        out.print("  (none)", style="dim")
    for line in _nested_lines(params, 1):
        out.print(line, markup=False, highlight=False)


def _nested_lines(params: Mapping[str, Any], depth: int) -> list[str]:
    lines = []
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{'  ' * depth}{key}:")
            lines.extend(_nested_lines(value, depth + 1))
        else:
            lines.append(f"{'  ' * depth}{key}: {format_value(value)}")
    return lines


def _metrics(out: Any, metrics: list[dict[str, Any]]) -> None:
    _section(out, "Metrics")
    if not metrics:
        out.print("  (none logged)", style="dim")
        return
    rows = [
        [
            m["name"],
            cell(m["last"]),
            f"{cell(m['best'])} ({m['goal']})",
            cell(m["min"]),
            cell(m["max"]),
            str(m["steps"]),
        ]
        for m in metrics
    ]
    print_table(["metric", "last", "best", "min", "max", "steps"], rows)


def _artifacts(out: Any, artifacts: list[dict[str, Any]]) -> None:
    _section(out, "Artifacts")
    if not artifacts:
        out.print("  (none)", style="dim")
        return
    print_table(["artifact", "size"], [[a["name"], format_size(a["size"])] for a in artifacts])


def _dependencies(out: Any, dependencies: list[dict[str, Any]]) -> None:
    if not dependencies:
        return
    _section(out, "Dependencies")
    rows = [
        [d["slot"], d["id"], cell(d["name"]), status_text(str(d["status"]))] for d in dependencies
    ]
    print_table(["slot", "id", "name", "status"], rows)


def _dependents(out: Any, dependents: list[dict[str, Any]]) -> None:
    if not dependents:
        return
    _section(out, "Used by")
    rows = [[d["id"], cell(d["name"]), status_text(str(d["status"]))] for d in dependents]
    print_table(["id", "name", "status"], rows)


def _git(out: Any, git: Mapping[str, Any]) -> None:
    if not git or not git.get("commit_hash"):
        return
    _section(out, "Git")
    patch = git.get("patch")
    changes = (
        f"{patch['files']} files, +{patch['insertions']} -{patch['deletions']} lines "
        f"({format_size(int(git.get('patch_size_bytes') or 0))})"
        if patch
        else None
    )
    secrets = git.get("patch_secret_count")
    _pairs(
        out,
        [
            (
                "commit",
                f"{git.get('commit_hash_short') or git['commit_hash']} on {git.get('branch')}",
            ),
            ("message", _first_line(git.get("message"))),
            ("author", git.get("author")),
            ("remote", git.get("remote_url")),
            ("uncommitted", "yes" if git.get("has_uncommitted_changes") else "no"),
            ("patch", changes),
            ("secrets", f"{secrets} possible secrets in the patch" if secrets else None),
        ],
    )


def _first_line(text: Any) -> str | None:
    lines = str(text or "").strip().splitlines()
    return lines[0] if lines else None


def _environment(out: Any, environment: Mapping[str, Any]) -> None:
    if not environment:
        return
    _section(out, "Environment")
    python = environment.get("python") or {}
    platform = environment.get("platform") or {}
    _pairs(
        out,
        [
            ("python", f"{python.get('version', '?')} ({python.get('executable', '?')})"),
            ("platform", platform.get("platform")),
            ("host", environment.get("hostname")),
            ("user", environment.get("user")),
            ("cwd", environment.get("working_directory")),
        ],
    )


def _execution(out: Any, execution: Mapping[str, Any], attempts: list[dict[str, Any]]) -> None:
    if not execution:
        return
    _section(out, "Execution")
    pairs = [(key, cell(execution.get(key))) for key in _EXECUTION_KEYS if execution.get(key)]
    beat = timestamps.parse(execution.get("heartbeat"))
    if beat is not None:
        pairs.append(("heartbeat", format_time(beat)))
    for earlier in attempts:  # retried: what became of the attempts before this one
        where = earlier.get("worker") or earlier.get("host") or "?"
        reason = earlier.get("failure_reason") or "failed"
        pairs.append((f"attempt {earlier.get('attempt', '?')}", f"{reason} on {where}"))
    _pairs(out, pairs)


def _outcome(out: Any, experiment: Experiment) -> None:
    if not (experiment.error_message or experiment.failure_reason or experiment.exit_code):
        return
    _section(out, "Outcome")
    _pairs(
        out,
        [
            ("reason", experiment.failure_reason),
            ("exit code", None if experiment.exit_code is None else str(experiment.exit_code)),
            ("error", experiment.error_message),
        ],
    )
