"""Memory stays flat as the work grows: ``curate`` over 100,000 synthetic
candidates (HumanEval references, wrong variants and duplicates), reporting
the peak RSS of this process.  Target: under 500 MB.

Usage: python benchmarks/bench_memory.py [--candidates 100000] [--backend fake|docker] [--extras]
``--extras`` adds everything beyond SFT rows: DPO pairs, repair rows, rewards,
MinHash near-duplicates and diversity, MBPP decontamination.
``fake`` (default) scripts the verdicts so the run measures the host-side
pipeline alone in about a minute; ``docker`` runs every candidate for real
(~300/s here, so 100,000 take a few minutes).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.curate import curate  # noqa: E402
from harness.extras import Extras  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.problems import load_problems  # noqa: E402
from harness.sandbox import get_backend  # noqa: E402
from harness.select import Selection  # noqa: E402
from harness.store import ResultStore  # noqa: E402


def write_samples(path: Path, count: int) -> None:
    problems = list(load_problems("humaneval"))
    with open(path, "w") as handle:
        for i in range(count):
            problem = problems[i % len(problems)]
            body = problem.reference_solution[len(problem.prompt):]
            kind = (i // len(problems)) % 4  # every problem gets every kind
            if kind == 3:  # wrong
                body = "    return None\n"
                directive = "# fake: failed cpu=0.001"
            else:
                directive = f"# fake: passed cpu=0.00{1 + i % 7}"
            if kind == 2:  # a distinct but equivalent program: one more survivor to deduplicate
                body += f"\n# variant {i}\n"
            handle.write(json.dumps({"task_id": problem.id, "completion": body + "\n" + directive + "\n",
                                     "model": "synthetic"}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--backend", choices=["fake", "docker"], default="fake")
    parser.add_argument("--extras", action="store_true", help="pairs, repair, rewards, near-dup, decontamination")
    args = parser.parse_args()
    selection = Selection(top_k=2, remeasure=3)
    extras = Extras()
    if args.extras:
        selection = Selection(top_k=2, remeasure=3, near_dup=0.8, diversity=0.8)
        extras = Extras(pairs=True, repair=True, rewards=True, decontaminate=("mbpp",))
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        write_samples(samples, args.candidates)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        inner = get_backend(args.backend)
        store = ResultStore(Path(tmp) / "store.sqlite3")
        started = time.monotonic()
        run = RunOptions(workers=2)  # calibrations in the default cache, as a user's run
        result = curate(samples, load_problems("humaneval"), inner, Path(tmp) / "out",
                        selection, run, store=store, extras=extras)
        elapsed = time.monotonic() - started
        inner.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"backend {args.backend}{' with extras' if args.extras else ''}: {args.candidates:,} candidates in "
          f"{elapsed:.1f} s ({args.candidates / elapsed:,.0f}/s); passed {result.passed:,}, "
          f"unique {result.unique:,}, kept {result.kept}; {result.extras}")
    print(f"peak RSS {peak:.0f} MB (after imports: {baseline:.0f} MB); target < 500 MB: "
          f"{'met' if peak < 500 else 'NOT met'}")


if __name__ == "__main__":
    main()
