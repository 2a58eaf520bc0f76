"""Per-problem time limits from the reference solutions' measured CPU time.

The measurement runs in the same sandbox as the candidates and is cached per
(problem tests, sandbox identity) in a JSON file (``CacheLocation.calibration``:
``$HARNESS_CACHE/calibration.json``, default ``~/.cache/harness``), so it is
paid once per machine and image.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from .job import Candidate, make_job
from .limits import MEASURE_CPU_S, Limits, scaled_time_limits
from .outcome import Execution
from .problems import CodeField, Problem
from .run import Runner


class Calibration:
    """Reference CPU seconds per problem key, persisted as JSON in ``path``
    (one entry per sandbox identity)."""

    def __init__(self, identity: str, path: str | Path) -> None:
        self.identity = identity
        self.path = Path(path)
        self.data: dict[str, float] = {}
        try:
            loaded = json.loads(self.path.read_text())
            self.data = {k: float(v) for k, v in loaded.get(identity, {}).items()}
        except (OSError, ValueError, AttributeError):
            self.data = {}

    @staticmethod
    def key(problem: Problem) -> str:
        return f"{problem.id}@{problem.tests_hash}"

    def reference_cpu(self, problem: Problem) -> float | None:
        return self.data.get(self.key(problem))

    def missing(self, problems: Iterable[Problem]) -> list[Problem]:
        return [p for p in problems if p.reference_solution and self.key(p) not in self.data]

    def measure(self, runner: Runner, problems: list[Problem], repeats: int = 1, limits: Limits | None = None,
                on_result: Callable[[Execution], None] | None = None) -> dict[str, list[Execution]]:
        """Runs each reference ``repeats`` times and stores the median CPU
        time of problems whose every run passed.  Returns all executions."""
        floor = limits or Limits(cpu_time_s=MEASURE_CPU_S, wall_time_s=3 * MEASURE_CPU_S)
        jobs = [make_job(p, floor, [Candidate(i * repeats + r, p.program(p.reference_solution, CodeField.SOLUTION))
                                    for r in range(repeats)])
                for i, p in enumerate(problems)]
        runs: dict[str, list[Execution]] = {p.id: [] for p in problems}
        for index, execution in runner.run(jobs):
            runs[problems[index // repeats].id].append(execution)
            if on_result is not None:
                on_result(execution)
        for problem in problems:
            executions = runs[problem.id]
            if executions and all(e.passed for e in executions):
                times = sorted(e.cpu_time_s for e in executions)
                self.data[self.key(problem)] = times[len(times) // 2]
        self.save()
        return runs

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                everything = json.loads(self.path.read_text())
            except (OSError, ValueError):
                everything = {}
            everything[self.identity] = self.data
            with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False) as handle:
                json.dump(everything, handle, sort_keys=True)
            os.replace(handle.name, self.path)
        except OSError:
            pass  # a read-only home only costs a re-measurement next time


def limits_resolver(base: Limits, calibration: Calibration | None,
                    overrides: Mapping[str, float]) -> Callable[[Problem], Limits]:
    """Limits of a problem: the run's base, scaled time limits from its
    reference, the problem's own overrides, then the user's flags."""

    def resolve(problem: Problem) -> Limits:
        ref = calibration.reference_cpu(problem) if calibration else None
        limits = base.with_overrides(scaled_time_limits(ref))
        return limits.with_overrides(problem.limits).with_overrides(overrides)

    return resolve
