"""Config files: YAML, imports, dotted keys, sweeps and the `yanex:` section."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from yanex.core.config import CLI_DEFAULT_KEYS, LoadedConfig, load_config, load_configs
from yanex.core.sweep import Sweep
from yanex.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_config(tmp_path: Path) -> None:
    config = write(
        tmp_path / "config.yaml",
        "model:\n  learning_rate: 1e-3\n  batch_size: 32\n"
        "training: {epochs: 100, optimizer: adam}\ndate: 2024-01-01\nflag: true\n",
    )
    loaded = load_config(config)
    assert loaded == LoadedConfig(
        params={
            "model": {"learning_rate": 0.001, "batch_size": 32},
            "training": {"epochs": 100, "optimizer": "adam"},
            "date": "2024-01-01",
            "flag": True,
        },
        cli_defaults={},
        files=[config.resolve()],
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_config_is_empty(tmp_path: Path, text: str) -> None:
    assert load_config(write(tmp_path / "empty.yaml", text)).params == {}


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- 1\n- 2\n", "a list"), ("just text\n", "a string"), ("3\n", "an integer")],
)
def test_non_mapping_top_level(tmp_path: Path, text: str, kind: str) -> None:
    config = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError, match=f"must contain a mapping of parameters, got {kind}"):
        load_config(config)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    config = write(tmp_path / "broken.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    message = info.value.message
    assert str(config) in message
    assert "line 3, column 2" in message
    assert "expected ',' or ']'" in message


def test_yaml_indentation_error_position(tmp_path: Path) -> None:
    config = write(tmp_path / "indent.yaml", "model:\n  lr: 1\n   layers: 2\n")
    with pytest.raises(ConfigError, match=r"indent\.yaml at line 3, column 10: mapping values"):
        load_config(config)


def test_unsafe_tag_is_a_config_error(tmp_path: Path) -> None:
    config = write(tmp_path / "evil.yaml", "x: !!python/object/apply:os.system [echo hi]\n")
    with pytest.raises(ConfigError, match=r"evil\.yaml at line 1, column 4: could not determine"):
        load_config(config)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_undecodable_file(tmp_path: Path) -> None:
    config = tmp_path / "latin1.yaml"
    config.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"cannot read config file .*latin1\.yaml"):
        load_config(config)


# --- imports -----------------------------------------------------------------------


def test_imports_relative_to_the_importing_file_with_dotted_keys(tmp_path: Path) -> None:
    base = tmp_path / "configs" / "base"
    write(base / "model.yaml", "model: {hidden_size: 256, num_layers: 4}\n")
    write(tmp_path / "configs" / "base" / "data.yaml", "data: {name: cifar10}\nseed: 1\n")
    experiment = write(
        tmp_path / "configs" / "experiment.yaml",
        "imports:\n  - base/model.yaml\n  - base/data.yaml\n"
        "model.hidden_size: 512\nseed: 2\n",
    )
    loaded = load_config(experiment)
    assert loaded.params == {
        "model": {"hidden_size": 512, "num_layers": 4},
        "data": {"name": "cifar10"},
        "seed": 2,
    }
    assert loaded.files == [
        (tmp_path / "configs" / "base" / "model.yaml").resolve(),
        (tmp_path / "configs" / "base" / "data.yaml").resolve(),
        experiment.resolve(),
    ]


def test_imports_merge_in_order_and_nest(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "x: a\ny: a\nz: a\n")
    write(tmp_path / "sub" / "b.yaml", "imports: ../a.yaml\ny: b\nz: b\n")
    write(tmp_path / "c.yaml", "z: c\nw: c\n")
    top = write(tmp_path / "top.yaml", "imports: [sub/b.yaml, c.yaml]\n")
    assert load_config(top).params == {"x": "a", "y": "b", "z": "c", "w": "c"}


def test_import_from_the_current_directory_of_the_process_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "elsewhere" / "base.yaml", "where: elsewhere\n")
    write(tmp_path / "configs" / "base.yaml", "where: configs\n")
    top = write(tmp_path / "configs" / "top.yaml", "imports: base.yaml\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_config(Path(os.path.relpath(top))).params == {"where": "configs"}


def test_diamond_imports_are_fine(tmp_path: Path) -> None:
    write(tmp_path / "common.yaml", "seed: 1\n")
    write(tmp_path / "left.yaml", "imports: common.yaml\nleft: 1\n")
    write(tmp_path / "right.yaml", "imports: common.yaml\nright: 1\n")
    top = write(tmp_path / "top.yaml", "imports: [left.yaml, right.yaml]\n")
    assert load_config(top).params == {"seed": 1, "left": 1, "right": 1}


def test_missing_import_names_the_chain(tmp_path: Path) -> None:
    top = write(tmp_path / "a.yaml", "imports: b.yaml\n")
    with pytest.raises(ConfigError, match=r"a\.yaml imports .*b\.yaml, which does not exist"):
        load_config(top)


def test_missing_deep_import_names_the_whole_chain(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "imports: c.yaml\n")
    top = write(tmp_path / "a.yaml", "imports: b.yaml\n")
    with pytest.raises(
        ConfigError, match=r"a\.yaml imports .*b\.yaml, which imports .*c\.yaml, which does not"
    ):
        load_config(top)


def test_import_cycle(tmp_path: Path) -> None:
    write(tmp_path / "b.yaml", "imports: a.yaml\n")
    top = write(tmp_path / "a.yaml", "imports: b.yaml\n")
    with pytest.raises(ConfigError, match=r"import cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(top)


def test_self_import_is_a_cycle(tmp_path: Path) -> None:
    top = write(tmp_path / "a.yaml", "imports: ./a.yaml\n")
    with pytest.raises(ConfigError, match=r"import cycle: .*a\.yaml -> .*a\.yaml"):
        load_config(top)


@pytest.mark.parametrize(
    ("imports", "kind"), [("3", "an integer"), ("[a.yaml, 2]", "a list"), ("{a: 1}", "a mapping")]
)
def test_imports_must_be_names(tmp_path: Path, imports: str, kind: str) -> None:
    top = write(tmp_path / "a.yaml", f"imports: {imports}\n")
    with pytest.raises(ConfigError, match=f"`imports` must be a file name or a list .*got {kind}"):
        load_config(top)


def test_error_in_an_import_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "- not a mapping\n")
    top = write(tmp_path / "top.yaml", "imports: base.yaml\n")
    with pytest.raises(ConfigError, match=r"base\.yaml must contain a mapping"):
        load_config(top)


# --- sweeps ------------------------------------------------------------------------


def test_sweep_strings_become_sweeps_at_any_depth(tmp_path: Path) -> None:
    config = write(
        tmp_path / "sweep.yaml",
        'learning_rate: "list(0.001, 0.01, 0.1)"\n'
        "batch_size: list(32, 64)\n"
        "model:\n  dropout: linspace(0.1, 0.5, 5)\n  deeper: {steps: 'range(0, 1000, 200)'}\n"
        "optimizer: adam\nnote: foo(1, 2)\nlayers: ['list(1, 2)']\n",
    )
    params = load_config(config).params
    assert params["learning_rate"] == Sweep((0.001, 0.01, 0.1), "list(0.001, 0.01, 0.1)")
    assert params["batch_size"] == Sweep((32, 64), "list(32, 64)")
    assert params["model"]["dropout"].values == (0.1, 0.2, 0.30000000000000004, 0.4, 0.5)
    assert params["model"]["deeper"]["steps"].values == (0, 200, 400, 600, 800)
    assert params["optimizer"] == "adam"
    assert params["note"] == "foo(1, 2)"
    assert params["layers"] == ["list(1, 2)"]  # lists have no dotted path to sweep


def test_dotted_sweep_key_in_config(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "model: {lr: 0.1, layers: 2}\n")
    top = write(tmp_path / "top.yaml", "imports: base.yaml\nmodel.lr: list(0.1, 0.2)\n")
    params = load_config(top).params
    assert params == {"model": {"lr": Sweep((0.1, 0.2), "list(0.1, 0.2)"), "layers": 2}}


def test_bad_sweep_in_config_names_file_and_key(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.yaml", "model:\n  lr: range(0, 10, 0)\n")
    with pytest.raises(
        ConfigError, match=r'bad\.yaml: parameter model\.lr: invalid sweep "range\(0, 10, 0\)"'
    ):
        load_config(config)


def test_empty_dotted_part_in_config_key(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.yaml", "model..lr: 1\n")
    with pytest.raises(ConfigError, match=r'bad\.yaml: invalid parameter key "model\.\.lr"'):
        load_config(config)


# --- the yanex: section ------------------------------------------------------------


def test_yanex_section_is_cli_defaults_not_params(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.yaml",
        "lr: 0.1\nyanex:\n  name: baseline\n  tags: paper\n  description: first try\n"
        "  stage: false\n  parallel: 4\n  queue: gpu\n",
    )
    loaded = load_config(config)
    assert loaded.params == {"lr": 0.1}
    assert loaded.cli_defaults == {
        "name": "baseline",
        "tags": ["paper"],
        "description": "first try",
        "stage": False,
        "parallel": 4,
        "queue": "gpu",
    }
    assert set(loaded.cli_defaults) == set(CLI_DEFAULT_KEYS)


def test_yanex_sections_merge_importing_file_wins(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "yanex: {name: base, tags: [a, b], parallel: 2}\n")
    top = write(tmp_path / "top.yaml", "imports: base.yaml\nyanex: {name: top, queue: null}\n")
    assert load_config(top).cli_defaults == {"name": "top", "tags": ["a", "b"], "parallel": 2}


def test_load_configs_later_file_wins(tmp_path: Path) -> None:
    base = write(tmp_path / "base.yaml", "lr: 0.01\nbatch: 32\nyanex: {name: base}\n")
    prod = write(tmp_path / "prod.yaml", "lr: 0.001\nworkers: 8\nyanex: {tags: prod}\n")
    loaded = load_configs([base, prod])
    assert loaded.params == {"lr": 0.001, "batch": 32, "workers": 8}
    assert loaded.cli_defaults == {"name": "base", "tags": ["prod"]}
    assert loaded.files == [base.resolve(), prod.resolve()]
    assert load_configs([]) == LoadedConfig()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{nme: x}", "unknown key\\(s\\) nme in the `yanex:` section; allowed keys: name, tags"),
        ("{name: x, foo: 1, bar: 2}", "unknown key\\(s\\) bar, foo"),
        ("[name]", "the `yanex:` section must be a mapping .*got a list"),
        ("{name: 3}", "`yanex: name` must be a string, got 3"),
        ("{tags: [a, 1]}", "`yanex: tags` must be a string or a list of strings"),
        ("{stage: yes please}", "`yanex: stage` must be true or false"),
        ("{parallel: two}", "`yanex: parallel` must be 0 \\(one worker per CPU\\) or a positive"),
        ("{parallel: -1}", "`yanex: parallel` must be 0"),
        ("{parallel: true}", "`yanex: parallel` must be 0"),
        ("{queue: [a]}", "`yanex: queue` must be a string"),
    ],
)
def test_yanex_section_validation(tmp_path: Path, section: str, message: str) -> None:
    config = write(tmp_path / "c.yaml", f"yanex: {section}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(config)
    assert str(config) in info.value.message


def test_config_error_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    error: Any = info.value
    assert error.exit_code == 2
    assert isinstance(error, ValueError)
