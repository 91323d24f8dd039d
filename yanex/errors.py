"""Every error yanex raises on purpose, in one tree.

```
YanexError                      exit 1   the root: the CLI prints its message on one line
├── UsageError                  exit 2   bad input on the command line or in a spec
│   ├── ParameterError          exit 2   a --param, a sweep expression, a dotted key
│   ├── ConfigError             exit 2   a config file: missing, unparsable, wrong shape, cycle
│   └── AmbiguousIdError        exit 2   an id prefix or name that matches several experiments
├── ExperimentNotFoundError     exit 1   no experiment by that id, prefix or name
├── ExperimentContextError      exit 1   an API call in the wrong context (inside/outside a run)
├── StatusTransitionError       exit 1   a status change the status machine forbids
├── StoreError                  exit 1   the experiments directory cannot be used
├── ArtifactError               exit 1   an artifact name that escapes the artifacts directory
├── DependencyError             exit 1   unknown, failed or cyclic experiment dependencies
└── QueueError                  exit 1   Redis / RQ problems
    └── QueueUnavailableError   exit 1   Redis cannot be reached
```

The library raises these and never prints or exits; `yanex.cli.main` turns them into a
one-line message and the exit code in one place. A message says what failed, on what,
and what to do.
"""

from __future__ import annotations


class YanexError(Exception):
    """Root of every error yanex raises deliberately."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(YanexError, ValueError):
    """Invalid input from the user: a flag, a spec, a value."""

    exit_code = 2


class ParameterError(UsageError):
    """A `--param` override, sweep expression or dotted key that cannot be used."""


class ConfigError(UsageError):
    """A configuration file that is missing, does not parse or has the wrong shape."""


class AmbiguousIdError(UsageError):
    """An id prefix or name that matches more than one experiment."""


class ExperimentNotFoundError(YanexError, LookupError):
    """No experiment matches the given id, prefix or name."""


class ExperimentContextError(YanexError):
    """A run-API call made where it cannot work (e.g. nested inside `yanex run`)."""


class StatusTransitionError(YanexError):
    """A status change that the status machine does not allow."""


class StoreError(YanexError):
    """The experiments directory is unusable (unwritable, wrong store, corrupt record)."""


class ArtifactError(YanexError, ValueError):
    """An artifact name that would escape the experiment's artifacts directory."""


class DependencyError(YanexError):
    """Experiment dependencies that are unknown, unusable or cyclic."""


class QueueError(YanexError):
    """A problem talking to Redis or RQ."""


class QueueUnavailableError(QueueError):
    """Redis cannot be reached at the configured URL."""
