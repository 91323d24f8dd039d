"""Points in time as people type them: ISO dates and "2 days ago".

Accepted: `now`, `today`, `yesterday` (local midnight), `N UNIT ago` with UNIT one of
seconds, minutes, hours, days, weeks, months (30 days), years (365 days) or their short
forms (`s`, `m`/`min`, `h`, `d`, `w`, `mo`, `y`), and ISO 8601 dates or datetimes (naive
ones are local time). Everything comes back timezone-aware.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from yanex.errors import UsageError

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "mo": 30 * 86400,
    "month": 30 * 86400,
    "y": 365 * 86400,
    "year": 365 * 86400,
}
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s+ago$")
_EXAMPLES = '"2025-01-31", "2025-01-31T14:00", "3 hours ago", "2 days ago", "yesterday"'


def parse_time(text: str, label: str = "time", now: datetime | None = None) -> datetime:
    """A timezone-aware datetime for `text`; UsageError (naming `label`) if unreadable.

    Example:
        parse_time("2 days ago"); parse_time("2025-01-31")
    """
    current = now or datetime.now(timezone.utc).astimezone()
    phrase = " ".join(text.strip().lower().split())
    midnight = current.replace(hour=0, minute=0, second=0, microsecond=0)
    named = {"now": current, "today": midnight, "yesterday": midnight - timedelta(days=1)}
    if phrase in named:
        return named[phrase]
    relative = _RELATIVE.match(phrase)
    if relative and relative.group(2) in _UNITS:
        seconds = float(relative.group(1)) * _UNITS[relative.group(2)]
        return current - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"cannot read {label.replace('_', '-')} {text!r}; use a date or a relative time "
            f"such as {_EXAMPLES}"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()
