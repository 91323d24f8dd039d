"""JSON files that readers never see half-written, and values that always serialize.

Writes go to a temporary file in the same directory, are flushed, then `os.replace`d
over the target, so a concurrent reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any

# JSON has no NaN or infinities; they are stored as these strings and read back as floats.
NAN = "NaN"
POS_INF = "Infinity"
NEG_INF = "-Infinity"
_SPECIAL_FLOATS = {NAN: math.nan, POS_INF: math.inf, NEG_INF: -math.inf}


def write_json(path: Path, data: Any, *, indent: int | None = 2) -> None:
    """Write `data` as JSON to `path` atomically (temp file + os.replace)."""
    text = json.dumps(data, indent=indent, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, with the permissions the umask gives new files."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, with the permissions the umask gives new files."""
    fd, tmp = _scratch_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _scratch_file(path: Path) -> tuple[int, str]:
    """Create a hidden temporary file next to `path`; return its descriptor and name.

    Not `tempfile.mkstemp`: its files are private (0600), and a store on a shared
    filesystem is read by other users (clients and workers).
    """
    for _ in range(100):
        name = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {path}")


def read_json(path: Path) -> Any:
    """Read a JSON file written by `write_json`."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def jsonable(value: Any, key: str = "value") -> Any:
    """Return `value` converted to plain JSON types, or raise TypeError naming `key`.

    NaN and infinities become the strings "NaN", "Infinity", "-Infinity"; numpy and
    torch scalars/arrays become Python numbers/lists (via `.tolist()`); tuples become
    lists; paths and datetimes become strings.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (PurePath, datetime, date)):
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.split(".")[0] in ("numpy", "torch"):
        return jsonable(tolist(), key)
    raise TypeError(
        f"cannot store {key!r}: a value of type {type(value).__name__} is not JSON-serializable "
        "(use numbers, strings, booleans, lists or dicts)"
    )


def restore_floats(value: Any) -> Any:
    """Undo `jsonable`'s encoding of NaN and infinities, recursively."""
    if isinstance(value, str):
        return _SPECIAL_FLOATS.get(value, value)
    if isinstance(value, dict):
        return {k: restore_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [restore_floats(v) for v in value]
    return value


def _float(value: float) -> float | str:
    if math.isnan(value):
        return NAN
    if math.isinf(value):
        return POS_INF if value > 0 else NEG_INF
    return float(value)
