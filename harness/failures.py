"""The failing attempts a curate run keeps for preference pairs and repair rows.

One streaming pass over ``evaluated.jsonl`` keeps, per problem, a bounded,
varied set of distinct failing programs: the first of each outcome, then
input order.  Infrastructure and problem errors say nothing about a program
and are never kept; a truncated reply has no program.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .neardup import renamed
from .outcome import Outcome
from .problems import CodeField, ProblemSet

NOT_ATTEMPTS = {Outcome.PASSED.value, Outcome.INFRA_ERROR.value, Outcome.PROBLEM_ERROR.value,
                Outcome.TRUNCATED.value}


@dataclass(frozen=True)
class Failure:
    index: int  # its row in evaluated.jsonl
    task_id: str
    code: str  # the whole solution, as the sandbox ran it minus the preamble
    outcome: str
    detail: str


def failures(results: Path, problems: ProblemSet, per_problem: int) -> dict[str, list[Failure]]:
    kept: dict[str, list[Failure]] = {}
    seen: dict[str, set[str]] = {}
    with open(results, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            outcome = str(row.get("outcome"))
            problem = problems.get(str(row.get("task_id")))
            if outcome in NOT_ATTEMPTS or problem is None:
                continue
            code_field = CodeField.SOLUTION if "solution" in row else CodeField.COMPLETION
            text = problem.program(str(row.get(code_field.value) or ""), code_field)[len(problem.preamble):]
            digest = hashlib.sha256(renamed(text).encode()).hexdigest()
            if digest in seen.setdefault(problem.id, set()):
                continue
            seen[problem.id].add(digest)
            failure = Failure(index, problem.id, text, outcome, str(row.get("detail") or ""))
            pool = kept.setdefault(problem.id, [])
            if len(pool) < per_problem:
                pool.append(failure)
            elif outcome not in {f.outcome for f in pool}:
                # a new kind of failure replaces the latest of an outcome already held twice
                for i in range(len(pool) - 1, -1, -1):
                    if sum(f.outcome == pool[i].outcome for f in pool) > 1:
                        pool[i] = failure
                        break
    return kept
