"""Parameters: typing `--param` values, dotted keys, layering, and the resolution order.

Resolution order, highest first:

```
--param KEY=VALUE          parse_override (VALUE typed as YAML, or a sweep)
YANEX_PARAM_<key>=VALUE    params_from_environ (`__` in <key> stands for a dot)
--config files             yanex.core.config.load_config, merged in order, later wins
clone base                 the parameters of the experiment being cloned
script defaults            nothing here: the script's own `get(key, default)`
```

Example:
    resolved = resolve_params(overrides=["model.lr=1e-3"], config_files=[Path("base.yaml")])
    resolved.params  # {"model": {"lr": 0.001, "layers": 4}}
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yanex.core.sweep import parse_sweep
from yanex.errors import ParameterError

if TYPE_CHECKING:
    import yaml

ENV_PREFIX = "YANEX_PARAM_"

# PyYAML follows YAML 1.1, where `1e-3` (no dot, or no exponent sign) is a string.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# A `#` that YAML would read as a comment: `color=#ff0000` must not become None.
_COMMENT = re.compile(r"(?:^|\s)#")
_KEY_FORM = "expected KEY=VALUE, e.g. --param model.lr=0.01"


@dataclass
class ResolvedParams:
    """The outcome of `resolve_params`: parameters, CLI defaults and the files read."""

    params: dict[str, Any] = field(default_factory=dict)
    cli_defaults: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def yaml_loader() -> type[yaml.SafeLoader]:
    """A SafeLoader that reads `1e-3` as a float and leaves dates as strings.

    Dates stay strings so that every parameter can be stored as JSON.
    """
    import yaml

    class ParamLoader(yaml.SafeLoader):
        """SafeLoader with exponent floats and without timestamps."""

    ParamLoader.yaml_implicit_resolvers = {
        first: [resolver for resolver in resolvers if resolver[0] != _TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    ParamLoader.add_implicit_resolver(_FLOAT_TAG, _EXPONENT_FLOAT, list("-+0123456789."))
    return ParamLoader


def load_yaml(text: str) -> Any:
    """Parse YAML text safely with the parameter rules of `yaml_loader`."""
    import yaml

    # Safe: the loader is a SafeLoader subclass.
    return yaml.load(text, Loader=yaml_loader())


def parse_value(text: str) -> Any:
    """Type a `--param` value as a YAML scalar or flow collection; fall back to the text.

    Example:
        parse_value("1e-3") == 0.001; parse_value("[1, 2]") == [1, 2]
        parse_value('"123"') == "123"; parse_value("hello, world") == "hello, world"
    """
    import yaml

    stripped = text.strip()
    if not stripped:
        return text
    plain = stripped[0] not in "'\"[{"
    if plain and _COMMENT.search(stripped):
        return text
    try:
        value = load_yaml(text)
    except yaml.YAMLError:
        return text
    # Block collections (`a: 1`, `- a`) are not values one means on a command line.
    if plain and isinstance(value, (dict, list)):
        return text
    return value


def parse_override(text: str) -> tuple[str, Any]:
    """Split `KEY=VALUE` at the first `=` and type the value (a `Sweep` for sweep syntax).

    Example:
        parse_override("model.lr=0.1") == ("model.lr", 0.1)
    """
    key, sep, raw = text.partition("=")
    if not sep:
        raise ParameterError(f'invalid --param "{text}": no "=" in it; {_KEY_FORM}')
    key = key.strip()
    problem = _key_problem(key)
    if problem:
        raise ParameterError(f'invalid --param "{text}": {problem}; {_KEY_FORM}')
    return key, _typed_value(raw)


def _typed_value(raw: str) -> Any:
    sweep = parse_sweep(raw)
    return sweep if sweep is not None else parse_value(raw)


def _key_problem(key: str) -> str | None:
    """Why `key` cannot name a parameter, or None when it can."""
    if not key:
        return "the key is empty"
    if any(char.isspace() for char in key):
        return f'the key "{key}" contains whitespace'
    if "" in key.split("."):
        return f'the dotted key "{key}" has an empty part'
    return None


def _split_key(key: str) -> list[str]:
    parts = key.split(".")
    if "" in parts:
        raise ParameterError(
            f'invalid parameter key "{key}": empty name in a dotted key; '
            "use names joined by single dots, e.g. model.lr"
        )
    return parts


def set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    """Set `value` at dotted `key` in `d`, in place, keeping every sibling.

    Missing intermediate levels are created. An intermediate level that holds a
    non-dict value (`a: 3` when setting `a.b`) is replaced by a dict: the dotted key
    says `a` is a section, and the newest layer wins.
    """
    parts = _split_key(key)
    target = d
    for part in parts[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[parts[-1]] = value


def get_dotted(d: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """The value at dotted `key`; a top-level key spelled exactly `key` wins over the path."""
    if key in d:
        return d[key]
    current: Any = d
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `override` layered on `base`; neither input is changed.

    Nested dicts merge recursively, any other value replaces. A dotted key in
    `override` (`model.lr`) updates that nested value and keeps its siblings.
    """
    result = copy.deepcopy(dict(base))
    _merge_into(result, override)
    return result


def _merge_into(target: dict[str, Any], override: Mapping[str, Any]) -> None:
    """Layer `override` onto `target`, which the caller owns and lets us change."""
    for key, value in override.items():
        parts = _split_key(key) if isinstance(key, str) and "." in key else [key]
        level = target
        for part in parts[:-1]:
            level = _section(level, part)
        if isinstance(value, Mapping):
            _merge_into(_section(level, parts[-1]), value)
        else:
            level[parts[-1]] = copy.deepcopy(value)


def _section(level: dict[str, Any], key: str) -> dict[str, Any]:
    """The dict at `level[key]`, made (replacing a non-dict) when it is not one."""
    child = level.get(key)
    if not isinstance(child, dict):
        child = level[key] = {}
    return child


def params_from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Parameters from `YANEX_PARAM_<key>` variables, as a flat dict of dotted keys.

    `__` in `<key>` stands for a dot (`YANEX_PARAM_model__lr` -> `model.lr`); values
    are typed like `--param` values and may be sweeps.
    """
    params: dict[str, Any] = {}
    # Sorted so that `model` is applied before `model.lr` whatever the environment order.
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].replace("__", ".")
        problem = _key_problem(key)
        if problem:
            raise ParameterError(
                f"invalid environment variable {name}: {problem}; "
                f"name parameters like {ENV_PREFIX}model__lr=0.01 (model.lr)"
            )
        params[key] = _typed_value(environ[name])
    return params


def params_from_overrides(overrides: Sequence[str]) -> list[tuple[str, Any]]:
    """Parse `--param` overrides, keeping their order (a later one wins)."""
    return [parse_override(text) for text in overrides]


def resolve_params(
    *,
    overrides: Sequence[str] = (),
    config_files: Sequence[Path] = (),
    clone_base: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    default_config: Path | None = None,
) -> ResolvedParams:
    """Layer clone base, config files, `YANEX_PARAM_*` and `--param` overrides, in that order.

    With no `config_files`, `default_config` (the CLI passes `./config.yaml`) is read
    when it exists. `environ=None` reads `os.environ`.
    """
    from yanex.core.config import load_configs

    files = list(config_files)
    if not files and default_config is not None and default_config.is_file():
        files = [default_config]
    loaded = load_configs(files)
    params = merge(clone_base or {}, loaded.params)
    _merge_into(params, params_from_environ(os.environ if environ is None else environ))
    for key, value in params_from_overrides(overrides):
        _merge_into(params, {key: value})
    sources = list(dict.fromkeys(str(path) for path in loaded.files))
    return ResolvedParams(params=params, cli_defaults=loaded.cli_defaults, sources=sources)
