"""The `yanex` command group: lazy subcommands, shared options, errors in one place.

Subcommands are imported only when invoked, so `yanex --version` and `yanex run` do
not pay for the modules of `compare` or `queue`. A `YanexError` raised anywhere below
becomes `Error: <message>` on stderr with the error's exit code, here and only here;
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from yanex.errors import YanexError
from yanex.version import __version__

COMMANDS = {
    "queue": "yanex.cli.fleet:queue_command",
    "wait": "yanex.cli.fleet:wait_command",
    "cancel": "yanex.cli.fleet:cancel_command",
    "doctor": "yanex.cli.fleet:doctor_command",
    "graph": "yanex.cli.graph:graph_command",
    "run": "yanex.cli.run:run_command",
    "list": "yanex.cli.listing:list_command",
    "show": "yanex.cli.show:show_command",
    "compare": "yanex.cli.compare:compare_command",
    "get": "yanex.cli.get:get_command",
    "archive": "yanex.cli.manage:archive_command",
    "unarchive": "yanex.cli.manage:unarchive_command",
    "delete": "yanex.cli.manage:delete_command",
    "update": "yanex.cli.manage:update_command",
    "plot": "yanex.cli.plot:plot_command",
}


class YanexGroup(click.Group):
    """A click group that loads subcommands lazily and reports YanexErrors in one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attribute)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except YanexError as error:
            if debug_enabled(ctx):
                raise
            raise reported(error) from error
        except BrokenPipeError:
            # `yanex list | head`: the reader left; exit quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)


class ReportedError(click.ClickException):
    """A YanexError shown as `Error: <message>`; `reported()` gives it the error's exit code."""


def reported(error: YanexError) -> ReportedError:
    """The click exception that prints `error` in one line and exits with its exit code."""

    class Reported(ReportedError):
        exit_code = error.exit_code  # a class variable in click's stubs

    return Reported(error.message)


def debug_enabled(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("debug")) or bool(os.environ.get("YANEX_DEBUG"))


@click.group(cls=YanexGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="yanex")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """Track and run Python experiments, locally or on a fleet of RQ workers.

    \b
    Example:
        yanex run train.py --param lr=0.01 --tag baseline
        yanex list
        yanex show <id>
    """
