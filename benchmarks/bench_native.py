"""Compiled languages, side by side in one run: HumanEvalPack's canonical and
buggy C++ solutions (328 candidates) through ``harness evaluate`` (sandboxed,
warm containers, the tests' completion mark, the runtime check) against the
plain toolchain on the host, unsandboxed: ``g++`` then ``./a.out`` per
candidate, one process each, as HumanEvalPack's evaluator does, as many at a
time as harness has workers.  Also prints the verdicts' agreement with the
published labels (canonical passes, buggy fails) for both.

Usage: python benchmarks/bench_native.py [--workers 2] [--limit 164]
Needs: the C/C++ image (`harness sandbox build --languages cpp`), and for the
host side g++ with the OpenSSL and Boost headers (apt-get install g++
libssl-dev libboost-dev).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.problems import CodeField, load_problems  # noqa: E402

PACK = ROOT / "problems" / "humanevalpack_cpp.jsonl.gz"
COMPILE = ["g++", "-std=c++17", "-o", "a.out", "main.cpp", "-Wl,--as-needed", "-lcrypto", "-lssl", "-lm"]


def candidates(limit: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in gzip.open(PACK, "rt")][:limit]
    return [{"task_id": row["task_id"], "completion": row[field], "label": field.split("_")[0]}
            for row in rows for field in ("canonical_solution", "buggy_solution")]


def host_run(program: str) -> bool:
    """g++ then the binary, in a fresh dir; passed = exit status 0."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "main.cpp").write_text(program)
        built = subprocess.run(COMPILE, cwd=tmp, capture_output=True)
        if built.returncode != 0:
            return False
        try:
            return subprocess.run(["./a.out"], cwd=tmp, capture_output=True, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=164, help="problems (each: canonical + buggy)")
    args = parser.parse_args()
    problems = load_problems(str(PACK))
    rows = candidates(args.limit)
    programs = [problems.problems[r["task_id"]].program(r["completion"], CodeField.COMPLETION)
                + "\n" + problems.problems[r["task_id"]].test for r in rows]

    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        host = list(pool.map(host_run, programs))
    host_s = time.monotonic() - started

    with tempfile.TemporaryDirectory() as tmp:
        samples, out = Path(tmp) / "samples.jsonl", Path(tmp) / "out.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--problems", str(PACK),
                        "--out", str(out), "--no-cache", "--no-calibrate", "--quiet", "--k", "1",
                        "--workers", str(args.workers)], check=True, stdout=subprocess.DEVNULL)
        ours_s = time.monotonic() - started
        ours = [json.loads(line)["outcome"] == "passed" for line in out.read_text().splitlines()]

    def agree(verdicts: list[bool]) -> str:
        right = sum(v == (r["label"] == "canonical") for v, r in zip(verdicts, rows))
        return f"{right}/{len(rows)}"

    n = len(rows)
    print(f"HumanEvalPack C++, {n} candidates (canonical + buggy), {args.workers} workers")
    print(f"{'':34}{'seconds':>9}{'cand/s':>9}  agrees with labels")
    print(f"{'g++ + ./a.out on the host':34}{host_s:9.1f}{n / host_s:9.2f}  {agree(host)}")
    print(f"{'harness evaluate (sandboxed)':34}{ours_s:9.1f}{n / ours_s:9.2f}  {agree(ours)}")
    print(f"sandboxed / unsandboxed time: {ours_s / host_s:.2f}x (target: within 1.5x)")


if __name__ == "__main__":
    main()
