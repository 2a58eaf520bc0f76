"""Execution-feedback repair rows: the task, a failing attempt, what the
sandbox said about it, then a verified fix from the same problem's kept
solutions, as one multi-turn chat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .export import fenced
from .failures import Failure
from .select import Ranked


def feedback(failure: Failure) -> str:
    """The user turn after a failed attempt: the verdict and the harness's detail
    (for a failed test, its line and the assertion)."""
    detail = failure.detail.strip()[:1500]
    said = f"`{failure.outcome}`" + (f":\n\n```\n{detail}\n```" if detail else ".")
    return f"Running the tests on this program gave {said}\n\nFix the program."


def repair_rows(kept: Mapping[str, Sequence[Ranked]], failing: Mapping[str, Sequence[Failure]],
                users: Mapping[str, str], per_problem: int,
                languages: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for task_id, ranked in kept.items():
        lang = (languages or {}).get(task_id, "python")
        for i, failure in enumerate(failing.get(task_id, ())[:per_problem]):
            fix = ranked[i % len(ranked)]
            rows.append({
                "messages": [{"role": "user", "content": users[task_id]},
                             {"role": "assistant", "content": fenced(failure.code, lang)},
                             {"role": "user", "content": feedback(failure)},
                             {"role": "assistant", "content": fenced(fix.survivor.code, lang)}],
                "task_id": task_id, "attempt_index": failure.index, "fix_index": fix.survivor.index,
                "attempt_outcome": failure.outcome, "attempt_detail": failure.detail[:1000],
            })
    return rows
