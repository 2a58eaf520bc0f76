"""Agreement with upstream verdicts on the bundled real-world suites.

Runs each suite's solutions through ``harness evaluate`` (the real Docker
sandbox, a private result store and calibration, so nothing is answered from
an earlier run) and compares our verdicts with upstream's:

    kodcode_trials    the pipeline trials' own solutions, with the pytest verdicts KodCode recorded
    leetcode_300      LeetCodeDataset's reference completions (upstream: all pass)
    classeval         ClassEval's reference classes (upstream: all pass)
    bigcodebench_100  BigCodeBench's canonical solutions (upstream: all pass, in BigCodeBench's own
                      environment with its ~70 packages and one shared process: not expected here yet)

For each suite it prints rows, our passes, upstream's passes, agreement (our
passed == upstream passed) and the disagreements grouped by upstream verdict,
our outcome and the head of our detail (numbers and quoted names blanked, so
that alike failures group), the 10 largest groups.

    python benchmarks/agreement.py [--suites kodcode_trials,leetcode_300] [--limit N] [--workers N]
                                   [--image TAG] [--test-isolation shared] [--shared-where-needed]
                                   [--json report.json] [--keep DIR] [--no-calibrate]
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"


def read_rows(name: str) -> Iterator[dict[str, Any]]:
    with gzip.open(PROBLEMS / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def kodcode_sample(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": row["task_id"], "solution": row["solution"], "upstream": row["test_result"] == "Pass",
            "upstream_detail": row["test_result"]}


def leetcode_sample(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": row["task_id"], "completion": row["completion"], "upstream": True}


def classeval_sample(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": row["task_id"], "solution": row["solution_code"], "upstream": True}


def bigcodebench_sample(row: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": row["task_id"], "solution": row["complete_prompt"] + "\n" + row["canonical_solution"],
            "upstream": True}


SUITES: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "kodcode_trials": ("KodCode pipeline trials, recorded pytest verdicts", kodcode_sample),
    "leetcode_300": ("LeetCodeDataset v0.2.0 references", leetcode_sample),
    "classeval": ("ClassEval references", classeval_sample),
    "bigcodebench_100": ("BigCodeBench canonical solutions", bigcodebench_sample),
}


def detail_head(detail: str) -> str:
    """What kind of detail this is: the test name, numbers, quoted text and
    long tails taken out, so that alike failures group together."""
    text = " ".join(str(detail).split())
    text = re.sub(r"^test\w*(\[[^\]]*\])?: ", "", text)  # pytest: "test_name: Error: ..."
    text = re.sub(r"^test \d+: ", "", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[-+]?\d+)?\b", "N", text)
    return text[:90]


def evaluate(name: str, samples: Path, tag: str, args: argparse.Namespace,
             isolation: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One ``harness evaluate`` run: its result rows and summary."""
    results, summary = samples.with_name(f"{tag}.results.jsonl"), samples.with_name(f"{tag}.summary.json")
    work = samples.parent
    command = [sys.executable, "-m", "harness", "evaluate", str(samples), "--problems",
               str(PROBLEMS / f"{name}.jsonl.gz"), "--out", str(results), "--summary-json", str(summary),
               "--k", "1", "--quiet", "--cache", str(work / "results.sqlite3")]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.image:
        command += ["--image", args.image]
    if args.no_calibrate:
        command.append("--no-calibrate")
    if isolation:
        command += ["--test-isolation", isolation]
    env = dict(os.environ, HARNESS_CACHE=str(work / "cache"))
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name}: harness evaluate exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    judged = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    return judged, json.loads(summary.read_text(encoding="utf-8"))


def run_suite(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    about, make_sample = SUITES[name]
    rows = list(read_rows(name))
    if args.limit:
        rows = rows[:args.limit]
    samples = work / f"{name}.samples.jsonl"
    samples.write_text("".join(json.dumps(make_sample(row)) + "\n" for row in rows), encoding="utf-8")
    started = time.monotonic()
    judged, summary = evaluate(name, samples, name, args, args.test_isolation)
    rerun = sorted(summary.get("needs_shared") or ()) if args.shared_where_needed else []
    split_agree = None
    if rerun:  # what calibration found to need one interpreter, judged again as a user would
        subset = work / f"{name}.shared.samples.jsonl"
        subset.write_text("".join(json.dumps(make_sample(row)) + "\n" for row in rows if row["task_id"] in rerun),
                          encoding="utf-8")
        again, _ = evaluate(name, subset, f"{name}.shared", args, "shared")
        split_agree = sum(bool(r["passed"]) == bool(r["upstream"]) for r in judged)
        judged = [r for r in judged if r["task_id"] not in rerun] + again
    elapsed = time.monotonic() - started
    ours = sum(bool(r["passed"]) for r in judged)
    upstream = sum(bool(r["upstream"]) for r in judged)
    agree = sum(bool(r["passed"]) == bool(r["upstream"]) for r in judged)
    groups: collections.Counter[tuple[str, str, str]] = collections.Counter()
    examples: dict[tuple[str, str, str], str] = {}
    for r in judged:
        if bool(r["passed"]) != bool(r["upstream"]):
            key = ("upstream pass" if r["upstream"] else "upstream fail", r["outcome"], detail_head(r["detail"]))
            groups[key] += 1
            examples.setdefault(key, r["task_id"])
    return {
        "suite": name, "about": about, "rows": len(judged), "ours_passed": ours, "upstream_passed": upstream,
        "agree": agree, "agreement": agree / len(judged) if judged else 0.0,
        "outcomes": dict(collections.Counter(r["outcome"] for r in judged)),
        "elapsed_s": round(elapsed, 1), "judged_shared": rerun, "agree_split_only": split_agree,
        "disagreements": [{"upstream": k[0], "outcome": k[1], "detail": k[2], "count": n, "example": examples[k]}
                          for k, n in groups.most_common()],
    }


def report(result: dict[str, Any]) -> str:
    lines = [f"== {result['suite']} ({result['about']}): {result['rows']} rows, "
             f"ours {result['ours_passed']} passed, upstream {result['upstream_passed']} passed, "
             f"agreement {100 * result['agreement']:.1f}% ({result['agree']}/{result['rows']}), "
             f"{result['elapsed_s']} s",
             "   our outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items()))]
    if result["judged_shared"]:
        shown = ", ".join(result["judged_shared"][:10]) + (" ..." if len(result["judged_shared"]) > 10 else "")
        lines.append(f"   {len(result['judged_shared'])} judged again with test isolation shared, as calibration "
                     f"found they need (split only: {result['agree_split_only']}/{result['rows']} agree): {shown}")
    if result["disagreements"]:
        lines.append(f"   disagreements: {result['rows'] - result['agree']} (top 10 groups)")
        for group in result["disagreements"][:10]:
            lines.append(f"   {group['count']:5}  {group['upstream']:13}  {group['outcome']:13}  {group['detail']}"
                         f"   e.g. {group['example']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", default=",".join(SUITES), help="comma-separated (default: all)")
    parser.add_argument("--limit", type=int, help="only the first N rows of each suite")
    parser.add_argument("--workers", type=int, help="harness evaluate --workers")
    parser.add_argument("--image", help="harness evaluate --image")
    parser.add_argument("--no-calibrate", action="store_true", help="floor time limits, no reference runs")
    parser.add_argument("--test-isolation", choices=["split", "shared"], help="harness evaluate --test-isolation "
                        "(default: what each problem asks for, split)")
    parser.add_argument("--shared-where-needed", action="store_true",
                        help="judge again, with test isolation shared, the problems whose reference calibration "
                        "found to fail split and pass shared (what `harness problems validate` reports)")
    parser.add_argument("--json", help="also write the full report here")
    parser.add_argument("--keep", help="keep samples and results in this directory (default: a temporary one)")
    args = parser.parse_args()
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; known: {', '.join(SUITES)}")
    results = []
    image = args.image or os.environ.get("HARNESS_IMAGE", "the default sandbox image")
    isolation = args.test_isolation or "as each problem asks (split)"
    if args.shared_where_needed:
        isolation += ", shared where calibration finds it needed"
    calibration = "off" if args.no_calibrate else "on"
    print(f"# image {image}, test isolation {isolation}, calibration {calibration}", flush=True)
    with tempfile.TemporaryDirectory(prefix="agreement-") as scratch:
        work = Path(args.keep) if args.keep else Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        for name in names:
            result = run_suite(name, work, args)
            results.append(result)
            print(report(result), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
