"""Connecting to Redis: where, how patiently, and how to fail when it is not there.

Connections retry with exponential backoff, so a Redis restart or a short network cut
is ridden out by clients and workers alike. The one exception is the check at start:
a client that cannot reach Redis at all fails at once, naming the (masked) URL.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from yanex.core.urls import mask_password
from yanex.errors import QueueUnavailableError

if TYPE_CHECKING:
    from redis import Redis

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
RECONNECT_ATTEMPTS = 40  # with backoff capped at 5 s: rides out about three minutes
SOCKET_TIMEOUT = 30.0  # above every blocking read yanex makes (those block <= 10 s)


def redis_url(url: str | None = None) -> str:
    """The Redis URL: the argument, else `YANEX_REDIS_URL`, else the local default."""
    return url or os.environ.get("YANEX_REDIS_URL") or DEFAULT_REDIS_URL


def connect(url: str | None = None, *, check: bool = True, patient: bool = True) -> Redis:
    """A Redis client that reconnects with backoff; with `check`, fail now if unreachable.

    `patient=False` gives a client that fails within seconds instead of retrying for
    minutes: for work that must not stall while Redis is away (a worker's heartbeat).
    """
    from redis import Redis
    from redis.backoff import ExponentialBackoff, NoBackoff
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
    from redis.retry import Retry

    url = redis_url(url)
    if check:
        ensure_reachable(url)
    if not patient:
        return Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
    return Redis.from_url(
        url,
        socket_connect_timeout=5,
        socket_timeout=SOCKET_TIMEOUT,
        socket_keepalive=True,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=5.0, base=0.1), RECONNECT_ATTEMPTS),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
    )


def ensure_reachable(url: str) -> None:
    """Ping Redis once, without retrying; raise QueueUnavailableError naming the URL."""
    from redis import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except RedisError as error:
        raise QueueUnavailableError(
            f"cannot reach Redis at {mask_password(url)} ({error}) — start it with "
            '"docker compose up -d redis", or pass --redis-url / set YANEX_REDIS_URL'
        ) from error
    except ValueError as error:
        raise QueueUnavailableError(f"invalid Redis URL {mask_password(url)}: {error}") from error
    finally:
        client.close()
