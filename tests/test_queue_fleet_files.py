"""The fleet files parse and name real commands and options.

Docker is not available here, so docker-compose.yml is parsed, the Dockerfile's
instructions are checked against the repository, and the worker command lines of the
entrypoint, the systemd unit and the Slurm script are run for real (`--burst`, against
the test redis-server), which proves every option they pass exists.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from yanex.cli.worker import worker_command

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "worker" / "Dockerfile"
ENTRYPOINT = ROOT / "worker" / "entrypoint.sh"
UNIT = ROOT / "deploy" / "systemd" / "yanex-worker@.service"
SBATCH = ROOT / "deploy" / "slurm" / "yanex-worker.sbatch"


def worker_options() -> set[str]:
    """Every long option `yanex-worker --help` lists."""
    result = CliRunner().invoke(worker_command, ["--help"])
    assert result.exit_code == 0
    return set(re.findall(r"--[a-z][a-z-]*", result.output))


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def run_worker_line(args: list[str], redis_url: str, store: Path) -> str:
    """Run a yanex-worker command line (with --burst) against the test Redis; return output."""
    env = {**os.environ, "YANEX_REDIS_URL": redis_url, "YANEX_EXPERIMENTS_DIR": str(store)}
    result = subprocess.run(
        ["yanex-worker", *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def joined_lines(text: str) -> list[str]:
    """Shell lines with backslash continuations joined."""
    return text.replace("\\\n", " ").splitlines()


# -- docker compose --------------------------------------------------------------------


def test_compose_runs_redis_with_aof_persistence() -> None:
    redis = compose()["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(v.endswith(":/data") for v in redis["volumes"]), "AOF files on a volume"


def test_compose_builds_several_workers_from_the_worker_dockerfile() -> None:
    worker = compose()["services"]["worker"]
    assert (ROOT / worker["build"]["context"] / worker["build"]["dockerfile"]) == DOCKERFILE
    assert worker["deploy"]["replicas"] >= 2
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["init"] is True
    grace = float(worker["environment"]["YANEX_GRACE"])
    assert float(worker["stop_grace_period"].rstrip("s")) > grace


def test_compose_shares_one_experiments_volume_at_the_same_path() -> None:
    data = compose()
    services = data["services"]
    mounts = {}
    for name in ("worker", "client"):
        service = services[name]
        directory = service["environment"]["YANEX_EXPERIMENTS_DIR"]
        (volume,) = [v for v in service["volumes"] if v.endswith(f":{directory}")]
        mounts[name] = volume
        assert service["environment"]["YANEX_REDIS_URL"] == "redis://redis:6379/0"
        assert any(v.endswith(":/code") for v in service["volumes"]), "same code path too"
    assert mounts["worker"] == mounts["client"]
    assert mounts["worker"].split(":")[0] in data["volumes"], "a named volume"


def test_compose_has_rq_dashboard_on_the_same_redis() -> None:
    dashboard = compose()["services"]["dashboard"]
    assert dashboard["image"] == "eoranged/rq-dashboard"
    assert dashboard["environment"]["RQ_DASHBOARD_REDIS_URL"] == "redis://redis:6379/0"


def test_compose_client_runs_the_yanex_command() -> None:
    client = compose()["services"]["client"]
    assert client["command"][0] == "yanex"
    assert client["entrypoint"] == []
    assert client["image"] == compose()["services"]["worker"]["image"]


# -- the worker image ------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    lines = joined_lines(DOCKERFILE.read_text())
    instructions = []
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_installs_the_package_from_the_repository() -> None:
    instructions = dockerfile_instructions()
    known = {"FROM", "RUN", "WORKDIR", "COPY", "USER", "ENV", "STOPSIGNAL", "ENTRYPOINT"}
    assert {keyword for keyword, _ in instructions} <= known
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3")
    for keyword, rest in instructions:
        if keyword == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install --no-cache-dir ." in runs
    assert ("USER", "yanex") in instructions, "experiments do not run as root"


def test_dockerfile_entrypoint_is_the_entrypoint_script() -> None:
    instructions = dict(dockerfile_instructions())
    assert instructions["STOPSIGNAL"] == "SIGTERM"
    (entrypoint,) = yaml.safe_load(instructions["ENTRYPOINT"])
    copies = [rest.split() for keyword, rest in dockerfile_instructions() if keyword == "COPY"]
    assert ["worker/entrypoint.sh", f"/usr/local/bin/{entrypoint}"] in copies
    env = instructions["ENV"]
    assert "YANEX_EXPERIMENTS_DIR=/experiments" in env


def test_entrypoint_is_valid_shell_and_executable() -> None:
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert os.access(ENTRYPOINT, os.X_OK)
    for shell in ("sh", "bash"):
        subprocess.run([shell, "-n", str(ENTRYPOINT)], check=True)


def test_entrypoint_passes_the_environment_to_yanex_worker(
    redis_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "YANEX_REDIS_URL": redis_url,
        "YANEX_EXPERIMENTS_DIR": str(tmp_path / "store"),
        "YANEX_QUEUES": "high,default low",
        "YANEX_WORKER_GPU": "0,1",
        "YANEX_WORKER_NAME": "from-entrypoint",
        "YANEX_ALLOW_ROOTS": f"{tmp_path}:/srv",
        "YANEX_HEARTBEAT": "2",
        "YANEX_GRACE": "10",
    }
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "--burst"], capture_output=True, text=True, env=env, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Worker from-entrypoint: started" in output
    assert re.search(r"Listening on high, ?default, ?low", output), output
    assert "no --allow-root" not in output


# -- systemd ---------------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_systemd_unit_stops_gracefully_and_restarts_on_failure() -> None:
    service = unit()["Service"]
    assert service["KillMode"] == "mixed"
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    command = shlex.split(service["ExecStart"])
    grace = float(command[command.index("--grace") + 1])
    assert float(service["TimeoutStopSec"]) > grace
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_runs_one_worker_per_gpu_with_valid_options(
    redis_url: str, tmp_path: Path
) -> None:
    command = shlex.split(unit()["Service"]["ExecStart"])
    assert Path(command[0]).name == "yanex-worker"
    assert command[command.index("--gpu") + 1] == "%i", "the instance name is the GPU"
    assert "--name" not in command, "the default name stays unique across restarts"
    used = {arg for arg in command if arg.startswith("--")}
    assert used <= worker_options()
    substituted = [
        arg.replace("%i", "0")
        .replace("${YANEX_QUEUE}", "default")
        .replace("${YANEX_ALLOW_ROOT}", str(tmp_path))
        for arg in command[1:]
    ]
    output = run_worker_line([*substituted, "--burst"], redis_url, tmp_path / "store")
    assert "Listening on default" in output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    worker = shutil.which("yanex-worker")
    assert worker is not None
    text = UNIT.read_text().replace("/opt/yanex/venv/bin/yanex-worker", worker)
    copy = tmp_path / "yanex-worker@0.service"
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "yanex-worker@0" in line]
    assert not problems, result.stderr


# -- Slurm -----------------------------------------------------------------------------


def sbatch_worker_command() -> list[str]:
    (line,) = [
        line for line in joined_lines(SBATCH.read_text()) if re.match(r"\s*srun\b", line)
    ]
    words = shlex.split(line)
    return words[words.index("yanex-worker"):]


def test_sbatch_script_is_valid_bash_with_the_preemption_signal() -> None:
    text = SBATCH.read_text()
    assert text.startswith("#!/bin/bash\n")
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    directives = re.findall(r"^#SBATCH (\S+)", text, flags=re.MULTILINE)
    assert "--signal=TERM@90" in directives
    command = sbatch_worker_command()
    assert "--burst" in command
    assert float(command[command.index("--grace") + 1]) < 90, "done before SIGKILL"


def test_sbatch_worker_command_has_valid_options(redis_url: str, tmp_path: Path) -> None:
    command = sbatch_worker_command()
    assert {arg for arg in command if arg.startswith("--")} <= worker_options()
    substituted = [
        arg.replace("${YANEX_QUEUE:-default}", "default")
        .replace("${SLURM_JOB_ID}${SLURM_ARRAY_TASK_ID:+-${SLURM_ARRAY_TASK_ID}}", "4242-3")
        for arg in command[1:]
        if "gpu_options" not in arg
    ]
    output = run_worker_line(substituted, redis_url, tmp_path / "store")
    assert "Worker slurm-4242-3: started" in output


def test_sbatch_script_refuses_to_start_without_redis_and_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YANEX_")}
    env["HOME"] = str(tmp_path)
    result = subprocess.run(
        ["bash", str(SBATCH)], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode != 0
    assert "set YANEX_REDIS_URL" in result.stderr
