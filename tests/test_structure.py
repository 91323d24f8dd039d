"""The project's rules, checked rather than remembered: lint, types, layers, docs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import yanex
from yanex.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_passes() -> None:
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold() -> None:
    command = [str(Path(sys.executable).with_name("lint-imports"))]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_and_a_readme_mention(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) > 3
    assert re.search(rf"yanex {command}\b", README), f"README never shows `yanex {command}`"


def test_the_worker_command_has_help_and_a_readme_mention() -> None:
    result = subprocess.run(["yanex-worker", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--queue" in result.stdout
    assert "yanex-worker" in README


def test_all_is_complete_and_importable() -> None:
    public = {name for name in vars(yanex) if not name.startswith("_")}
    modules = {"annotations", "TYPE_CHECKING", "Any", "Sequence"}
    packages = {"api", "core", "errors", "version", "execution", "results", "queue", "cli"}
    assert public - modules - packages <= set(yanex.__all__)
    for name in yanex.__all__:
        assert getattr(yanex, name) is not None


def test_every_public_api_function_is_in_the_readme() -> None:
    missing = [
        name for name in yanex.__all__ if not name.startswith("_") and name not in README
    ]
    assert not missing, f"README does not mention: {missing}"


def test_readme_install_and_test_commands_match_ci() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in README and "python -m pytest" in ci
    assert "pip install -e '.[dev]'" in README and "pip install --quiet -e '.[dev]'" in ci
