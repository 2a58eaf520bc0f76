"""Every error the harness raises on purpose, in one tree::

    HarnessError                  base: a one-line message a user can act on
    ├── InputError                bad user input: exit 2
    │   ├── ProblemError          a problem set or problem is broken, unknown or cannot be loaded
    │   ├── SampleError           a samples line is malformed or names no problem
    │   └── ConfigError           a bad option: a flag, an argument, a corpus.toml field
    │       └── LimitsError       a resource limit that is not positive or not known
    │                             (also a ValueError)
    ├── SandboxError              the sandbox, not the candidate, failed: exit 3
    │   ├── PrerequisiteError     no engine / no image (at the start, or for longer than
    │   │                         the run waits for it mid-run): says how to fix it
    │   ├── ImageBuildError       ``harness sandbox build`` failed
    │   └── InfraError            a container or its supervisor broke mid-run;
    │                             the candidate is retried, never scored
    ├── StoreError                the result store (SQLite) cannot be opened, read or written: exit 5
    ├── OutputError               results, a dataset or a report cannot be written
    │                             (a full disk, a read-only folder): exit 6
    └── HubError                  the Hugging Face hub is unreachable or refused a push: exit 7

The command line maps each class to its exit status in one table
(``harness.cli.EXIT_CODES``); catch the leaves, or a branch, rather than the
base class.  A problem set that cannot be fetched from the hub is a
``ProblemError``: the run cannot start without it, and the message says how to
work offline.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class HarnessError(Exception):
    """Base class; ``str(error)`` is a complete one-line message."""


class InputError(HarnessError):
    """Bad input: the message names the file (and line) or the option at fault."""


class ProblemError(InputError):
    """A problem set or one problem in it cannot be used."""


class SampleError(InputError):
    """A samples file line cannot be evaluated."""


class ConfigError(InputError):
    """An option is out of range or contradicts another (a command-line flag, a
    function argument, a field of corpus.toml); raised before any work starts."""


class LimitsError(ConfigError, ValueError):
    """A resource limit that is not a positive number, or not a known limit."""


class SandboxError(HarnessError):
    """Something outside the candidate's control went wrong."""


class PrerequisiteError(SandboxError):
    """The Docker engine or the sandbox image is missing (or went away and
    did not come back in time)."""


class ImageBuildError(SandboxError):
    """Building the sandbox image failed."""


class InfraError(SandboxError):
    """A sandbox failed while running a candidate (retried, never scored).

    ``completed`` carries the results of a batch's candidates that finished
    before the failure, so that they are neither lost nor run again."""

    def __init__(self, message: str, completed: list[Any] | None = None) -> None:
        super().__init__(message)
        self.completed: list[Any] = completed or []


class StoreError(HarnessError):
    """The result store cannot be opened, read, written or pruned."""


class OutputError(HarnessError):
    """A result, dataset or report file cannot be written."""


class HubError(HarnessError):
    """The Hugging Face hub cannot be reached or refused the request."""


@contextmanager
def writing(path: str | Path, what: str, hint: str = "") -> Iterator[None]:
    """Turns an ``OSError`` raised inside the block into one ``OutputError``
    line: ``PATH: cannot write WHAT (reason)[; hint]``."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OutputError(f"{path}: cannot write {what} ({reason}){'; ' + hint if hint else ''}") from None


def optional_module(name: str, extra: str, needed_for: str) -> Any:
    """An optional dependency, or one ConfigError saying which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(f"{needed_for} needs {name}: pip install 'harness[{extra}]'") from None
