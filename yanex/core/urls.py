"""URLs that may carry a password: how they are shown and stored (masked, always)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def mask_password(url: str | None) -> str | None:
    """`redis://:secret@host:6379/0` -> `redis://:***@host:6379/0` (user names are kept).

    Example:
        mask_password("rediss://user:pw@redis.example:6380/1")  # 'rediss://user:***@redis.example:6380/1'
    """
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # unparsable: show nothing rather than a secret
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}:{MASK}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
