"""The unit of work: one problem with a batch of candidate programs.

A job is plain data (``to_dict``/``from_dict`` round-trip through JSON) and
names no backend, so a distributed runner can ship jobs to other machines and
run them with any sandbox backend there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .limits import Limits
from .problems import Problem, ProblemSet
from .samples import Sample


@dataclass(frozen=True)
class Candidate:
    index: int  # the candidate's position in the run's results
    program: str


@dataclass(frozen=True)
class Job:
    problem_id: str
    problem_key: str  # changes whenever anything verdict-relevant changes
    spec: dict[str, Any]
    limits: Limits
    candidates: tuple[Candidate, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "problem_key": self.problem_key,
            "spec": self.spec,
            "limits": self.limits.to_dict(),
            "candidates": [[c.index, c.program] for c in self.candidates],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(
            problem_id=data["problem_id"],
            problem_key=data["problem_key"],
            spec=data["spec"],
            limits=Limits(**data["limits"]),
            candidates=tuple(Candidate(int(i), str(p)) for i, p in data["candidates"]),
        )


def make_job(problem: Problem, limits: Limits, candidates: Iterable[Candidate]) -> Job:
    return Job(problem_id=problem.id, problem_key=f"{problem.id}@{problem.tests_hash}",
               spec=problem.test_spec(), limits=limits, candidates=tuple(candidates))


def jobs_from_samples(samples: Iterable[Sample], problems: ProblemSet, limits_for: Callable[[Problem], Limits],
                      batch_size: int = 64, window: int = 2048) -> Iterator[Job]:
    """Groups samples of the same problem into jobs of at most ``batch_size``.

    Samples are read ``window`` at a time and grouped within it, so a file
    that interleaves problems still yields large jobs (sandboxes are warm per
    problem) while memory stays bounded whatever the file's size."""
    buffered: dict[tuple[str, str], list[Sample]] = {}
    count = 0
    for sample in samples:
        buffered.setdefault((sample.task_id, sample.language), []).append(sample)
        count += 1
        if count >= window:
            yield from _flush(buffered, problems, limits_for, batch_size)
            buffered, count = {}, 0
    yield from _flush(buffered, problems, limits_for, batch_size)


def _flush(buffered: dict[tuple[str, str], list[Sample]], problems: ProblemSet,
           limits_for: Callable[[Problem], Limits], batch_size: int) -> Iterator[Job]:
    for (task_id, language), group in buffered.items():
        problem = problems.get(task_id)
        assert problem is not None  # read_samples checked it
        problem = problem.in_language(language)
        limits = limits_for(problem)
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            yield make_job(problem, limits, (Candidate(s.index, problem.program(s.code, s.code_field)) for s in chunk))
