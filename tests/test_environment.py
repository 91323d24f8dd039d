"""The environment record: shape, values from the real machine, and its failure modes."""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from yanex.core.environment import capture_environment, hostname, platform_name


def test_environment_has_the_documented_shape() -> None:
    env = capture_environment()
    assert set(env) == {"python", "platform", "hostname", "working_directory", "user"}
    assert env["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }
    assert set(env["platform"]) == {"system", "release", "machine", "platform"}
    assert env["platform"]["system"] == platform.system()
    assert env["platform"]["release"] == platform.release()
    assert env["platform"]["machine"] == platform.machine()
    assert env["hostname"] == socket.gethostname()
    assert env["working_directory"] == os.getcwd()
    assert env["user"] == getpass.getuser()
    assert json.loads(json.dumps(env)) == env


def test_platform_name_matches_the_standard_library() -> None:
    assert platform_name() == platform.platform()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the shortcut is Linux-only")
def test_capture_starts_no_subprocess(tmp_path: Path) -> None:
    # `uname -p` (from platform.platform()) would be found here first and leave a mark.
    marker = tmp_path / "ran"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("uname", "hostname", "whoami", "id"):
        tool = fake_bin / name
        tool.write_text(f"#!/bin/sh\ntouch {marker}\n")
        tool.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    code = "from yanex.core.environment import capture_environment; capture_environment()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert not marker.exists()


def test_hostname_is_cached() -> None:
    assert hostname() is hostname()
    assert hostname() == socket.gethostname()


def test_working_directory_follows_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert capture_environment()["working_directory"] == str(tmp_path)


@pytest.mark.skipif(sys.platform == "win32", reason="a removed cwd needs POSIX semantics")
def test_removed_working_directory_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert capture_environment()["working_directory"] is None


def test_user_comes_from_the_login_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "ada")
    assert capture_environment()["user"] == "ada"
