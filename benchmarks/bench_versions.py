"""Throughput of two versions of harness, side by side, in one run.

Each version is exported with ``git archive`` and run as ``python -m harness
evaluate --no-cache`` on the same candidates, in alternating rounds (A B A
B ...) so that a change in machine load hits both alike.  Workloads: the
164 HumanEval references x 5, and the 1,640 real GPT-3.5 HumanEval samples
bundled in problems/samples (wrong answers, errors and timeouts included).

Usage: python benchmarks/bench_versions.py [--before REV] [--after REV|WORKTREE] [--rounds 2]
Needs: the sandbox image (harness sandbox build).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.problems import load_problems  # noqa: E402


def export(rev: str, into: Path) -> Path:
    """A copy of ``rev`` (or of the working tree for WORKTREE) to run from."""
    into.mkdir(parents=True)
    if rev == "WORKTREE":
        for name in ("harness", "problems", "sandboxes"):
            shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        return into
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "harness", "problems", "sandboxes"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def reference_samples(path: Path, copies: int) -> int:
    problems = list(load_problems("humaneval"))
    with open(path, "w") as handle:
        for _ in range(copies):
            for problem in problems:
                handle.write(json.dumps({"task_id": problem.id,
                                         "completion": problem.reference_solution[len(problem.prompt):]}) + "\n")
    return copies * len(problems)


def real_samples(path: Path) -> int:
    with gzip.open(ROOT / "problems/samples/humaneval_gpt35_n10.jsonl.gz", "rt") as source:
        lines = source.read().splitlines()
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def evaluate(tree: Path, samples: Path, out: Path, cache: Path, workers: int) -> tuple[float, dict]:
    summary = out.with_suffix(".summary.json")
    env = dict(os.environ, PYTHONPATH=str(tree), HARNESS_CACHE=str(cache))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--problems", "humaneval",
                    "--out", str(out), "--summary-json", str(summary), "--workers", str(workers),
                    "--quiet", "--k", "1", "--no-cache"],
                   check=True, stdout=subprocess.DEVNULL, env=env, cwd=tree)
    return time.perf_counter() - started, json.loads(summary.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="2163e6c", help="git revision (default: before issue 14)")
    parser.add_argument("--after", default="WORKTREE", help="git revision, or WORKTREE (default)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        trees = {name: export(rev, tmpdir / name) for name, rev in (("before", args.before), ("after", args.after))}
        workloads = {"references x5": (tmpdir / "refs.jsonl", reference_samples(tmpdir / "refs.jsonl", 5)),
                     "gpt-3.5 samples": (tmpdir / "real.jsonl", real_samples(tmpdir / "real.jsonl"))}
        print(f"before={args.before} after={args.after}, {os.cpu_count()} cores, {args.rounds} rounds", flush=True)
        times: dict[tuple[str, str], list[float]] = {}
        outcomes: dict[tuple[str, str], dict] = {}
        for name, tree in trees.items():  # calibration and warm-up, not timed
            evaluate(tree, workloads["references x5"][0], tmpdir / f"warm-{name}.jsonl", tmpdir / f"cache-{name}",
                     args.workers)
        for round_ in range(args.rounds):
            for workload, (samples, _) in workloads.items():
                for name, tree in (trees.items() if round_ % 2 == 0 else reversed(trees.items())):
                    elapsed, summary = evaluate(tree, samples, tmpdir / f"{name}.jsonl", tmpdir / f"cache-{name}",
                                                args.workers)
                    times.setdefault((workload, name), []).append(elapsed)
                    outcomes[(workload, name)] = summary["outcomes"]
    print(f"\n{'workload':16} {'version':7} {'cands':>6} {'median s':>9} {'cand/s':>8}  outcomes")
    for workload, (_, count) in workloads.items():
        for name in trees:
            median = statistics.median(times[(workload, name)])
            print(f"{workload:16} {name:7} {count:6d} {median:9.2f} {count / median:8.1f}  "
                  f"{json.dumps(outcomes[(workload, name)], sort_keys=True)}")
        ratio = statistics.median(times[(workload, "before")]) / statistics.median(times[(workload, "after")])
        print(f"{workload:16} after/before throughput = {ratio:5.2f}x")


if __name__ == "__main__":
    main()
