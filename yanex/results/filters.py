"""Which experiments to look at: one `Filter`, shared by every command and the results API.

```
ids          full ids or prefixes (any of)      status     any of the given statuses
name         glob ("" = unnamed)                tags       all of them
script       glob on file name, path or module  batch      batch id or prefix
where        "lr<0.01", "metric:acc>=0.9"       archived   False active, True archived, None both
started_after / started_before / ended_after / ended_before: datetimes or "2 days ago"
```

Metadata criteria are cheap; `where` conditions read parameters or metrics, so callers
test `matches_metadata` first and `matches` only on the survivors.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from yanex.core.metrics import AGGREGATES
from yanex.core.status import Status
from yanex.errors import UsageError
from yanex.results.experiment import Experiment, check_aggregate
from yanex.results.times import parse_time

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
_CONDITION = re.compile(
    r"^\s*(?:(param|metric)s?:)?\s*([^<>=!\s]+)\s*(==|!=|<=|>=|=|<|>)\s*(.*?)\s*$"
)
_CONDITION_FORM = 'write [param:|metric:]KEY OP VALUE, e.g. "lr<0.01" or "metric:accuracy>=0.9"'
VALID_STATUSES = tuple(status.value for status in Status)
FILTER_NAMES = (
    "ids",
    "status",
    "name",
    "tags",
    "script",
    "batch",
    "where",
    "started_after",
    "started_before",
    "ended_after",
    "ended_before",
    "archived",
)


@dataclass(frozen=True)
class Condition:
    """`[param:|metric:]KEY OP VALUE`: a test on one parameter or metric (last value).

    A metric key may name an aggregate: `metric:loss:min<0.1`. An experiment that lacks
    the key, or whose value cannot be compared with VALUE, does not match.
    """

    scope: str
    key: str
    op: str
    value: Any
    agg: str = "last"

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse `lr<0.01`, `param:model.layers==4`, `metric:acc:max>=0.9`."""
        match = _CONDITION.match(text)
        if match is None or not match.group(4):
            raise UsageError(f"cannot read the condition {text!r}; {_CONDITION_FORM}")
        scope, key, op, raw = match.groups()
        scope = scope or "param"
        agg = "last"
        if scope == "metric" and ":" in key:
            key, agg = key.rsplit(":", 1)
            check_aggregate(agg)
        elif ":" in key:
            raise UsageError(f"cannot read the condition {text!r}; {_CONDITION_FORM}")
        return cls(scope, key, op, _typed(raw), agg)

    def __str__(self) -> str:
        key = f"{self.key}:{self.agg}" if self.agg != "last" else self.key
        return f"{self.scope}:{key}{self.op}{self.value!r}"

    def actual(self, experiment: Experiment) -> Any:
        """The value this condition tests, or None when the experiment lacks it."""
        if self.scope == "metric":
            return experiment.metric(self.key, self.agg)
        return experiment.param(self.key)

    def matches(self, experiment: Experiment) -> bool:
        value = self.actual(experiment)
        if value is None and self.value is not None:
            return False
        try:
            return bool(OPERATORS[self.op](value, self.value))
        except TypeError:
            return False  # "adam" < 0.1: not comparable, not a match


@dataclass(frozen=True)
class Filter:
    """Criteria an experiment must all meet; an empty Filter matches every experiment.

    Build one from loose values (strings, lists, "2 days ago") with `Filter.build`.
    """

    ids: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    name: str | None = None
    tags: tuple[str, ...] = ()
    script: str | None = None
    batch: str | None = None
    where: tuple[Condition, ...] = ()
    started_after: datetime | None = None
    started_before: datetime | None = None
    ended_after: datetime | None = None
    ended_before: datetime | None = None
    archived: bool | None = False

    @classmethod
    def build(cls, **options: Any) -> Filter:
        """A Filter from keyword values as users write them; unknown names raise UsageError.

        Example:
            Filter.build(status="completed", tags="sweep", where=["lr<0.01"],
                         started_after="2 days ago")
        """
        if "tag" in options:
            options["tags"] = options.pop("tag")
        unknown = sorted(set(options) - set(FILTER_NAMES))
        if unknown:
            raise UsageError(
                f"unknown filter {', '.join(map(repr, unknown))}; "
                f"filters are: {', '.join(FILTER_NAMES)}"
            )
        values: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
        if "archived" in options:
            values["archived"] = options["archived"]
        for key in ("ids", "tags"):
            if key in values:
                values[key] = _strings(values[key])
        if "status" in values:
            values["status"] = tuple(_status(s) for s in _strings(values["status"]))
        if "where" in values:
            values["where"] = tuple(_condition(c) for c in _as_list(values["where"]))
        for key in ("started_after", "started_before", "ended_after", "ended_before"):
            if key in values:
                values[key] = _when(values[key], key)
        return cls(**values)

    @property
    def given(self) -> bool:
        """True when any criterion besides the archive scope is set."""
        return bool(self.criteria())

    @property
    def reads_records(self) -> bool:
        """True when matching needs parameters or metrics, not only metadata."""
        return bool(self.where)

    def criteria(self) -> list[tuple[str, Callable[[Experiment], bool]]]:
        """Each criterion as (label, test), metadata criteria first."""
        found: list[tuple[str, Callable[[Experiment], bool]]] = []
        if self.ids:
            found.append((f"id={','.join(self.ids)}", self._match_ids))
        if self.status:
            found.append((f"status={','.join(self.status)}", lambda e: e.status in self.status))
        if self.name is not None:
            found.append((f"name={self.name!r}", self._match_name))
        if self.tags:
            found.append((f"tags={','.join(self.tags)}", lambda e: set(self.tags) <= set(e.tags)))
        if self.script is not None:
            found.append((f"script={self.script!r}", self._match_script))
        if self.batch is not None:
            batch = self.batch
            found.append((f"batch={batch}", lambda e: (e.batch or "").startswith(batch)))
        found.extend(self._time_criteria())
        found.extend((str(condition), condition.matches) for condition in self.where)
        return found

    def matches_metadata(self, experiment: Experiment) -> bool:
        """Test the criteria that need only the metadata."""
        return all(test(experiment) for test in self._cheap_tests)

    def matches(self, experiment: Experiment) -> bool:
        """Test every criterion."""
        return self.matches_metadata(experiment) and all(
            condition.matches(experiment) for condition in self.where
        )

    def describe(self) -> str:
        """The criteria in words, e.g. "status=failed, tags=sweep"."""
        return ", ".join(label for label, _ in self.criteria()) or "no filters"

    def replace(self, **changes: Any) -> Filter:
        return dataclasses.replace(self, **changes)

    @functools.cached_property
    def _cheap_tests(self) -> list[Callable[[Experiment], bool]]:
        return [test for _, test in self.criteria()[: len(self.criteria()) - len(self.where)]]

    def _match_ids(self, experiment: Experiment) -> bool:
        return any(experiment.id.startswith(prefix) for prefix in self.ids)

    def _match_name(self, experiment: Experiment) -> bool:
        if self.name == "":
            return experiment.name is None
        return experiment.name is not None and fnmatch.fnmatchcase(experiment.name, self.name or "")

    def _match_script(self, experiment: Experiment) -> bool:
        pattern = (self.script or "").lower()
        candidates = [experiment.module or ""]
        if experiment.script_path is not None:
            path = experiment.script_path
            candidates += [str(path), path.name, path.stem]
        return any(fnmatch.fnmatchcase(c.lower(), pattern) for c in candidates if c)

    def _time_criteria(self) -> Iterable[tuple[str, Callable[[Experiment], bool]]]:
        bounds = [
            ("started_after", self.started_after, "started_at", operator.ge),
            ("started_before", self.started_before, "started_at", operator.lt),
            ("ended_after", self.ended_after, "ended_at", operator.ge),
            ("ended_before", self.ended_before, "ended_at", operator.lt),
        ]
        for label, bound, attribute, compare in bounds:
            if bound is not None:
                yield (
                    f"{label}={bound.isoformat(timespec='seconds')}",
                    _time_test(attribute, compare, bound),
                )


def _time_test(
    attribute: str, compare: Callable[[Any, Any], bool], bound: datetime
) -> Callable[[Experiment], bool]:
    def test(experiment: Experiment) -> bool:
        moment = getattr(experiment, attribute)
        return moment is not None and bool(compare(moment, bound))

    return test


def _typed(raw: str) -> Any:
    """VALUE typed like a YAML scalar; plain numbers skip the YAML parser."""
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    from yanex.core.params import parse_value

    return parse_value(raw)


def _strings(value: Any) -> tuple[str, ...]:
    items = _as_list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


def _as_list(value: Any) -> Sequence[Any]:
    if isinstance(value, (str, Status, Condition)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _status(value: str) -> str:
    lowered = value.lower()
    if lowered not in VALID_STATUSES:
        raise UsageError(f"unknown status {value!r}; use one of {', '.join(VALID_STATUSES)}")
    return lowered


def _condition(value: Any) -> Condition:
    return value if isinstance(value, Condition) else Condition.parse(str(value))


def _when(value: Any, label: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.astimezone()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).astimezone()
    return parse_time(str(value), label)


__all__ = ["AGGREGATES", "Condition", "Filter", "OPERATORS", "parse_time"]
