"""Generate an experiments directory of N realistic records for the query benchmarks.

Records look like what `yanex run` sweeps leave behind: full metadata (git, environment,
execution, cli_args), a nested config and a metrics log of `--steps` steps. With
`--format original` the records are written in the original yanex 0.6 layout instead
(`params.yaml`, a `metrics.json` list, naive local times, `completed_at`), so that the
original `yanex list` can be timed on the same data.

Example:
    python benchmarks/make_store.py /tmp/store-10k --count 10000
    python benchmarks/make_store.py /tmp/orig-10k --count 10000 --format original
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from yanex.core.metrics import summarize
from yanex.core.store import Store

STATUSES = ["completed"] * 85 + ["failed"] * 10 + ["cancelled"] * 3 + ["staged"] * 2
TAGS = ["baseline", "sweep", "resnet", "vit", "ablation", "prod", "debug", "cifar10"]
BATCH_SIZE = 50
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def experiment_record(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metadata and config of the `index`-th generated experiment (new yanex layout)."""
    lr = rng.choice([0.1, 0.03, 0.01, 0.003, 0.001, 0.0003])
    batch_size = rng.choice([16, 32, 64, 128])
    config = {
        "lr": lr,
        "batch_size": batch_size,
        "epochs": 10,
        "seed": index,
        "optimizer": rng.choice(["adam", "sgd", "adamw"]),
        "model": {"layers": rng.choice([2, 4, 8]), "dropout": rng.choice([0.0, 0.1, 0.3])},
        "data": {"path": "/data/cifar10", "augment": rng.random() < 0.5},
    }
    created = START + timedelta(minutes=7 * index + rng.randint(0, 5))
    started = created + timedelta(seconds=rng.randint(1, 30))
    duration = round(rng.uniform(30, 3600), 3)
    status = rng.choice(STATUSES)
    metadata: dict[str, Any] = {
        "name": f"train-lr{lr}-bs{batch_size}",
        "description": "learning-rate sweep" if index % 3 else None,
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "status": status,
        "created_at": created.isoformat(),
        "queued_at": created.isoformat(),
        "script_path": "/home/ada/project/train.py",
        "module": None,
        "script_args": ["--verbose"] if index % 7 == 0 else [],
        "python": "/usr/bin/python3",
        "cwd": "/home/ada/project",
        "env": {},
        "timeout": None,
        "dependencies": [],
        "batch": f"{index // BATCH_SIZE:08x}",
        "cli_args": {
            "script": "train.py",
            "config": [],
            "clone_from": None,
            "param": ["lr=list(0.1, 0.03, 0.01, 0.003, 0.001, 0.0003)", "batch_size=list(16, 32)"],
            "name": None,
            "tag": ["sweep"],
            "description": None,
            "depends_on": [],
            "parallel": 4,
            "queue": None,
        },
        "sweep": {"lr": lr, "batch_size": batch_size},
        "git": _git(rng),
        "environment": _environment(),
        "execution": {
            "backend": "local",
            "queue": None,
            "job_id": None,
            "worker": None,
            "host": "gpu-box-3",
            "pid": 10_000 + index,
            "pid_start": 123456,
            "child_pid": 20_000 + index,
            "child_start": 123460,
            "gpu": None,
            "attempt": 1,
            "heartbeat": (started + timedelta(seconds=duration)).isoformat(),
            "heartbeat_interval": 5.0,
        },
    }
    if status != "staged":
        ended = started + timedelta(seconds=duration)
        metadata.update(
            started_at=started.isoformat(), ended_at=ended.isoformat(), duration=duration
        )
        metadata["exit_code"] = 1 if status == "failed" else 0
    if status == "failed":
        metadata.update(
            failure_reason="exit_code", error_message="RuntimeError: CUDA out of memory"
        )
    return metadata, config


def metric_rows(index: int, steps: int, started: str, rng: random.Random) -> list[dict[str, Any]]:
    """One row per step: a decreasing loss and an increasing accuracy."""
    base = datetime.fromisoformat(started)
    rows = []
    for step in range(steps):
        rows.append(
            {
                "step": step,
                "timestamp": (base + timedelta(seconds=10 * step)).isoformat(),
                "loss": round(2.5 * 0.85**step + rng.uniform(0, 0.05), 5),
                "accuracy": round(min(0.99, 0.1 + 0.04 * step + rng.uniform(0, 0.02)), 5),
            }
        )
    return rows


def make_store(root: Path, count: int, steps: int, seed: int) -> None:
    """Write `count` experiments into `root` in the new layout."""
    store = Store(root)
    rng = random.Random(seed)
    for index in range(count):
        metadata, config = experiment_record(index, rng)
        experiment_id = store.create(metadata, config)
        if metadata["status"] == "staged":
            continue
        rows = metric_rows(index, steps, metadata["started_at"], rng)
        text = "".join(json.dumps(row) + "\n" for row in rows)
        store.metrics_path(experiment_id).write_text(text, encoding="utf-8")
        if metadata["status"] in ("completed", "failed", "cancelled"):
            # What the Runner records when a run ends (see yanex.core.metrics.summarize).
            summary = summarize(store.metrics_path(experiment_id))
            store.update_metadata(experiment_id, {"metrics_summary": summary})


def make_original_store(root: Path, count: int, steps: int, seed: int) -> None:
    """Write `count` experiments in the original yanex 0.6 layout."""
    import yaml

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        metadata, config = experiment_record(index, rng)
        experiment_id = f"{rng.getrandbits(32):08x}"
        directory = root / experiment_id
        (directory / "artifacts").mkdir(parents=True)
        for key in ("created_at", "started_at", "ended_at", "queued_at"):
            if metadata.get(key):  # the original wrote naive local times
                local = datetime.fromisoformat(metadata[key]).astimezone().replace(tzinfo=None)
                metadata[key] = local.isoformat()
        metadata["completed_at"] = metadata.pop("ended_at", None)
        metadata.update(id=experiment_id, project=None, storage_version=2, dependencies={})
        if metadata["status"] == "staged":
            metadata["status"] = "created"
        else:
            rows = metric_rows(index, steps, metadata["started_at"], rng)
            (directory / "metrics.json").write_text(json.dumps(rows, indent=2))
        (directory / "params.yaml").write_text(yaml.safe_dump(config))
        (directory / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the store."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="experiments directory to create (must be new)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=20, help="metric steps per experiment")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=["yanex", "original"], default="yanex")
    args = parser.parse_args(argv)
    if args.root.exists() and any(args.root.iterdir()):
        parser.error(f"{args.root} is not empty; pass a new directory")
    writer = make_original_store if args.format == "original" else make_store
    writer(args.root, args.count, args.steps, args.seed)
    print(f"wrote {args.count} experiments ({args.format} layout) to {args.root}")
    return 0


def _git(rng: random.Random) -> dict[str, Any]:
    commit = f"{rng.getrandbits(160):040x}"
    return {
        "commit_hash": commit,
        "commit_hash_short": commit[:7],
        "branch": "main",
        "author": "Ada Lovelace",
        "committed_date": "2025-01-01T10:00:00+00:00",
        "message": "tune the learning rate schedule",
        "remote_url": "https://github.com/ada/project.git",
        "has_uncommitted_changes": False,
        "patch_file": None,
        "patch_size_bytes": 0,
        "patch_size_mb": 0.0,
        "patch_has_secrets": False,
        "patch_secret_count": 0,
        "patch_secrets": [],
    }


def _environment() -> dict[str, Any]:
    return {
        "python": {
            "version": "3.11.7",
            "implementation": "CPython",
            "executable": "/usr/bin/python3",
        },
        "platform": {
            "system": "Linux",
            "release": "6.1.0",
            "machine": "x86_64",
            "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
        },
        "hostname": "gpu-box-3",
        "working_directory": "/home/ada/project",
        "user": "ada",
    }


if __name__ == "__main__":
    sys.exit(main())
