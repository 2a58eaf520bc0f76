"""Rebuilds the bundled real-world suites from git checkouts of their public
repositories (read with ``git show``, so a bare clone will do):

    kodcode_trials.jsonl.gz   KodCode-AI/kodcode @1d3515ba, demo/**/trial_*/: every pipeline trial (a
                              generated solution, its generated pytest file, pytest's verdict) whose test
                              file parses and has a test function; Apache-2.0
    leetcode_300.jsonl.gz     newfacade/LeetCodeDataset @182cd19f, data/LeetCodeDataset-v0.2.0-{train,test}:
                              300 of the 2,090 rows (seeded sample), unchanged; MIT
    classeval.jsonl.gz        FudanSELab/ClassEval @eaeac44d, data/ClassEval_data.json: all 100, unchanged; MIT
    bigcodebench_100.jsonl.gz bigcode-project/bigcodebench-annotation @a3b89850, hf_data/BigCodeBench.jsonl.gz:
                              100 of the 1,140 tasks (seeded sample), unchanged; Apache-2.0

Usage: python problems/tools/build_real_suites.py KODCODE_GIT LEETCODE_GIT CLASSEVAL_GIT BIGCODEBENCH_ANNOTATION_GIT
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1]
PINS = {
    "kodcode": "1d3515baeb1876f369c1ce0c6f6e1ba8950deafa",
    "leetcode": "182cd19fd53161efd70a1ef074fe1056b659bfa3",
    "classeval": "eaeac44d0d5dcd8a95feec50726d66fedc73a98f",
    "bigcodebench": "a3b89850db670d7302571142b881e4f85eef18e3",
}
SEED = 20250101


def git_show(repo: str, commit: str, path: str, binary: bool = False) -> Any:
    out = subprocess.run(["git", "-C", repo, "show", f"{commit}:{path}"], capture_output=True, check=True).stdout
    return out if binary else out.decode("utf-8")


def git_files(repo: str, commit: str) -> list[str]:
    out = subprocess.run(["git", "-C", repo, "ls-tree", "-r", "--name-only", commit], capture_output=True,
                         check=True, text=True).stdout
    return out.split("\n")


def write(name: str, rows: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    (OUT / name).write_bytes(gzip.compress(data, 9, mtime=0))
    print(f"{name}: {len(rows)} rows, {(OUT / name).stat().st_size:,} bytes")


def kodcode(repo: str) -> None:
    """One row per trial, in the KodCode-V1 field names: question, solution
    (the trial's), test_code (the pytest file the trial ran: ``from solution
    import *`` and the generated tests), test_result (its verdict)."""
    commit = PINS["kodcode"]
    files = git_files(repo, commit)
    trials = sorted({f.rsplit("/", 1)[0] for f in files if f.endswith("/test_result.txt")})
    rows, unparsable, no_tests = [], 0, 0
    for folder in trials:
        data = json.loads(git_show(repo, commit, f"{folder}/data.json"))
        test_code = git_show(repo, commit, f"{folder}/test_solution.py")
        verdict = git_show(repo, commit, f"{folder}/test_result.txt").splitlines()
        try:
            compile(test_code, "test_solution.py", "exec")
        except SyntaxError:
            unparsable += 1  # pytest cannot even collect it: a broken problem, not a verdict on the solution
            continue
        if "def test" not in test_code:
            no_tests += 1  # nothing for pytest to run (upstream: exit 5, scored Fail)
            continue
        parts = folder.split("/")  # demo/<run>/<verification dir>/<question>/<trial>
        run = parts[1].replace("KodCode_", "").rsplit("_", 2)[0]
        rows.append({
            "task_id": f"KodCode/{run}/{parts[-2]}/{parts[-1]}",
            "question_id": data.get("question_id", f"{data['metadata']['mode']}_{data['metadata']['prompt_id']}"),
            "trial": parts[-1],
            "subset": data.get("subset", data.get("metadata", {}).get("mode", "")),
            "question": data.get("question", data.get("instruction", "")),
            "solution": git_show(repo, commit, f"{folder}/solution.py"),
            "test_code": test_code,
            "test_result": verdict[0].strip(),
            "test_coverage": verdict[1].split(":", 1)[1].strip() if len(verdict) > 1 else "",
            "source": folder,
        })
    print(f"kodcode: {len(trials)} trials; left out (all scored Fail upstream): {unparsable} whose test file "
          f"does not parse, {no_tests} whose test file has no test function")
    write("kodcode_trials.jsonl.gz", rows)


def leetcode(repo: str, count: int = 300) -> None:
    commit = PINS["leetcode"]
    rows: list[dict[str, Any]] = []
    for split in ("train", "test"):
        raw = git_show(repo, commit, f"data/LeetCodeDataset-v0.2.0-{split}.jsonl.gz", binary=True)
        rows += [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines() if line.strip()]
    chosen = sorted(random.Random(SEED).sample(range(len(rows)), count))
    print(f"leetcode: {count} of {len(rows)} rows")
    write(f"leetcode_{count}.jsonl.gz", [rows[i] for i in chosen])


def classeval(repo: str) -> None:
    rows = json.loads(git_show(repo, PINS["classeval"], "data/ClassEval_data.json"))
    write("classeval.jsonl.gz", rows)


def bigcodebench(repo: str, count: int = 100) -> None:
    raw = git_show(repo, PINS["bigcodebench"], "hf_data/BigCodeBench.jsonl.gz", binary=True)
    rows = [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines() if line.strip()]
    chosen = sorted(random.Random(SEED).sample(range(len(rows)), count))
    print(f"bigcodebench: {count} of {len(rows)} tasks")
    write(f"bigcodebench_{count}.jsonl.gz", [rows[i] for i in chosen])


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    kodcode(sys.argv[1])
    leetcode(sys.argv[2])
    classeval(sys.argv[3])
    bigcodebench(sys.argv[4])


if __name__ == "__main__":
    main()
