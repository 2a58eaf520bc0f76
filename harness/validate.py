"""``harness problems validate``: every reference solution must pass, every time.

Each reference runs ``repeats`` times in the sandbox.  A problem whose
reference never passes is *broken* (its tests or its reference are wrong, or
the sandbox lacks something it needs); one whose outcomes differ between runs
is *flaky*.  The passing runs also calibrate the problem's time limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .calibrate import Calibration
from .outcome import Execution, Outcome
from .problems import Problem
from .run import Runner


@dataclass(frozen=True)
class ProblemCheck:
    problem_id: str
    outcomes: tuple[Outcome, ...]
    median_cpu_s: float
    detail: str

    @property
    def status(self) -> str:
        if not self.outcomes:
            return "no-reference"
        kinds = set(self.outcomes)
        if kinds == {Outcome.PASSED}:
            return "ok"
        if Outcome.INFRA_ERROR in kinds:
            return "infra"
        if Outcome.PASSED in kinds:
            return "flaky"
        return "broken"


def validate_problems(problems: Iterable[Problem], runner: Runner, calibration: Calibration,
                      repeats: int = 3, on_result: Callable[[Execution], None] | None = None) -> list[ProblemCheck]:
    problems = list(problems)
    with_reference = [p for p in problems if p.reference_solution]
    runs = calibration.measure(runner, with_reference, repeats=repeats, on_result=on_result)
    checks = []
    for problem in problems:
        executions: list[Execution] = runs.get(problem.id, [])
        times = sorted(e.cpu_time_s for e in executions)
        failing = [e.detail for e in executions if not e.passed]
        checks.append(ProblemCheck(
            problem_id=problem.id,
            outcomes=tuple(e.outcome for e in executions),
            median_cpu_s=times[len(times) // 2] if times else 0.0,
            detail=failing[0] if failing else ""))
    return checks
