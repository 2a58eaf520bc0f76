"""The unbiased pass@k estimator (Chen et al. 2021), numerically stable.

``pass@k = 1 - C(n-c, k) / C(n, k)`` computed as a product, exact (1.0) where
``n - c < k``.  Where a task has fewer than k candidates the figure is not
computable, and reported as ``None`` rather than a wrong number (the bug of
human-eval#35).  Infrastructure failures never enter n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping


def pass_at_k(n: int, c: int, k: int) -> float | None:
    """The probability that at least one of k draws (without replacement)
    from n candidates, c of them correct, is correct; None when k > n."""
    if not (0 <= c <= n) or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1 (got n={n}, c={c}, k={k})")
    if k > n:
        return None
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def pass_at_k_table(counts: Mapping[str, tuple[int, int]], ks: Iterable[int]) -> dict[str, float | None]:
    """Mean pass@k over tasks, per k; None for a k that some task cannot support."""
    table: dict[str, float | None] = {}
    tasks = [(n, c) for n, c in counts.values() if n > 0]
    for k in ks:
        values = [pass_at_k(n, c, k) for n, c in tasks]
        if not values or any(v is None for v in values):
            table[str(k)] = None
        else:  # fsum: the same figure whatever order the tasks finished in
            table[str(k)] = math.fsum(v for v in values if v is not None) / len(values)
    return table
