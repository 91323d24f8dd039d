"""Timestamps as stored in metadata: ISO 8601, timezone-aware UTC.

Records written by the original yanex carry naive local times; `parse` reads both.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> str:
    """The current time as an ISO 8601 UTC string."""
    return datetime.now(timezone.utc).isoformat()


def parse(value: object) -> datetime | None:
    """Parse a stored timestamp; naive values (original yanex) are taken as local time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # naive = local time of the machine that wrote it
    return parsed


def seconds_between(start: object, end: object) -> float | None:
    """Seconds from `start` to `end` (both stored timestamps), or None if either is missing."""
    first, last = parse(start), parse(end)
    if first is None or last is None:
        return None
    return (last - first).total_seconds()
