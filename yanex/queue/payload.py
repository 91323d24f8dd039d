"""The JSON a yanex RQ job carries: which experiment, in which store, with which code.

Jobs are serialized with RQ's JSONSerializer (never pickle). The payload names the
experiment rather than repeating it: the record in the shared store is the truth.
Where the code comes from is one field, `code`; today its only source is a path on a
shared filesystem. A content-addressed snapshot taken at submit time will be a second
source, handled in `yanex.queue.job.locate_code` and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

VERSION = 1
SHARED_PATH = "shared_path"
JOB_FUNCTION = "yanex.queue.job.run_experiment"


@dataclass
class JobPayload:
    """What a worker needs to find and run one attempt of an experiment."""

    experiment_id: str
    store_id: str
    experiments_dir: str
    events: str
    attempt: int = 1
    code: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobPayload:
        """Validate a payload received from Redis; ValueError says what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"job payload must be a JSON object, got {type(data).__name__}")
        if data.get("version") != VERSION:
            raise ValueError(
                f"job payload version {data.get('version')!r} is not {VERSION}: the client and "
                "the worker run different yanex versions"
            )
        for name in ("experiment_id", "store_id", "experiments_dir", "events"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"job payload field {name!r} is missing or not a string")
        if not isinstance(data.get("attempt"), int) or data["attempt"] < 1:
            raise ValueError("job payload field 'attempt' must be a positive integer")
        code = data.get("code")
        if not isinstance(code, Mapping) or code.get("source") != SHARED_PATH:
            raise ValueError(f"job payload has an unknown code source: {code!r}")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def shared_path_code(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The `code` field for an experiment whose script lives on a shared filesystem."""
    return {
        "source": SHARED_PATH,
        "script_path": metadata.get("script_path"),
        "module": metadata.get("module"),
        "cwd": metadata.get("cwd"),
    }
