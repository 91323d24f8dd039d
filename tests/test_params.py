"""Parameter values, dotted keys, layering and the resolution order."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yanex.core.params import (
    ResolvedParams,
    get_dotted,
    merge,
    params_from_environ,
    parse_override,
    parse_value,
    resolve_params,
    set_dotted,
)
from yanex.core.sweep import Sweep, expand
from yanex.errors import ParameterError

# --- parse_value -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.01", 0.01),
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("1e3", 1000.0),
        ("-2.5e+2", -250.0),
        (".5e1", 5.0),
        ("42", 42),
        ("-7", -7),
        ("true", True),
        ("false", False),
        ("null", None),
        ("~", None),
        ("[1, 2]", [1, 2]),
        ("[a, 1e-3, [true]]", ["a", 0.001, [True]]),
        ("{a: 1}", {"a": 1}),
        ("{a: {b: [1]}}", {"a": {"b": [1]}}),
        ('"123"', "123"),
        ("'true'", "true"),
        ('"1e-3"', "1e-3"),
        ("", ""),
        ("adam", "adam"),
        ("hello, world", "hello, world"),
        ("hello world", "hello world"),
        ("a: b: c", "a: b: c"),
        ("[", "["),
        ("[1, 2", "[1, 2"),
        ("{a: 1", "{a: 1"),
        ("a: 1", "a: 1"),
        ("- a", "- a"),
        ("#ff0000", "#ff0000"),
        ("run #3", "run #3"),
        ("2024-01-01", "2024-01-01"),
        ("=", "="),
        ("b=c", "b=c"),
        ("foo(1, 2)", "foo(1, 2)"),
    ],
)
def test_parse_value(text: str, expected: Any) -> None:
    got = parse_value(text)
    assert got == expected
    assert type(got) is type(expected)


# --- parse_override ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model.lr=0.1", ("model.lr", 0.1)),
        ("lr=1e-3", ("lr", 0.001)),
        ("name=a=b", ("name", "a=b")),
        ("empty=", ("empty", "")),
        ("tags=[a, b]", ("tags", ["a", "b"])),
        ("msg=hello, world", ("msg", "hello, world")),
        ("id=\"007\"", ("id", "007")),
        (" lr =0.5", ("lr", 0.5)),
    ],
)
def test_parse_override(text: str, expected: tuple[str, Any]) -> None:
    assert parse_override(text) == expected


def test_parse_override_sweep_value_is_a_sweep() -> None:
    key, value = parse_override("lr=list(0.001, 0.01)")
    assert key == "lr"
    assert value == Sweep(values=(0.001, 0.01), expression="list(0.001, 0.01)")


def test_parse_override_bad_sweep_is_an_error_not_a_string() -> None:
    with pytest.raises(ParameterError, match=r'invalid sweep "range\(0,"'):
        parse_override("lr=range(0,")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("lr", 'no "="'),
        ("=3", "the key is empty"),
        ("  =3", "the key is empty"),
        ("a..b=1", 'dotted key "a..b" has an empty part'),
        (".a=1", 'dotted key ".a" has an empty part'),
        ("a.=1", 'dotted key "a." has an empty part'),
        ("learning rate=1", 'key "learning rate" contains whitespace'),
        ("a.\tb=1", "contains whitespace"),
    ],
)
def test_parse_override_errors(text: str, reason: str) -> None:
    with pytest.raises(ParameterError, match="expected KEY=VALUE") as info:
        parse_override(text)
    assert f'invalid --param "{text}"' in info.value.message
    assert reason in info.value.message


# --- dotted keys -------------------------------------------------------------------


def test_set_dotted_keeps_siblings_and_creates_levels() -> None:
    params: dict[str, Any] = {"model": {"lr": 0.1, "layers": 4}, "seed": 1}
    set_dotted(params, "model.lr", 0.5)
    set_dotted(params, "model.opt.name", "adam")
    set_dotted(params, "epochs", 3)
    assert params == {
        "model": {"lr": 0.5, "layers": 4, "opt": {"name": "adam"}},
        "seed": 1,
        "epochs": 3,
    }


def test_set_dotted_replaces_a_non_dict_intermediate() -> None:
    params: dict[str, Any] = {"model": "small"}
    set_dotted(params, "model.lr", 0.1)
    assert params == {"model": {"lr": 0.1}}


def test_set_dotted_rejects_empty_parts() -> None:
    with pytest.raises(ParameterError, match='"a..b": empty name'):
        set_dotted({}, "a..b", 1)


def test_get_dotted() -> None:
    params = {"model": {"lr": 0.1, "opt": {"name": "adam"}}, "a.b": "literal", "a": {"b": 2}}
    assert get_dotted(params, "model.lr") == 0.1
    assert get_dotted(params, "model.opt.name") == "adam"
    assert get_dotted(params, "model") == {"lr": 0.1, "opt": {"name": "adam"}}
    assert get_dotted(params, "a.b") == "literal"  # the exact top-level key wins
    assert get_dotted(params, "model.missing") is None
    assert get_dotted(params, "model.lr.deeper", "d") == "d"
    assert get_dotted(params, "nope", 5) == 5


# --- merge -------------------------------------------------------------------------


def test_merge_nested_dicts_recursively_and_replaces_other_values() -> None:
    base = {"model": {"lr": 0.1, "layers": 4}, "tags": [1, 2], "seed": 1}
    override = {"model": {"lr": 0.5}, "tags": [3], "epochs": 2}
    assert merge(base, override) == {
        "model": {"lr": 0.5, "layers": 4},
        "tags": [3],
        "seed": 1,
        "epochs": 2,
    }


def test_merge_dotted_keys_update_nested_values() -> None:
    base = {"model": {"hidden_size": 256, "num_layers": 4}}
    got = merge(base, {"model.hidden_size": 512, "optim.lr": 0.1})
    assert got == {"model": {"hidden_size": 512, "num_layers": 4}, "optim": {"lr": 0.1}}


def test_merge_dotted_keys_inside_nested_override_dicts() -> None:
    got = merge({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b.c": 9}})
    assert got == {"a": {"b": {"c": 9, "d": 2}}}


def test_merge_applies_override_keys_in_order() -> None:
    assert merge({}, {"model.lr": 1, "model": 5}) == {"model": 5}
    assert merge({}, {"model": 5, "model.lr": 1}) == {"model": {"lr": 1}}


def test_merge_never_mutates_inputs_or_shares_values() -> None:
    base = {"model": {"lr": 0.1}, "xs": [1]}
    override = {"model": {"opt": {"name": "adam"}}, "ys": [2]}
    frozen_base, frozen_override = copy.deepcopy(base), copy.deepcopy(override)
    got = merge(base, override)
    got["model"]["opt"]["name"] = "sgd"
    got["xs"].append(9)
    got["ys"].append(9)
    assert base == frozen_base
    assert override == frozen_override


def test_merge_keeps_literal_dotted_keys_of_the_base() -> None:
    assert merge({"a.b": 1}, {"c": 2}) == {"a.b": 1, "c": 2}


def test_merge_rejects_empty_dotted_parts() -> None:
    with pytest.raises(ParameterError, match='"a..b"'):
        merge({}, {"a..b": 1})


def test_merge_is_not_associative_when_a_scalar_sits_between_dicts() -> None:
    # The documented limit of layering: the middle layer's scalar drops `y` on the left.
    a, b, c = {"x": {"y": 1}}, {"x": 2}, {"x": {"z": 3}}
    assert merge(merge(a, b), c) == {"x": {"z": 3}}
    assert merge(a, merge(b, c)) == {"x": {"y": 1, "z": 3}}


# --- environment -------------------------------------------------------------------


def test_params_from_environ() -> None:
    environ = {
        "YANEX_PARAM_lr": "1e-3",
        "YANEX_PARAM_model__layers": "4",
        "YANEX_PARAM_model.act": "relu",
        "YANEX_PARAM_batch": "list(16, 32)",
        "YANEX_PARAM_tags": "[a, b]",
        "YANEX_OTHER": "ignored",
        "PATH": "/bin",
    }
    got = params_from_environ(environ)
    assert got == {
        "lr": 0.001,
        "model.layers": 4,
        "model.act": "relu",
        "batch": Sweep(values=(16, 32), expression="list(16, 32)"),
        "tags": ["a", "b"],
    }
    assert merge({"model": {"layers": 2, "dim": 8}}, got)["model"] == {
        "layers": 4,
        "dim": 8,
        "act": "relu",
    }


def test_params_from_environ_applies_sections_before_their_keys() -> None:
    got = params_from_environ({"YANEX_PARAM_model__lr": "0.5", "YANEX_PARAM_model": "{lr: 1}"})
    assert merge({}, got) == {"model": {"lr": 0.5}}


@pytest.mark.parametrize("name", ["YANEX_PARAM_", "YANEX_PARAM_a____b", "YANEX_PARAM___a"])
def test_params_from_environ_bad_names(name: str) -> None:
    with pytest.raises(ParameterError, match=f"invalid environment variable {name}"):
        params_from_environ({name: "1"})


def test_params_from_environ_bad_sweep() -> None:
    with pytest.raises(ParameterError, match=r'invalid sweep "linspace\(0, 1\)"'):
        params_from_environ({"YANEX_PARAM_lr": "linspace(0, 1)"})


# --- resolve_params ----------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_resolution_order(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yaml", "a: base\nb: base\nc: base\nd: base\nm: {x: 1, y: 1}\n")
    prod = write(tmp_path / "prod.yaml", "a: prod\nb: prod\nc: prod\nm.y: 2\n")
    resolved = resolve_params(
        overrides=["a=cli", "m.z=3"],
        config_files=[base, prod],
        clone_base={"a": "clone", "b": "clone", "c": "clone", "d": "clone", "e": "clone"},
        environ={"YANEX_PARAM_a": "env", "YANEX_PARAM_b": "env", "HOME": "/root"},
    )
    assert resolved.params == {
        "a": "cli",
        "b": "env",
        "c": "prod",
        "d": "base",
        "e": "clone",
        "m": {"x": 1, "y": 2, "z": 3},
    }
    assert resolved.sources == [str(base.resolve()), str(prod.resolve())]
    assert resolved.cli_defaults == {}


def test_later_override_wins_and_dotted_overrides_keep_siblings(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", "model: {lr: 0.1, layers: 4}\n")
    resolved = resolve_params(
        overrides=["model.lr=0.2", "model.lr=0.3", "model.opt={name: adam}"],
        config_files=[config],
        environ={},
    )
    assert resolved.params == {"model": {"lr": 0.3, "layers": 4, "opt": {"name": "adam"}}}


def test_resolve_reads_the_default_config_only_without_config_files(tmp_path: Path) -> None:
    default = write(tmp_path / "config.yaml", "lr: 0.1\nyanex: {name: dflt}\n")
    other = write(tmp_path / "other.yaml", "batch: 8\n")
    got = resolve_params(default_config=default, environ={})
    assert got == ResolvedParams({"lr": 0.1}, {"name": "dflt"}, [str(default.resolve())])
    got = resolve_params(config_files=[other], default_config=default, environ={})
    assert got.params == {"batch": 8}
    missing = tmp_path / "nope" / "config.yaml"
    assert resolve_params(default_config=missing, environ={}) == ResolvedParams()


def test_resolve_cli_defaults_later_file_wins_and_sources_include_imports(
    tmp_path: Path,
) -> None:
    write(tmp_path / "shared" / "common.yaml", "seed: 1\nyanex: {tags: [common], queue: gpu}\n")
    first = write(tmp_path / "first.yaml", "imports: shared/common.yaml\nyanex: {name: first}\n")
    second = write(tmp_path / "second.yaml", "yanex: {name: second, stage: true}\n")
    got = resolve_params(config_files=[first, second], environ={})
    assert got.params == {"seed": 1}
    assert got.cli_defaults == {"tags": ["common"], "queue": "gpu", "name": "second", "stage": True}
    assert got.sources == [
        str((tmp_path / "shared" / "common.yaml").resolve()),
        str(first.resolve()),
        str(second.resolve()),
    ]


def test_resolve_keeps_sweeps_at_any_depth(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", "model:\n  lr: list(0.1, 0.2)\n  layers: 2\n")
    resolved = resolve_params(
        overrides=["batch=range(2)"],
        config_files=[config],
        environ={"YANEX_PARAM_model__layers": "list(2, 4)"},
    )
    assert isinstance(resolved.params["model"]["lr"], Sweep)
    assert [member.swept for member in expand(resolved.params)] == [
        {"model.lr": 0.1, "model.layers": 2, "batch": 0},
        {"model.lr": 0.1, "model.layers": 2, "batch": 1},
        {"model.lr": 0.1, "model.layers": 4, "batch": 0},
        {"model.lr": 0.1, "model.layers": 4, "batch": 1},
        {"model.lr": 0.2, "model.layers": 2, "batch": 0},
        {"model.lr": 0.2, "model.layers": 2, "batch": 1},
        {"model.lr": 0.2, "model.layers": 4, "batch": 0},
        {"model.lr": 0.2, "model.layers": 4, "batch": 1},
    ]


def test_resolve_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YANEX_PARAM_from_env", "7")
    assert resolve_params().params == {"from_env": 7}


def test_resolve_does_not_mutate_clone_base() -> None:
    clone_base = {"model": {"lr": 0.1}}
    resolve_params(overrides=["model.lr=0.5"], clone_base=clone_base, environ={})
    assert clone_base == {"model": {"lr": 0.1}}


def test_resolve_reports_bad_override() -> None:
    with pytest.raises(ParameterError, match='invalid --param "lr"'):
        resolve_params(overrides=["lr"], environ={})


def test_importing_yanex_does_not_import_yaml() -> None:
    code = "import sys, yanex.core.params, yanex.core.config, yanex.core.sweep\n"
    code += "assert 'yaml' not in sys.modules, 'yaml imported eagerly'\n"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- properties --------------------------------------------------------------------

# Keys decide the kind of a value (m*/n*: sections, others: leaves) so that no path is a
# scalar in one layer and a dict in another; that case is not associative (see above).
leaf_keys = st.sampled_from(["a", "b", "c"])
section_keys = st.sampled_from(["m", "n"])
leaves = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def trees(depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    own = st.dictionaries(leaf_keys, leaves, max_size=3)
    if depth == 0:
        return own
    sections = st.dictionaries(section_keys, trees(depth - 1), max_size=2)
    return st.builds(lambda x, y: {**x, **y}, own, sections)


@settings(max_examples=100, deadline=None)
@given(trees(), trees(), trees())
def test_merge_layering_is_associative(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@settings(max_examples=100, deadline=None)
@given(trees(), trees())
def test_merge_keeps_everything_the_override_does_not_mention(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    got = merge(a, b)
    assert merge(got, b) == got  # idempotent
    for key, value in a.items():
        if key not in b:
            assert got[key] == value


def leaf_paths(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            paths.update(leaf_paths(value, f"{prefix}{key}."))
        else:
            paths[f"{prefix}{key}"] = value
    return paths


dotted_keys = st.lists(st.sampled_from(["m", "n"]), max_size=3).flatmap(
    lambda sections: leaf_keys.map(lambda leaf: ".".join([*sections, leaf]))
)


@settings(max_examples=100, deadline=None)
@given(trees(), dotted_keys, leaves)
def test_dotted_keys_never_drop_siblings(tree: dict[str, Any], key: str, value: Any) -> None:
    before = leaf_paths(tree)
    for got in (merge(tree, {key: value}), _set(tree, key, value)):
        after = leaf_paths(got)
        assert get_dotted(got, key) == value
        for path, old in before.items():
            if path != key:
                assert after[path] == old


def _set(tree: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    target = copy.deepcopy(tree)
    set_dotted(target, key, value)
    return target
