"""Config files: YAML parameters, composed with `imports:`, with a `yanex:` section.

```yaml
imports: [base.yaml]          # relative to this file; merged first, in order
model.hidden_size: 512        # a dotted key updates one nested value, keeps siblings
lr: list(0.001, 0.01)         # a sweep string becomes a Sweep
yanex:                        # CLI defaults, not parameters
  name: baseline
  tags: [paper]
```

Example:
    loaded = load_config(Path("configs/experiment.yaml"))
    loaded.params, loaded.cli_defaults, loaded.files
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yanex.core.params import load_yaml, merge
from yanex.core.sweep import parse_sweep
from yanex.errors import ConfigError, ParameterError

IMPORTS_KEY = "imports"
YANEX_KEY = "yanex"
CLI_DEFAULT_KEYS = ("name", "tags", "description", "stage", "parallel", "queue")


@dataclass
class LoadedConfig:
    """Parameters and CLI defaults read from config files, and every file read."""

    params: dict[str, Any] = field(default_factory=dict)
    cli_defaults: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def load_config(path: Path) -> LoadedConfig:
    """Read one config file and, first, the files it imports (recursively)."""
    return _load(Path(path), ())


def load_configs(paths: Sequence[Path]) -> LoadedConfig:
    """Read several config files and layer them in order: a later file wins."""
    result = LoadedConfig()
    for path in paths:
        _layer(result, load_config(path))
    return result


def _layer(target: LoadedConfig, loaded: LoadedConfig) -> None:
    target.params = merge(target.params, loaded.params)
    target.cli_defaults.update(loaded.cli_defaults)
    target.files.extend(loaded.files)


def _load(path: Path, chain: tuple[Path, ...]) -> LoadedConfig:
    resolved = path.resolve()
    if any(resolved == link.resolve() for link in chain):
        cycle = " -> ".join(str(link) for link in (*chain, path))
        raise ConfigError(f"import cycle: {cycle}; remove one of these imports")
    data = _read_mapping(path, chain)
    result = LoadedConfig()
    for name in _imports(data, path):
        _layer(result, _load(path.parent / Path(name).expanduser(), (*chain, path)))
    own = LoadedConfig(
        params=_own_params(data, path),
        cli_defaults=_cli_defaults(data.get(YANEX_KEY), path),
        files=[resolved],
    )
    _layer(result, own)
    return result


def _read_mapping(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The file's top-level mapping (`{}` for an empty file)."""
    import yaml

    text = _read_text(path, chain)
    try:
        data = load_yaml(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        raise ConfigError(
            f"cannot parse config file {path}{where}: {problem}; fix the YAML syntax there"
        ) from err
    except yaml.YAMLError as err:
        raise ConfigError(f"cannot parse config file {path}: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must contain a mapping of parameters, got {_kind(data)}; "
            "write one `name: value` per line"
        )
    return data


def _read_text(path: Path, chain: tuple[Path, ...]) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(_missing_message(path, chain)) from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; pass a YAML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}") from err


def _missing_message(path: Path, chain: tuple[Path, ...]) -> str:
    if not chain:
        return f"config file {path} does not exist; check the path passed to --config"
    links = [*chain[1:], path]
    imports = "".join(f", which imports {link}" for link in links[1:])
    return (
        f"config file {chain[0]} imports {links[0]}{imports}, which does not exist; "
        "imports are resolved relative to the importing file's directory"
    )


def _imports(data: dict[str, Any], path: Path) -> list[str]:
    value = data.get(IMPORTS_KEY)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise ConfigError(
        f"config file {path}: `imports` must be a file name or a list of file names, "
        f"got {_kind(value)}"
    )


def _own_params(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The file's own parameters, dotted keys expanded and sweep strings parsed."""
    own = {key: value for key, value in data.items() if key not in (IMPORTS_KEY, YANEX_KEY)}
    try:
        return _with_sweeps(merge({}, own), "")
    except ParameterError as err:
        raise ConfigError(f"config file {path}: {err.message}") from err


def _with_sweeps(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A copy of `params` where each sweep string (at any dict depth) is a Sweep."""
    result: dict[str, Any] = {}
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            value = _with_sweeps(value, f"{dotted}.")
        elif isinstance(value, str):
            try:
                sweep = parse_sweep(value)
            except ParameterError as err:
                raise ParameterError(f"parameter {dotted}: {err.message}") from err
            value = value if sweep is None else sweep
        result[key] = value
    return result


def _cli_defaults(section: Any, path: Path) -> dict[str, Any]:
    """The validated `yanex:` section; a key set to null is left out."""
    if section is None:
        return {}
    allowed = ", ".join(CLI_DEFAULT_KEYS)
    if not isinstance(section, dict):
        raise ConfigError(
            f"config file {path}: the `yanex:` section must be a mapping with keys "
            f"{allowed}, got {_kind(section)}"
        )
    unknown = sorted(str(key) for key in section if key not in CLI_DEFAULT_KEYS)
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {', '.join(unknown)} in the `yanex:` "
            f"section; allowed keys: {allowed}"
        )
    return {
        key: _cli_default(key, value, path) for key, value in section.items() if value is not None
    }


def _cli_default(key: str, value: Any, path: Path) -> Any:
    """`value` checked against what `key` takes; tags become a list of strings."""
    if key == "tags":
        value = [value] if isinstance(value, str) else value
        valid = isinstance(value, list) and all(isinstance(tag, str) for tag in value)
        expected = "a string or a list of strings"
    elif key == "stage":
        valid, expected = isinstance(value, bool), "true or false"
    elif key == "parallel":
        # bool is an int in Python; `parallel: true` is still a mistake.
        valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        expected = "0 (one worker per CPU) or a positive integer"
    else:
        valid, expected = isinstance(value, str), "a string"
    if not valid:
        raise ConfigError(f"config file {path}: `yanex: {key}` must be {expected}, got {value!r}")
    return value


def _kind(value: Any) -> str:
    """`a list`, `a string`...: the YAML kind of `value` for messages."""
    kinds = [(bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string")]
    kinds += [(list, "a list"), (dict, "a mapping")]
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return type(value).__name__
