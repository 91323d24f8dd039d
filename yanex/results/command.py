"""The `yanex run` command line that reproduces one experiment exactly.

From `metadata["cli_args"]` (the flags `yanex run` recorded) when present: a sweep
member's swept `--param` entries are replaced by its own values (`metadata["sweep"]`),
so the command runs this member, not the whole sweep again. Experiments created
through the API have no `cli_args`; their command is rebuilt from the script and the
parameters flattened to dotted keys.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from yanex.results.comparison import flatten
from yanex.results.experiment import Experiment

_PLAIN_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null"})
# cli_args keys that are not flags of their own, or say how to submit rather than what
# to run (the command runs the experiment again, it does not stage or preview it).
_POSITIONAL = ("script",)
_SKIPPED = ("script_args", "stage", "staged", "dry_run", "detach", "yes")


def reproduce_command(experiment: Experiment) -> str:
    """A shell command (quoted with shlex) that runs this experiment again."""
    cli_args = experiment.metadata.get("cli_args")
    if isinstance(cli_args, Mapping) and (cli_args.get("script") or cli_args.get("module")):
        words = _from_cli_args(cli_args, experiment.metadata.get("sweep"))
    else:
        words = _from_record(experiment)
    script_args = [str(a) for a in experiment.metadata.get("script_args") or []]
    if script_args:
        words += ["--", *script_args]
    return shlex.join(words)


def format_value(value: Any) -> str:
    """A parameter value written so that `--param key=VALUE` types it back the same."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if _PLAIN_WORD.match(value) and value.lower() not in _YAML_WORDS:
            return value  # cannot read as anything but this string: no YAML parser needed
        from yanex.core.params import parse_value

        return value if parse_value(value) == value else json.dumps(value)
    return json.dumps(value)


def _from_cli_args(cli_args: Mapping[str, Any], sweep: Any) -> list[str]:
    words = ["yanex", "run"]
    if cli_args.get("script"):
        words.append(str(cli_args["script"]))
    params = [str(p) for p in cli_args.get("param") or []]
    if isinstance(sweep, Mapping) and sweep:
        swept = {str(key) for key in sweep}
        params = [p for p in params if p.partition("=")[0].strip() not in swept]
        params += [f"{key}={format_value(value)}" for key, value in sweep.items()]
    for key, value in cli_args.items():
        if key in _POSITIONAL or key in _SKIPPED:
            continue
        if key == "param":
            value = params
        words += _flag(key, value)
    if "param" not in cli_args and params:
        words += _flag("param", params)
    return words


def _from_record(experiment: Experiment) -> list[str]:
    if experiment.script_path is not None:
        words = ["yanex", "run", str(experiment.script_path)]
    else:
        words = ["yanex", "run", "--module", experiment.module or "?"]
    params = [f"{k}={format_value(v)}" for k, v in flatten(experiment.params).items()]
    words += _flag("param", params)
    words += _flag("name", experiment.name)
    words += _flag("tag", experiment.tags)
    words += _flag("description", experiment.description)
    return words


def _flag(key: str, value: Any) -> list[str]:
    """`--key value` words: repeated for lists, alone for True, none for False/None/empty."""
    option = "--" + key.replace("_", "-")
    if value is None or value is False or value == [] or value == ():
        return []
    if value is True:
        return [option]
    if isinstance(value, (list, tuple)):
        return [word for item in value for word in (option, str(item))]
    return [option, str(value)]
