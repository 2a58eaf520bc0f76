"""Preference pairs for DPO, in TRL's conversational format: ``prompt`` (the
user turn), ``chosen`` and ``rejected`` (one assistant turn each), plus
metadata columns.

* correctness: a kept (verified, ranked) solution over a failing attempt of
  the same problem, the failure's outcome and detail kept beside it;
* efficiency: two passing, distinct programs (distinct after renaming) where
  re-measurement shows the chosen one faster beyond noise: every run of the
  chosen one is faster than every run of the other, and its median at least
  ``margin`` below.  The same program is never paired with itself, so two
  runs of one program cannot make a pair.

At most ``per_problem`` pairs of each kind per problem, so every problem
weighs the same, whatever the number of its candidates.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .export import fenced
from .failures import Failure
from .neardup import renamed
from .select import Ranked, Survivor

KINDS = ("correctness", "efficiency")


@dataclass(frozen=True)
class Measured:
    survivor: Survivor
    runs: tuple[float, ...]  # CPU seconds of each re-measurement, all passed

    @property
    def median(self) -> float:
        return float(statistics.median(self.runs))

    @property
    def spread(self) -> float:
        """(max - min) / median of its runs: how noisy its measurement was."""
        return (max(self.runs) - min(self.runs)) / self.median if self.median > 0 else 0.0


def _row(kind: str, task_id: str, user: str, chosen: str, rejected: str, **meta: Any) -> dict[str, Any]:
    return {"prompt": [{"role": "user", "content": user}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "kind": kind, "task_id": task_id, **meta}


def correctness_pairs(kept: Mapping[str, Sequence[Ranked]], failing: Mapping[str, Sequence[Failure]],
                      users: Mapping[str, str], per_problem: int,
                      languages: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Kept solutions (best first, in turn) over distinct failing attempts;
    ``languages``: each task's, for the code fences (default python)."""
    rows = []
    for task_id, ranked in kept.items():
        attempts = failing.get(task_id, ())
        lang = (languages or {}).get(task_id, "python")
        for i, failure in enumerate(attempts[:per_problem]):
            best = ranked[i % len(ranked)]
            rows.append(_row("correctness", task_id, users[task_id], fenced(best.survivor.code, lang),
                             fenced(failure.code, lang),
                             chosen_index=best.survivor.index, rejected_index=failure.index,
                             rejected_outcome=failure.outcome, rejected_detail=failure.detail[:1000],
                             chosen_cpu_s=best.cpu_median_s, rejected_cpu_s=None, margin=None,
                             chosen_spread=None, rejected_spread=None))
    return rows


def efficiency_pairs(measured: Mapping[str, Sequence[Measured]], users: Mapping[str, str], per_problem: int,
                     margin: float, languages: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Pairs whose runs do not overlap and whose medians differ by at least
    ``margin`` (a fraction of the slower one's), largest margins first."""
    rows = []
    for task_id, programs in measured.items():
        found = []
        key = {id(m): renamed(m.survivor.code) for m in programs}  # one program with two traces is one program
        for fast in programs:
            for slow in programs:
                if key[id(fast)] == key[id(slow)] or max(fast.runs) >= min(slow.runs):
                    continue
                gap = 1.0 - fast.median / slow.median
                if gap >= margin:
                    found.append((gap, fast, slow))
        found.sort(key=lambda t: (-t[0], t[1].survivor.index, t[2].survivor.index))
        lang = (languages or {}).get(task_id, "python")
        for gap, fast, slow in found[:per_problem]:
            rows.append(_row("efficiency", task_id, users[task_id], fenced(fast.survivor.code, lang),
                             fenced(slow.survivor.code, lang), chosen_index=fast.survivor.index,
                             rejected_index=slow.survivor.index, rejected_outcome="passed", rejected_detail="",
                             chosen_cpu_s=fast.median, rejected_cpu_s=slow.median, margin=round(gap, 4),
                             chosen_spread=round(fast.spread, 4), rejected_spread=round(slow.spread, 4)))
    return rows
