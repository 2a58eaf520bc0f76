"""What ``curate`` makes beyond SFT rows from real samples: the bundled 1,640
GPT-3.5 HumanEval samples and CodeGen-Mono-16B samples (CodeT's, temperature
0.8; the first N of 100 per task), each curated with pairs, repair rows,
rewards, near-duplicate dedup and MBPP decontamination.  Prints, per run, the
counts the manifest records.

    python benchmarks/bench_extras.py [--codegen-per-task 20] [--codet DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODET = ROOT.parent / "shared" / "data" / "codet"
FLAGS = ["--top-k", "2", "--pairs", "--repair", "--rewards", "--near-dup", "0.8", "--diversity", "0.8",
         "--decontaminate", "mbpp", "--quiet"]
SHOWN = ("candidates", "passed", "unique_exact", "renamed_duplicates", "near_duplicates", "unique", "kept",
         "correctness_pairs", "efficiency_pairs", "repair_rows", "reward_rows", "contaminated_problems",
         "contaminated_solutions")


def codegen_samples(codet: Path, per_task: int, out: Path) -> Path:
    ids = {json.loads(line)["prompt"]: json.loads(line)["task_id"]
           for line in (codet / "HumanEval_for_code_generation.jsonl").read_text().splitlines()}
    with open(out, "w") as handle:
        for line in (codet / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl").open():
            row = json.loads(line)
            for completion in row["samples"][:per_task]:
                handle.write(json.dumps({"task_id": ids[row["prompt"]], "completion": completion}) + "\n")
    return out


def curate(label: str, samples: Path | None, out: Path) -> None:
    command = [sys.executable, "-m", "harness", "curate", "--out", str(out), *FLAGS]
    if samples is not None:
        command += ["--samples", str(samples)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"{label}: curate failed: {proc.stderr.strip().splitlines()[-1:]}")
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    counts["unique"] = counts["unique_passing"]
    print(f"{label}: " + ", ".join(f"{key} {counts.get(key, 0)}" for key in SHOWN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codegen-per-task", type=int, default=20)
    parser.add_argument("--codet", type=Path, default=CODET, help="CodeT's data folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-extras-") as tmp:
        curate("gpt-3.5 (bundled, 10 a task)", None, Path(tmp) / "gpt35")
        if (args.codet / "HumanEval_for_code_generation.jsonl").is_file():
            samples = codegen_samples(args.codet, args.codegen_per_task, Path(tmp) / "codegen.jsonl")
            curate(f"codegen-16B ({args.codegen_per_task} a task)", samples, Path(tmp) / "codegen")
        else:
            print(f"no CodeT data at {args.codet}; skipped the CodeGen run")


if __name__ == "__main__":
    main()
