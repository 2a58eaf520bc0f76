"""The HTML report's size and speed: the bundled 1,640 GPT-3.5 samples and a
synthetic 100k-candidate run (1,000 problems x 100 candidates), each
aggregated, written and rendered in headless Chromium.

    python benchmarks/bench_report.py [--results results.jsonl] [--candidates 100000]

Without --results the bundled samples are judged first (Docker, the result
store answers a rerun).  Prints one line per run: aggregation time, peak RSS
of this process, file size, Chromium's wall time and the page's own render
time (from parsing its data to the last chart and table), against the goals
(< 5 MB and < 2 s for the 1,640).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cli import main as harness  # noqa: E402
from harness.report_data import load_run  # noqa: E402
from harness.report_html import write_html  # noqa: E402

OUTCOMES = ["passed"] * 60 + ["failed"] * 25 + ["error"] * 8 + ["timeout"] * 4 + ["syntax_error"] * 3


def synthetic(path: Path, candidates: int, per_problem: int = 100) -> Path:
    rng = random.Random(0)
    with open(path, "w") as out:
        for i in range(candidates):
            task = f"Synthetic/{i // per_problem}"
            outcome = rng.choice(OUTCOMES)
            code = "\n".join(f"    x{j} = {rng.randint(0, 999)} * y + {j}" for j in range(rng.randint(3, 25)))
            out.write(json.dumps({
                "task_id": task, "completion": code, "outcome": outcome, "passed": outcome == "passed",
                "cpu_time_s": round(rng.lognormvariate(-5.5, 0.8), 6), "wall_time_s": 0.01,
                "peak_memory_bytes": int(rng.gauss(22, 3) * 2**20), "code_length": len(code),
                "detail": "" if outcome == "passed" else f"AssertionError at test line {rng.randint(1, 9)}"}) + "\n")
    return path


def render(page: Path) -> tuple[float, int]:
    chromium = shutil.which("chromium")
    if chromium is None:
        return float("nan"), -1
    started = time.perf_counter()
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,2600",
                           "--virtual-time-budget=60000", "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    match = re.search(r'data-ms="(\d+)"', proc.stdout)
    return wall, int(match.group(1)) if match else -1


def measure(label: str, results: Path, out: Path) -> None:
    started = time.perf_counter()
    run = load_run(results, label=label)
    page = write_html(out / f"{label}.html", [run])
    built = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, page_ms = render(page)
    print(f"{label:12} {run.n_candidates:7,} candidates  {len(run.problems):5} problems  build {built:5.2f} s  "
          f"peak RSS {rss:4.0f} MB  file {page.stat().st_size / 1e6:5.2f} MB  "
          f"chromium {wall:5.2f} s  page render {page_ms / 1000:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", help="a judged results.jsonl (default: judge the bundled samples now)")
    parser.add_argument("--candidates", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(tmp)
        results = Path(args.results) if args.results else out / "humaneval.jsonl"
        if not args.results and harness(["evaluate", "--out", str(results), "--quiet"]) != 0:
            sys.exit("evaluating the bundled samples failed")
        measure("humaneval", results, out)
        measure("synthetic", synthetic(out / "synthetic.jsonl", args.candidates), out)
    print("goals for the 1,640: file < 5 MB, render < 2 s")


if __name__ == "__main__":
    main()
