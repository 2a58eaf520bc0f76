"""Rewards for RL: one row per judged candidate, streamed from evaluated.jsonl.

``reward`` is the fraction of test cases passed where a problem has cases
(stdin/stdout, call-based I/O pairs), else 1.0 for a pass and 0.0 for
anything else; candidates whose verdict says nothing about them
(infra_error, problem_error) get no reward (None) and should be skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .outcome import Outcome

NO_VERDICT = {Outcome.INFRA_ERROR.value, Outcome.PROBLEM_ERROR.value}


def reward_rows(results: Path, skip: set[str] | None = None) -> Iterator[dict[str, Any]]:
    """``skip``: task ids to leave out (contaminated problems)."""
    with open(results, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            task_id, outcome = str(row.get("task_id")), str(row.get("outcome"))
            if skip and task_id in skip:
                continue
            passed, total = row.get("tests_passed"), row.get("tests_total")
            if outcome in NO_VERDICT:
                reward = None
            elif isinstance(total, int) and total > 0 and isinstance(passed, int):
                reward = passed / total
            else:
                reward = 1.0 if outcome == Outcome.PASSED.value else 0.0
            yield {"task_id": task_id, "sample_index": index, "outcome": outcome,
                   "passed": outcome == Outcome.PASSED.value, "reward": reward,
                   "tests_passed": passed if isinstance(passed, int) else None,
                   "tests_total": total if isinstance(total, int) else None,
                   "cpu_time_s": float(row.get("cpu_time_s") or 0.0),
                   "peak_memory_bytes": int(row.get("peak_memory_bytes") or 0),
                   "code_length": int(row.get("code_length") or 0)}
