"""Resource limits, and how per-problem time limits are derived.

Time is limited by CPU time (user+sys of the candidate's whole process tree),
so a verdict does not depend on how loaded the machine is; a generous
wall-clock limit only catches candidates that sleep or block.  The default CPU
limit of a problem scales with its reference solution's measured CPU time,
with a floor (the EvalPlus rule: ``max(floor, factor * reference)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import LimitsError

CPU_FLOOR_S = 3.0
# A reference is measured with room above the floor: a run cut off at the
# floor could never raise the limit (MBPP/123 needs 1.4-3 s, by host speed).
MEASURE_CPU_S = 20.0
CPU_FACTOR = 4.0
WALL_FLOOR_S = 10.0
WALL_FACTOR = 3.0

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Per-candidate limits (time, output, files) and per-container ones
    (memory, processes, scratch space), all enforced inside the sandbox."""

    cpu_time_s: float = CPU_FLOOR_S
    wall_time_s: float = WALL_FLOOR_S
    memory_bytes: int = 1024 * MiB
    output_bytes: int = 8 * MiB
    file_size_bytes: int = 16 * MiB
    open_files: int = 256
    pids: int = 128
    scratch_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        """Raises LimitsError (an InputError, and a ValueError) for a limit
        that is not a positive, finite number."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise LimitsError(f"limit {f.name} must be a positive number, not {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> Limits:
        """Returns a copy with the given fields replaced.

        Raises:
            LimitsError: an unknown limit, or a value that is not positive.
        """
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise LimitsError(f"unknown limit(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(self, **dict(overrides))

    def container_key(self) -> tuple[int, int, int]:
        """The part fixed when a container is created."""
        return (self.memory_bytes, self.pids, self.scratch_bytes)


def scaled_time_limits(reference_cpu_s: float | None) -> dict[str, float]:
    """CPU and wall limits for a problem whose reference needs ``reference_cpu_s``."""
    ref = reference_cpu_s or 0.0
    cpu = max(CPU_FLOOR_S, math.ceil(CPU_FACTOR * ref * 10) / 10)
    return {"cpu_time_s": cpu, "wall_time_s": max(WALL_FLOOR_S, WALL_FACTOR * cpu)}
