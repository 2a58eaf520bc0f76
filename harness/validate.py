"""``harness problems validate``: every reference solution must pass, every time.

Each reference runs ``repeats`` times in the sandbox.  A problem whose
reference never passes is *broken* (its tests or its reference are wrong, or
the sandbox lacks something it needs); one whose outcomes differ between runs
is *flaky*.  The passing runs also calibrate the problem's time limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .calibrate import Calibration
from .outcome import Execution, Outcome
from .problems import Problem, TestKind
from .run import Runner


@dataclass(frozen=True)
class ProblemCheck:
    problem_id: str
    outcomes: tuple[Outcome, ...]
    median_cpu_s: float
    detail: str
    passes_shared: bool = False  # broken split, but its reference passes with test_isolation shared

    @property
    def status(self) -> str:
        if not self.outcomes:
            return "no-reference"
        if self.passes_shared:
            return "needs-shared"
        kinds = set(self.outcomes)
        if kinds == {Outcome.PASSED}:
            return "ok"
        if Outcome.INFRA_ERROR in kinds:
            return "infra"
        if Outcome.PASSED in kinds:
            return "flaky"
        return "broken"


def shared_rescue(problems: list[Problem], runs: dict[str, list[Execution]], runner: Runner,
                  calibration: Calibration) -> set[str]:
    """Problems whose reference never passed split but passes with the tests
    in its own process (mock.patch, library objects): they need
    ``test_isolation: shared``, and validation says so."""
    candidates = [replace(p, test_isolation="shared") for p in problems
                  if p.reference_solution and p.test_isolation == "split" and p.test_kind is not TestKind.IO_PAIRS
                  and p.test_kind is not TestKind.STDIN_STDOUT
                  and runs.get(p.id) and not any(e.passed for e in runs[p.id])]
    if not candidates:
        return set()
    again = calibration.measure(runner, candidates, repeats=1)  # keyed apart: the spec says shared
    return {problem_id for problem_id, executions in again.items() if executions and all(e.passed for e in executions)}


def validate_problems(problems: Iterable[Problem], runner: Runner, calibration: Calibration,
                      repeats: int = 3, on_result: Callable[[Execution], None] | None = None) -> list[ProblemCheck]:
    problems = list(problems)
    with_reference = [p for p in problems if p.reference_solution]
    runs = calibration.measure(runner, with_reference, repeats=repeats, on_result=on_result)
    shared = shared_rescue(problems, runs, runner, calibration)
    checks = []
    for problem in problems:
        executions: list[Execution] = runs.get(problem.id, [])
        times = sorted(e.cpu_time_s for e in executions)
        failing = [e.detail for e in executions if not e.passed]
        checks.append(ProblemCheck(
            problem_id=problem.id,
            outcomes=tuple(e.outcome for e in executions),
            median_cpu_s=times[len(times) // 2] if times else 0.0,
            detail=failing[0] if failing else "",
            passes_shared=problem.id in shared))
    return checks
