"""`yanex doctor`: check the setup end to end and say, for each problem, what to do."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from yanex.core.store import Store
from yanex.core.urls import mask_password
from yanex.errors import QueueUnavailableError, StoreError
from yanex.queue.connection import redis_url


@dataclass
class Check:
    """One check: its name, whether it passed (None: not applicable), detail and advice."""

    name: str
    ok: bool | None
    detail: str
    advice: str = ""


def diagnose(store: Store, url: str | None = None, queue: str | None = None) -> list[Check]:
    """Run every check; never raises for a failed check."""
    checks = [_store(store), _git(), _detect_secrets()]
    checks.extend(_redis(store, redis_url(url), queue))
    return checks


def _store(store: Store) -> Check:
    try:
        store_id = store.ensure()
    except StoreError as error:
        return Check("experiments directory", False, str(error), "set YANEX_EXPERIMENTS_DIR")
    if not os.access(store.root, os.W_OK):
        return Check(
            "experiments directory",
            False,
            f"{store.root} is not writable",
            "fix its permissions or point YANEX_EXPERIMENTS_DIR elsewhere",
        )
    return Check("experiments directory", True, f"{store.root} (store {store_id[:8]})")


def _git() -> Check:
    path = shutil.which("git")
    if path is None:
        return Check("git", False, "git is not installed", "install git to record code state")
    return Check("git", True, path)


def _detect_secrets() -> Check:
    try:
        import detect_secrets  # noqa: F401
    except ImportError:
        return Check(
            "detect-secrets",
            False,
            "not importable",
            "pip install detect-secrets (a yanex dependency)",
        )
    return Check("detect-secrets", True, "available for scanning uncommitted changes")


def _redis(store: Store, url: str, queue: str | None) -> list[Check]:
    from yanex.queue.connection import connect

    masked = mask_password(url) or url
    try:
        connection = connect(url)
    except QueueUnavailableError as error:
        return [
            Check(
                "redis",
                None if queue is None else False,
                str(error),
                "only needed for --queue; local runs work without it",
            )
        ]
    info = connection.info()
    persistence = "AOF on" if info.get("aof_enabled") else "no AOF"
    checks = [Check("redis", True, f"{masked}: Redis {info.get('redis_version')}, {persistence}")]
    if not info.get("aof_enabled"):
        checks.append(
            Check(
                "redis persistence",
                None,
                "appendonly is off: a Redis restart loses queued jobs",
                "run Redis with --appendonly yes (the docker-compose.yml does)",
            )
        )
    checks.append(_workers(connection, store, queue))
    return checks


def _workers(connection: object, store: Store, queue: str | None) -> Check:
    from yanex.queue.fleet import fleet_status

    _, workers = fleet_status(connection)  # type: ignore[arg-type]
    listening = [w for w in workers if w.is_yanex and (queue is None or queue in w.queues)]
    if not listening:
        where = f"queue {queue!r}" if queue else "any queue"
        return Check(
            "workers",
            False if queue else None,
            f"no yanex-worker is listening on {where}",
            f"start one: yanex-worker --queue {queue or 'default'}",
        )
    names = ", ".join(f"{w.name} ({'/'.join(w.queues)})" for w in listening[:5])
    foreign = [w.name for w in listening if w.store_id and w.store_id != store.store_id]
    if foreign:
        return Check(
            "workers",
            False,
            f"{', '.join(foreign)} write to a different experiments directory than {store.root}",
            "give workers and clients the same shared directory (--experiments-dir)",
        )
    return Check("workers", True, f"{len(listening)} listening: {names}")
