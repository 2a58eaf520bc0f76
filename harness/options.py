"""Options shared by the stages that run candidates, each group one frozen object.

``RunOptions`` says how candidates run (workers, limits, retries,
calibration); ``CacheLocation`` says where calibrations and the result store
live.  Both are built once (by the command line from its flags, by a library
caller directly) and passed down explicitly; their fields are checked when
they are made, so a bad value stops a command before any work starts.

``$HARNESS_CACHE`` is read in one place only: ``CacheLocation.default()``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .limits import Limits

CACHE_ENV = "HARNESS_CACHE"


@dataclass(frozen=True)
class CacheLocation:
    """Where time-limit calibrations (``calibration.json``) and, unless
    ``store_file`` says otherwise, the result store (``results.sqlite3``) live."""

    directory: Path
    store_file: Path | None = None

    @classmethod
    def default(cls, store_file: str | Path | None = None) -> CacheLocation:
        """``$HARNESS_CACHE``, else ``~/.cache/harness``."""
        env = os.environ.get(CACHE_ENV)
        directory = Path(env) if env else Path.home() / ".cache" / "harness"
        return cls(directory, Path(store_file) if store_file else None)

    @classmethod
    def beside(cls, store_file: str | Path) -> CacheLocation:
        """Calibrations kept in the store's folder, so one CI cache entry keeps both."""
        store = Path(store_file)
        return cls(store.parent, store)

    @property
    def results(self) -> Path:
        """The result store file."""
        return self.store_file or self.directory / "results.sqlite3"

    @property
    def calibration(self) -> Path:
        """The calibration file."""
        return self.directory / "calibration.json"


def _positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


@dataclass(frozen=True)
class RunOptions:
    """How candidates are run, whatever the command.

    ``limits`` are the run's base limits (the per-container ones, memory,
    processes and scratch space, are fixed by them); per problem, time limits
    scaled from the reference solution (with ``calibrate``) replace the base
    ones, then the problem's own overrides apply, then ``limit_overrides``
    (the user's flags) win.
    """

    workers: int = 2  # 0: as many as the backend has sandbox slots (a Ray cluster's)
    limits: Limits = field(default_factory=Limits)
    limit_overrides: Mapping[str, float] = field(default_factory=dict)
    calibrate: bool = True
    cache: CacheLocation = field(default_factory=CacheLocation.default)
    isolation: str = "process"  # what the summary records; the backend is made with it
    max_attempts: int = 3  # per candidate, on infrastructure errors
    retry_backoff_s: float = 0.5  # times the attempt number
    chunk_size: int = 8  # candidates handed to a worker at a time
    backend_wait_s: float = 60.0  # for a stopped or restarting engine, before giving up

    def __post_init__(self) -> None:
        """Raises ConfigError (LimitsError for limits) naming the bad field."""
        for name in ("workers", "max_attempts", "chunk_size"):
            value = getattr(self, name)
            least = 0 if name == "workers" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} must be a whole number >= {least}, not {value!r}")
        for name in ("retry_backoff_s", "backend_wait_s"):
            value = getattr(self, name)
            if not (_positive_number(value) or value == 0):
                raise ConfigError(f"{name} must be a number >= 0, not {value!r}")
        if not isinstance(self.limits, Limits):
            raise ConfigError(f"limits must be a Limits, not {type(self.limits).__name__}")
        self.limits.with_overrides(self.limit_overrides)  # unknown or non-positive: LimitsError
