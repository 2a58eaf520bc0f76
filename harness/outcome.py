"""What one candidate's execution produced."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from . import protocol


class Outcome(str, enum.Enum):
    """The verdict taxonomy.  Only ``PASSED`` counts as correct.  Two
    outcomes are not about the candidate at all and are left out of pass@k:
    ``INFRA_ERROR`` (the sandbox failed: retried) and ``PROBLEM_ERROR`` (the
    problem's tests cannot run with any candidate, or hand it a value the
    harness cannot carry: reported, not retried)."""

    PASSED = protocol.PASSED
    FAILED = protocol.FAILED  # a test assertion failed or a result was wrong
    ERROR = protocol.ERROR  # the candidate raised, crashed, exited, flooded output or broke the protocol
    SYNTAX_ERROR = protocol.SYNTAX_ERROR
    TIMEOUT = protocol.TIMEOUT  # CPU-time or wall-clock limit
    MEMORY_EXCEEDED = protocol.MEMORY_EXCEEDED
    INFRA_ERROR = protocol.INFRA_ERROR
    PROBLEM_ERROR = protocol.PROBLEM_ERROR
    TRUNCATED = protocol.TRUNCATED  # the reply had no answer (cut by the generator's token limit): not run

    @property
    def is_verdict(self) -> bool:
        """True when the outcome says something about the candidate."""
        return self not in (Outcome.INFRA_ERROR, Outcome.PROBLEM_ERROR)


@dataclass(frozen=True)
class Execution:
    """The measured result of running one candidate once."""

    outcome: Outcome
    detail: str = ""
    cpu_time_s: float = 0.0
    wall_time_s: float = 0.0
    peak_memory_bytes: int = 0
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    attempts: int = 1
    test_outcomes: tuple[str, ...] = ()  # per test case, for kinds that have cases
    cached: bool = False  # answered by the result store, not executed in this run

    @property
    def tests_passed(self) -> int:
        return sum(1 for t in self.test_outcomes if t == Outcome.PASSED.value)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @classmethod
    def from_agent(cls, reply: dict[str, Any]) -> Execution:
        """Builds an execution from the in-sandbox supervisor's reply."""
        return cls(
            outcome=Outcome(reply["outcome"]),
            detail=str(reply.get("detail", "")),
            cpu_time_s=float(reply.get("cpu_time_s", 0.0)),
            wall_time_s=float(reply.get("wall_time_s", 0.0)),
            peak_memory_bytes=int(reply.get("peak_memory_bytes", 0)),
            stdout_bytes=int(reply.get("stdout_bytes", 0)),
            stderr_bytes=int(reply.get("stderr_bytes", 0)),
            test_outcomes=tuple(str(t) for t in reply.get("tests") or ()),
        )

    @classmethod
    def infra(cls, detail: str, attempts: int = 1) -> Execution:
        return cls(outcome=Outcome.INFRA_ERROR, detail=detail, attempts=attempts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["passed"] = self.passed
        data["test_outcomes"] = list(self.test_outcomes)
        if self.test_outcomes:
            data["tests_passed"] = self.tests_passed
            data["tests_total"] = len(self.test_outcomes)
        return data
