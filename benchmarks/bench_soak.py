"""Soak: 20,000 candidates, a mix of right, wrong, slow, crashing and hostile
programs, in one `harness evaluate` run, with the store off so every one
executes.  Reports throughput, outcomes, infrastructure errors left, the
containers left afterwards and the harness process's peak RSS.

Usage: python benchmarks/bench_soak.py [--candidates 20000] [--cpu-time 0.5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.problems import load_problems  # noqa: E402
from harness.sandbox.cleanup import count_containers  # noqa: E402

HOSTILE = [
    "import os\nos._exit(0)\n",
    "import sys\nsys.exit(0)\n",
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "x = []\nwhile True:\n    x.append(bytearray(16 << 20))\n",
    "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n",
    "import os, signal\nfor p in range(1, 300):\n    try:\n        os.kill(p, signal.SIGKILL)\n"
    "    except OSError:\n        pass\n",
    "print('passed')\n",
    "open('/etc/passwd', 'a').write('x')\n",
]


def mix(count: int) -> list[dict]:
    problems = list(load_problems("humaneval"))
    rows = []
    for i in range(count):
        problem = problems[i % len(problems)]
        body = problem.reference_solution[len(problem.prompt):]
        kind = (i // len(problems)) % 20
        if kind < 13:      # 65 % right
            code = body
        elif kind < 16:    # 15 % wrong
            code = "    return None\n"
        elif kind < 17:    # 5 % slow: an endless loop
            code = "    while True:\n        pass\n"
        elif kind < 18:    # 5 % crashing
            code = "    raise RuntimeError('boom')\n"
        else:              # 10 % hostile, at import time
            rows.append({"task_id": problem.id, "solution": HOSTILE[i % len(HOSTILE)] + f"# {i}\n"})
            continue
        rows.append({"task_id": problem.id, "completion": code + f"    # {i}\n"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--cpu-time", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples, out = Path(tmp) / "soak.jsonl", Path(tmp) / "results.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in mix(args.candidates)))
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "harness", "evaluate", str(samples), "--out", str(out),
                                 "--no-cache", "--no-calibrate", "--quiet", "--k", "1",
                                 "--cpu-time", str(args.cpu_time), "--wall-time", str(max(3.0, 4 * args.cpu_time))],
                                stdout=subprocess.PIPE, text=True)
        watched, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        summary = json.loads(proc.stdout.read().splitlines()[-1])
    left = count_containers()
    print(f"{args.candidates:,} candidates in {elapsed:.0f} s ({args.candidates / elapsed:.0f}/s), "
          f"exit {proc.returncode}")
    print("outcomes:", json.dumps(summary["outcomes"]))
    print(f"infra_error left: {summary['outcomes']['infra_error']}; containers left: {left}; "
          f"peak RSS of the harness process: {peak / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
