"""Parameters, config composition and sweeps through `yanex run` (the library is tested in
test_params.py, test_config.py and test_sweep.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from yanex.cli.main import cli
from yanex.core.store import Store

ECHO = "import json, yanex\nprint(json.dumps(yanex.get_params(), sort_keys=True))\n"


def yanex_run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "yanex", "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def configs() -> list[dict[str, Any]]:
    store = Store()
    return [store.read_config(i) for i in sorted(store.ids(), key=_created)]


def records() -> list[dict[str, Any]]:
    store = Store()
    return [store.read_metadata(i) for i in sorted(store.ids(), key=_created)]


def _created(experiment_id: str) -> str:
    return str(Store().read_metadata(experiment_id)["created_at"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "echo.py").write_text(ECHO)
    return tmp_path


def test_resolution_order_flag_env_config_clone(project: Path) -> None:
    (project / "config.yaml").write_text("a: config\nb: config\nc: config\nd: config\n")
    assert yanex_run("echo.py", "-p", "e=cloned", "--name", "base", cwd=project).returncode == 0
    result = yanex_run(
        "echo.py",
        "--clone-from",
        "base",
        "-p",
        "a=flag",
        cwd=project,
        env={"YANEX_PARAM_a": "env", "YANEX_PARAM_b": "env"},
    )
    assert result.returncode == 0, result.stderr
    received = json.loads(result.stdout.splitlines()[0])
    assert received == {"a": "flag", "b": "env", "c": "config", "d": "config", "e": "cloned"}
    clone = records()[-1]
    assert clone["clone_from"] == records()[0]["id"]
    assert configs()[-1] == received  # the script got exactly what config.json holds


def test_config_files_layer_in_order_and_import_with_dotted_keys(project: Path) -> None:
    (project / "conf").mkdir()
    (project / "conf" / "base.yaml").write_text("model:\n  layers: 4\n  width: 64\nlr: 0.1\n")
    (project / "conf" / "wide.yaml").write_text("imports: base.yaml\nmodel.width: 512\n")
    (project / "late.yaml").write_text("lr: 0.01\n")
    result = yanex_run("echo.py", "-c", "conf/wide.yaml", "-c", "late.yaml", cwd=project)
    assert result.returncode == 0, result.stderr
    assert configs() == [{"model": {"layers": 4, "width": 512}, "lr": 0.01}]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.yaml": "imports: b.yaml\n", "b.yaml": "imports: a.yaml\n"}, "import cycle"),
        ({"a.yaml": "imports: missing.yaml\n"}, "missing.yaml"),
        ({"a.yaml": "- just\n- a list\n"}, "must contain a mapping"),
        ({"a.yaml": "lr: [1, 2\n"}, "line"),
        ({"a.yaml": "lr: range(0,\n"}, "range(0,"),
        ({"a.yaml": "yanex:\n  colour: red\n"}, "colour"),
    ],
)
def test_config_errors_exit_2_and_create_nothing(
    project: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (project / name).write_text(text)
    result = yanex_run("echo.py", "-c", "a.yaml", cwd=project)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert Store().ids() == []


def test_the_yanex_section_sets_defaults_that_flags_override(project: Path) -> None:
    (project / "exp.yaml").write_text(
        "lr: list(0.1, 0.2)\nyanex:\n  name: from-config\n  tags: [paper]\n  description: d\n"
    )
    assert yanex_run("echo.py", "-c", "exp.yaml", cwd=project).returncode == 0
    assert [m["name"] for m in records()] == ["from-config-lr=0.1", "from-config-lr=0.2"]
    assert all(m["tags"] == ["paper", "sweep"] and m["description"] == "d" for m in records())
    assert (
        yanex_run("echo.py", "-c", "exp.yaml", "--name", "flag", "-t", "x", cwd=project).returncode
        == 0
    )
    assert [m["name"] for m in records()[2:]] == ["flag-lr=0.1", "flag-lr=0.2"]
    assert records()[-1]["tags"] == ["x", "sweep"]


def test_the_yanex_section_can_stage(project: Path) -> None:
    (project / "exp.yaml").write_text("yanex:\n  stage: true\n")
    result = yanex_run("echo.py", "-c", "exp.yaml", cwd=project)
    assert result.returncode == 0 and "Staged 1 experiment" in result.stdout
    assert [m["status"] for m in records()] == ["staged"]


def test_typed_values_and_quoted_strings(project: Path) -> None:
    result = yanex_run(
        "echo.py",
        "-p",
        "f=0.01",
        "-p",
        "e=1e-3",
        "-p",
        "b=true",
        "-p",
        "l=[1, 2]",
        "-p",
        'q="123"',
        "-p",
        "n=null",
        "-p",
        "s=hello, world",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    assert configs() == [
        {"f": 0.01, "e": 0.001, "b": True, "l": [1, 2], "q": "123", "n": None, "s": "hello, world"}
    ]


def test_a_grid_from_a_config_file_and_the_command_line(project: Path) -> None:
    (project / "grid.yaml").write_text("lr: list(0.1, 0.01)\nmodel:\n  layers: range(2, 5, 2)\n")
    result = yanex_run("echo.py", "-c", "grid.yaml", "-p", "seed=list(1,2,3)", cwd=project)
    assert result.returncode == 0, result.stderr
    got = sorted((c["lr"], c["model"]["layers"], c["seed"]) for c in configs())
    assert got == sorted(
        (lr, layers, seed) for lr in (0.1, 0.01) for layers in (2, 4) for seed in (1, 2, 3)
    )
    members = records()
    assert len(members) == 12 and all("sweep" in m["tags"] for m in members)
    assert all(m["status"] == "completed" for m in members)
    first = members[0]
    assert first["name"] == "echo-lr=0.1-model.layers=2-seed=1"
    assert first["sweep"] == {"lr": 0.1, "model.layers": 2, "seed": 1}
    started = sorted((m["started_at"], m["ended_at"]) for m in members)
    assert all(a[1] <= b[0] for a, b in zip(started, started[1:], strict=False))  # sequential


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("range(3)", [0, 1, 2]),
        ("range(0, 1, 0.5)", [0.0, 0.5]),
        ("linspace(0, 1, 3)", [0.0, 0.5, 1.0]),
        ("logspace(-2, 0, 3)", [0.01, 0.1, 1.0]),
        ("list(adam, 'a,b', 3)", ["adam", "a,b", 3]),
    ],
)
def test_every_sweep_form_on_the_command_line(
    project: Path, value: str, expected: list[Any]
) -> None:
    result = yanex_run("echo.py", "-p", f"x={value}", "--stage", cwd=project)
    assert result.returncode == 0, result.stderr
    values = [c["x"] for c in configs()]
    if all(isinstance(v, float) for v in expected):
        assert values == pytest.approx(expected)
    else:
        assert values == expected


@pytest.mark.parametrize(
    "value", ["range(0,", "range(0,10,0)", "linspace(0,1)", "list()", "range(a,b)"]
)
def test_bad_sweeps_quote_the_text_and_list_the_forms(project: Path, value: str) -> None:
    result = yanex_run("echo.py", "-p", f"x={value}", cwd=project)
    assert result.returncode == 2
    assert value in result.stderr and "linspace(" in result.stderr and "logspace(" in result.stderr
    assert Store().ids() == []


def test_a_huge_grid_is_refused_without_a_terminal_or_yes(project: Path) -> None:
    result = yanex_run("echo.py", "-p", "a=range(100)", "-p", "b=range(1000)", cwd=project)
    assert result.returncode == 2
    assert "100,000 experiments" in result.stderr and "--yes" in result.stderr
    assert Store().ids() == []


def test_yes_allows_a_grid_over_the_limit(project: Path) -> None:
    result = yanex_run("echo.py", "-p", "a=range(1001)", "--stage", "--yes", cwd=project)
    assert result.returncode == 0, result.stderr
    assert len(Store().ids()) == 1001


def test_dry_run_shows_the_resolved_parameters_and_creates_nothing(project: Path) -> None:
    (project / "config.yaml").write_text("model:\n  layers: 4\n  act: relu\n")
    result = yanex_run("echo.py", "--dry-run", "-p", "lr=list(0.1,0.2)", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "model:" in result.stdout and "  layers: 4" in result.stdout
    assert "lr=0.1" in result.stdout and "2 experiments would run" in result.stdout
    assert Store().ids() == []
    broken = yanex_run("echo.py", "--dry-run", "-p", "lr=range(0,", cwd=project)
    assert broken.returncode == 2 and Store().ids() == []


def test_clone_from_an_unknown_experiment_is_an_error(project: Path) -> None:
    result = yanex_run("echo.py", "--clone-from", "nosuch", cwd=project)
    assert result.returncode == 1 and "nosuch" in result.stderr
    assert Store().ids() == []


def test_show_presents_nested_parameters(project: Path) -> None:
    assert (
        yanex_run("echo.py", "-p", "model.layers=4", "-p", "model.act=relu", cwd=project).returncode
        == 0
    )
    shown = CliRunner().invoke(cli, ["show", Store().ids()[0]]).output
    assert "model" in shown and "layers" in shown and "relu" in shown
