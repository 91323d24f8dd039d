"""The filter options every query command shares, handed to it as one `Filter`.

Like `pass_cli_config`: the decorator adds the options and passes the command a
`filters` argument (a `yanex.results.filters.Filter`) instead of the loose values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from yanex.results.filters import FILTER_NAMES, VALID_STATUSES, Filter

F = TypeVar("F", bound=Callable[..., Any])

_TIME_HELP = 'a date/time or e.g. "2 days ago", "yesterday"'
_OPTIONS = [
    click.option(
        "-s",
        "--status",
        multiple=True,
        type=click.Choice(VALID_STATUSES, case_sensitive=False),
        help="Only these statuses (repeatable: any of them).",
    ),
    click.option(
        "-n", "--name", "name_glob", help='Name glob, e.g. "lr-*"; "" for unnamed experiments.'
    ),
    click.option(
        "-t", "--tag", "tags", multiple=True, help="Has this tag (repeatable: all of them)."
    ),
    click.option("--script", help='Script glob: file name, path or module, e.g. "train*".'),
    click.option("--batch", help="Made by this batch (the id printed when a sweep starts)."),
    click.option(
        "-w",
        "--where",
        multiple=True,
        metavar="COND",
        help='Parameter or metric condition, e.g. "lr<0.01", "metric:acc>=0.9" (repeatable).',
    ),
    click.option("--started-after", metavar="WHEN", help=f"Started at or after: {_TIME_HELP}."),
    click.option("--started-before", metavar="WHEN", help="Started before this time."),
    click.option("--ended-after", metavar="WHEN", help="Ended at or after this time."),
    click.option("--ended-before", metavar="WHEN", help="Ended before this time."),
    click.option("--archived", is_flag=True, help="Only archived experiments."),
    click.option("--include-archived", is_flag=True, help="Archived and active experiments."),
]
_ID_OPTION = click.option(
    "-i", "--id", "ids", multiple=True, help="Id or id prefix (repeatable: any of them)."
)
# Filters whose option passes straight through; name, ids and archived need handling.
_NAMES = [name for name in FILTER_NAMES if name not in ("name", "ids", "archived")]


def filter_options(*, ids: bool = False, archived: bool | None = False) -> Callable[[F], F]:
    """Add the filter options; pass the command `filters=Filter(...)`.

    `ids=True` adds `-i/--id` (for `list`, where ids are one more filter); `archived`
    is the scope searched without `--archived`/`--include-archived` (unarchive: True).
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) or None for name in _NAMES}
            values["name"] = kwargs.pop("name_glob")  # "" (unnamed ones) must survive
            values["ids"] = kwargs.pop("ids", None) or None
            only_archived = kwargs.pop("archived")
            both = kwargs.pop("include_archived")
            if only_archived and both:
                raise click.UsageError("give --archived or --include-archived, not both")
            scope = True if only_archived else None if both else archived
            kwargs["filters"] = Filter.build(**values, archived=scope)
            return func(*args, **kwargs)

        decorated: Any = wrapper
        if ids:
            decorated = _ID_OPTION(decorated)
        for option in reversed(_OPTIONS):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate
