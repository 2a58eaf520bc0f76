"""Rebuilds problems/apps_train5.jsonl and tests/data/apps_train5_gen.jsonl.gz
from the CodeRL copy of five APPS training problems in ../shared/data
(salesforce/CodeRL @ec3c526a, data/APPS/train/{0001,0111,2287,2404,4184}, BSD-3-Clause;
APPS itself is MIT).  Problems are written in the Hugging Face codeparrot/apps
row layout; the samples are CodeRL's generated programs with their recorded
verdicts (result: true = pass, false = wrong, -1 = runtime error/timeout, -2 = compile error)."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/stdin/coderl_apps_train5"


def main() -> None:
    problems, samples = [], []
    for folder in sorted(p for p in SOURCE.iterdir() if p.is_dir()):
        meta = json.loads((folder / "metadata.json").read_text())
        problems.append({
            "problem_id": folder.name,
            "question": (folder / "question.txt").read_text(),
            "solutions": (folder / "solutions.json").read_text(),
            "input_output": (folder / "input_output.json").read_text(),
            "difficulty": meta.get("difficulty", ""),
            "url": meta.get("url", ""),
            "starter_code": (folder / "starter_code.py").read_text() if (folder / "starter_code.py").exists() else "",
        })
        for generated in json.loads((folder / "gen_solutions.json").read_text()):
            samples.append({"task_id": folder.name, "solution": generated["code"],
                            "recorded": generated["result"], "error_type": generated.get("error_type")})
    (ROOT / "problems/apps_train5.jsonl").write_text("".join(json.dumps(p) + "\n" for p in problems))
    with gzip.open(ROOT / "tests/data/apps_train5_gen.jsonl.gz", "wt") as handle:
        handle.writelines(json.dumps(s) + "\n" for s in samples)
    print(f"{len(problems)} problems, {len(samples)} samples")


if __name__ == "__main__":
    main()
