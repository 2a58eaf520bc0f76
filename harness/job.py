"""The unit of work: one problem with a batch of candidate programs.

A job is plain data (``to_dict``/``from_dict`` round-trip through JSON) and
names no backend, so a distributed runner can ship jobs to other machines and
run them with any sandbox backend there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

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
    def from_dict(cls, data: dict[str, Any]) -> "Job":
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


def jobs_from_samples(samples: Iterable[Sample], problems: ProblemSet, limits_for: Any,
                      batch_size: int = 64) -> Iterator[Job]:
    """Groups consecutive samples of the same problem into jobs, streaming
    (memory stays bounded by ``batch_size`` whatever the file's size)."""
    batch: list[Candidate] = []
    current: Problem | None = None
    for sample in samples:
        problem = problems.get(sample.task_id)
        assert problem is not None  # read_samples checked it
        if current is not None and (problem.id != current.id or len(batch) >= batch_size):
            yield make_job(current, limits_for(current), batch)
            batch = []
        current = problem
        batch.append(Candidate(sample.index, problem.program(sample.code, sample.code_field)))
    if current is not None and batch:
        yield make_job(current, limits_for(current), batch)
