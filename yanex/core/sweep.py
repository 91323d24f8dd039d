"""Sweeps: `list(...)`, `range(...)`, `linspace(...)`, `logspace(...)` and their grid.

```
list(a, b, ...)                  the values, each typed like a --param value
range(stop)                      0, 1, ..., stop - 1
range(start, stop[, step])       like Python's range; floats allowed (start + i * step)
linspace(start, stop, num)       num evenly spaced floats, both ends included
logspace(start_exp, stop_exp, num)  10 ** x for x in linspace(start_exp, stop_exp, num)
```

Several sweeps make a grid: `expand` returns one member per combination, the first
sweep varying slowest.

Example:
    members = expand({"lr": parse_sweep("list(0.1, 0.01)"), "layers": 4})
    [m.swept for m in members]  # [{"lr": 0.1}, {"lr": 0.01}]
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from yanex.errors import ParameterError

SWEEP_LIMIT = 1000
"""Grids larger than this ask for confirmation in the CLI."""

FORMS = (
    "list(a, b, ...), range(stop), range(start, stop[, step]), "
    "linspace(start, stop, num), logspace(start_exp, stop_exp, num)"
)
# One expression may not materialize more values than this (range(10**12) would hang).
_MAX_VALUES = 1_000_000
_HEAD = re.compile(r"\s*(list|range|linspace|logspace)\s*\(")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_QUOTE_OPENERS = "([{,:"


@dataclass(frozen=True)
class Sweep:
    """The values one parameter takes across a sweep, and the text that made them."""

    values: tuple[Any, ...]
    expression: str

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class SweepMember:
    """One point of a grid: full parameters, and the swept values by dotted key."""

    params: dict[str, Any]
    swept: dict[str, Any]


def parse_sweep(text: str) -> Sweep | None:
    """The Sweep that `text` spells, or None when it is no sweep syntax.

    Example:
        parse_sweep("range(0, 1, 0.25)").values == (0.0, 0.25, 0.5, 0.75)
        parse_sweep("foo(1, 2)") is None
    """
    head = _HEAD.match(text)
    if head is None:
        return None
    expression = text.strip()
    arguments = _arguments(text, head.end(), expression)
    maker = {"list": _list, "range": _range, "linspace": _linspace, "logspace": _logspace}
    values = maker[head.group(1)](arguments, expression)
    if not values:
        raise _error(expression, "it produces no values")
    return Sweep(values=values, expression=expression)


def _error(expression: str, reason: str) -> ParameterError:
    return ParameterError(f'invalid sweep "{expression}": {reason}. Accepted forms: {FORMS}')


def _arguments(text: str, start: int, expression: str) -> list[str]:
    """The comma-separated arguments after `(` at `start`, up to the matching `)`."""
    arguments: list[str] = []
    stack: list[str] = []
    current: list[str] = []
    chars = _characters(text, start, expression)
    for index, char, quoted in chars:
        if quoted:
            current.append(char)
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
            current.append(char)
        elif char in ")]}" and not stack:
            if char != ")":
                raise _error(expression, f'unbalanced "{char}"')
            if text[index + 1 :].strip():
                raise _error(expression, f'unexpected text after ")": "{text[index + 1 :]}"')
            arguments.append("".join(current).strip())
            return [] if arguments == [""] else arguments
        elif char in ")]}":
            if stack.pop() != char:
                raise _error(expression, f'unbalanced "{char}"')
            current.append(char)
        elif char == "," and not stack:
            arguments.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    raise _error(expression, 'unbalanced parentheses: no closing ")"')


def _characters(text: str, start: int, expression: str) -> Iterator[tuple[int, str, bool]]:
    """(index, char, inside quotes) from `start`; a quote opens only where a value starts.

    So `list(it's, b)` keeps its apostrophe while `list("a,b", c)` has two elements.
    """
    previous = ","
    index = start
    while index < len(text):
        char = text[index]
        if char in "\"'" and previous in _QUOTE_OPENERS:
            end = _closing_quote(text, index)
            if end < 0:
                raise _error(expression, f"unterminated quote {char}")
            for position in range(index, end + 1):
                yield position, text[position], True
            index = end + 1
            previous = char
            continue
        yield index, char, False
        if not char.isspace():
            previous = char
        index += 1


def _closing_quote(text: str, start: int) -> int:
    """Index of the quote closing the one at `start`, or -1 (YAML escapes: \\" and '')."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote == '"' and char == "\\":
            index += 2
            continue
        if char == quote:
            if quote == "'" and text[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    return -1


def _typed(argument: str) -> Any:
    # params imports this module (parse_override), so import it back at call time.
    from yanex.core.params import parse_value

    return parse_value(argument)


def _list(arguments: list[str], expression: str) -> tuple[Any, ...]:
    if not arguments:
        raise _error(expression, "list() needs at least one value")
    if "" in arguments:
        raise _error(expression, 'an empty value between commas (write "" for an empty string)')
    return tuple(_typed(argument) for argument in arguments)


def _number(argument: str, expression: str) -> int | float:
    value = _typed(argument) if argument else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(expression, f'"{argument}" is not a number')
    if not math.isfinite(value):
        raise _error(expression, f'"{argument}" is not a finite number')
    return value


def _numbers(arguments: list[str], expression: str, arity: tuple[int, ...]) -> list[int | float]:
    if len(arguments) not in arity:
        expected = " or ".join(str(count) for count in arity)
        raise _error(expression, f"expected {expected} arguments, got {len(arguments)}")
    return [_number(argument, expression) for argument in arguments]


def _check_size(count: int, expression: str) -> None:
    if count > _MAX_VALUES:
        raise _error(expression, f"{count} values is more than the {_MAX_VALUES} allowed")


def _range(arguments: list[str], expression: str) -> tuple[Any, ...]:
    numbers = _numbers(arguments, expression, (1, 2, 3))
    start, stop, step = {1: [0, *numbers, 1], 2: [*numbers, 1], 3: numbers}[len(numbers)]
    if step == 0:
        raise _error(expression, "the step must not be zero")
    if all(isinstance(number, int) for number in (start, stop, step)):
        values = range(int(start), int(stop), int(step))
        _check_size(len(values), expression)
        return tuple(values)
    exact = (stop - start) / step
    nearest = round(exact)
    # (1.1 - 0.1) / 0.1 is 10.000000000000002: the stop stays excluded.
    count = nearest if math.isclose(exact, nearest, abs_tol=1e-9) else math.ceil(exact)
    _check_size(count, expression)
    return tuple(float(start + index * step) for index in range(max(count, 0)))


def _spaced(arguments: list[str], expression: str) -> list[float]:
    """linspace's values; shared with logspace, which raises 10 to them."""
    start, stop, num = _numbers(arguments, expression, (3,))
    if not isinstance(num, int) or num < 1:
        raise _error(expression, f'the number of values must be an integer >= 1, got "{num}"')
    _check_size(num, expression)
    if num == 1:
        return [float(start)]
    step = (stop - start) / (num - 1)
    return [float(start + index * step) for index in range(num - 1)] + [float(stop)]


def _linspace(arguments: list[str], expression: str) -> tuple[Any, ...]:
    return tuple(_spaced(arguments, expression))


def _logspace(arguments: list[str], expression: str) -> tuple[Any, ...]:
    try:
        return tuple(10.0**exponent for exponent in _spaced(arguments, expression))
    except OverflowError:
        raise _error(expression, "the values are too large for floats") from None


def _sweeps(
    params: Mapping[str, Any], path: tuple[Any, ...]
) -> Iterator[tuple[tuple[Any, ...], Sweep]]:
    """(key path, Sweep) for every Sweep in nested dicts, in the order they appear."""
    for key, value in params.items():
        if isinstance(value, Sweep):
            yield (*path, key), value
        elif isinstance(value, Mapping):
            yield from _sweeps(value, (*path, key))


def count(params: Mapping[str, Any]) -> int:
    """How many members `expand(params)` returns, without making them."""
    return math.prod(len(sweep.values) for _, sweep in _sweeps(params, ()))


def expand(params: Mapping[str, Any]) -> list[SweepMember]:
    """One member per combination of the sweeps in `params` (first sweep varies slowest).

    Without sweeps: a single member with `swept == {}`.
    """
    paths = [path for path, _ in _sweeps(params, ())]
    grid = itertools.product(*(sweep.values for _, sweep in _sweeps(params, ())))
    members = []
    for choice in grid:
        chosen = dict(zip(paths, choice, strict=True))
        swept = {".".join(str(key) for key in path): value for path, value in chosen.items()}
        members.append(SweepMember(_substitute(params, chosen, ()), copy.deepcopy(swept)))
    return members


def _substitute(
    params: Mapping[str, Any], chosen: Mapping[tuple[Any, ...], Any], path: tuple[Any, ...]
) -> dict[str, Any]:
    """A deep copy of `params` with each Sweep replaced by its chosen value."""
    result: dict[str, Any] = {}
    for key, value in params.items():
        here = (*path, key)
        if isinstance(value, Sweep):
            result[key] = copy.deepcopy(chosen[here])
        elif isinstance(value, Mapping):
            result[key] = _substitute(value, chosen, here)
        else:
            result[key] = copy.deepcopy(value)
    return result


def member_name(base: str, swept: Mapping[str, Any]) -> str:
    """`<base>-<key>=<value>-...`, values spelled like YAML (`true`, `null`, `1e-05`)."""
    parts = [f"{key}={_spell(value)}" for key, value in swept.items()]
    return "-".join([base, *parts] if base else parts)


def _spell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float, str)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, separators=(",", ":"), default=str)
