"""Every error the harness raises on purpose, in one tree::

    HarnessError                 base: a one-line message a user can act on
    ├── InputError               bad user input; names the file and line
    │   ├── ProblemError         a problem definition is broken or unknown
    │   └── SampleError          a samples line is malformed or names no problem
    └── SandboxError             the sandbox, not the candidate, failed
        ├── PrerequisiteError    no engine / no image: says how to fix it
        ├── ImageBuildError      ``harness sandbox build`` failed
        └── InfraError           a container or its supervisor broke mid-run;
                                 the candidate is retried, never scored
"""

from __future__ import annotations

from typing import Any


class HarnessError(Exception):
    """Base class; ``str(error)`` is a complete one-line message."""


class InputError(HarnessError):
    """Bad input: the message names the file (and line) at fault."""


class ProblemError(InputError):
    """A problem set or one problem in it cannot be used."""


class SampleError(InputError):
    """A samples file line cannot be evaluated."""


class SandboxError(HarnessError):
    """Something outside the candidate's control went wrong."""


class PrerequisiteError(SandboxError):
    """The Docker engine or the sandbox image is missing."""


class ImageBuildError(SandboxError):
    """Building the sandbox image failed."""


class InfraError(SandboxError):
    """A sandbox failed while running a candidate (retried, never scored).

    ``completed`` carries the results of a batch's candidates that finished
    before the failure, so that they are neither lost nor run again."""

    def __init__(self, message: str, completed: list[Any] | None = None) -> None:
        super().__init__(message)
        self.completed: list[Any] = completed or []
