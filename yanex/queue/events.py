"""Wake-ups for waiting clients: a Redis stream of `started`/`ended` events per batch.

Streams (not lists) so that any number of clients can wait on the same batch, and a
detached client that comes back later still sees what happened. An event carries only
the experiment id and what happened; the waiting client reads the outcome from the
store, which stays the source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis import Redis

STARTED = "started"
ENDED = "ended"
FAILED_TO_START = "error"
STREAM_TTL = 30 * 24 * 3600  # as long as results are kept
MAX_EVENTS = 100_000


def publish(
    connection: Redis,
    stream: str,
    experiment_id: str,
    kind: str,
    message: str = "",
    pipeline: Any = None,
) -> None:
    """Append an event to `stream` (and keep the stream from living forever)."""
    target = pipeline if pipeline is not None else connection.pipeline()
    fields: dict[Any, Any] = {"experiment": experiment_id, "event": kind, "message": message}
    target.xadd(stream, fields, maxlen=MAX_EVENTS, approximate=True)
    target.expire(stream, STREAM_TTL)
    if pipeline is None:
        target.execute()


def read(
    connection: Redis, positions: dict[str, str], block_seconds: float
) -> Iterator[tuple[str, str, str]]:
    """Block up to `block_seconds` for new events; yield (experiment, event, message).

    `positions` maps stream -> last id seen and is advanced in place.
    """
    streams: dict[Any, Any] = dict(positions)
    replies: Any = connection.xread(streams, block=int(block_seconds * 1000)) or []
    for stream, entries in replies:
        name = stream.decode() if isinstance(stream, bytes) else stream
        for entry_id, fields in entries:
            positions[name] = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            yield _text(fields, "experiment"), _text(fields, "event"), _text(fields, "message")


def start_positions(streams: Iterable[str]) -> dict[str, str]:
    """Read every stream from its beginning: events that came before we waited count too."""
    return {stream: "0-0" for stream in streams}


def _text(fields: dict[Any, Any], key: str) -> str:
    value = fields.get(key.encode(), fields.get(key, b""))
    return value.decode() if isinstance(value, bytes) else str(value)
