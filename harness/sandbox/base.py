"""The backend-independent sandbox interface.

A *backend* (registered by name) knows how to check its prerequisites and how
to open *sessions*.  A session is one worker's handle on sandboxes: it runs
one candidate at a time and decides itself when to replace the sandbox under
it (after N candidates, after an anomaly, always, ...).  The runner only sees
this interface, so a distributed runner can ship the same jobs elsewhere.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..limits import Limits
from ..outcome import Execution

_BACKENDS: dict[str, Callable[..., Backend]] = {}


def register_backend(name: str) -> Callable[[Callable[..., Backend]], Callable[..., Backend]]:
    """Class decorator: makes a backend available as ``get_backend(name)``."""

    def decorate(factory: Callable[..., Backend]) -> Callable[..., Backend]:
        _BACKENDS[name] = factory
        return factory

    return decorate


def get_backend(name: str, **options: Any) -> Backend:
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r}; known: {', '.join(sorted(_BACKENDS))}") from None
    return factory(**options)


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


class Session(abc.ABC):
    """One worker's sandbox: runs candidates one after another."""

    @abc.abstractmethod
    def run(self, problem_key: str, spec: Mapping[str, Any], programs: Sequence[str],
            limits: Limits) -> list[Execution]:
        """Runs programs, in order, against the test ``spec`` of one problem.

        May return results for a prefix only (e.g. the sandbox was retired
        after an anomaly); the caller schedules the rest again.

        Raises:
            InfraError: the sandbox broke; ``error.completed`` holds the
                executions of the programs that finished before it did.
        """

    @abc.abstractmethod
    def reset(self) -> None:
        """Discards the current sandbox (after an infra error)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Destroys every sandbox this session holds.  Idempotent."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Backend(abc.ABC):
    name: str = "abstract"

    @abc.abstractmethod
    def check(self) -> list[str]:
        """Returns what is missing, each item saying how to fix it; empty when ready."""

    @abc.abstractmethod
    def open_session(self, limits: Limits) -> Session:
        """A new session whose sandboxes are created with ``limits``."""

    def identity(self) -> str:
        """What a verdict depends on besides code and tests (e.g. the image digest)."""
        return self.name

    def status(self) -> str:
        """A short live line for the progress bar (a cluster's per-node throughput)."""
        return ""

    def capacity(self) -> int | None:
        """Sandboxes it can run at once, when it knows (a cluster does); workers=0 takes this."""
        return None

    def prepare(self, limits: Limits, sessions: int) -> None:  # noqa: B027 (optional)
        """Hints that ``sessions`` sessions with ``limits`` will open soon: a
        backend may start their sandboxes now, in the background, while the
        caller reads its inputs.  Best effort; never raises."""

    def close(self) -> None:  # noqa: B027 (optional: most backends hold nothing shared)
        """Releases shared resources (prefetched sandboxes, clients)."""
