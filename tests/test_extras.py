"""Beyond SFT rows: renamed and near-duplicate dedup, decontamination,
preference pairs (TRL's conversational DPO schema), repair rows and rewards,
from one curate run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.curate import curate
from harness.decontam import Decontamination, load_index, words
from harness.errors import ConfigError
from harness.extras import Extras
from harness.neardup import NearDuplicates, renamed, similarity
from harness.options import RunOptions
from harness.outcome import Execution, Outcome
from harness.problems import load_problems
from harness.sandbox.fake import FakeBackend, directive_script
from harness.select import Selection

LOOP = "def add(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
LOOP_RENAMED = "def add(items):\n    acc = 0\n    for item in items:\n        acc += item\n    return acc\n"
PARSER = """def parse(text):
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        key = key.strip().lower()
        value = value.strip()
        if value.isdigit():
            value = int(value)
        elif value in ("true", "false"):
            value = value == "true"
        rows.append((key, value))
    return dict(rows)
"""
PARSER_EDITED = PARSER.replace("    return dict(rows)", "    rows.sort()\n    return dict(rows)")
BUILTIN = "def add(xs):\n    return sum(xs)\n"


def test_renamed_dedup_ignores_names_but_not_structure() -> None:
    assert renamed(LOOP) == renamed(LOOP_RENAMED) != renamed(BUILTIN)
    assert renamed("x = len(y)") != renamed("x = sum(y)")  # builtins keep their names
    assert renamed("obj.total = 1") != renamed("obj.count = 1")  # so do attributes


def test_near_duplicates_by_minhash() -> None:
    near = NearDuplicates(0.7)
    assert near.add("p", "a", PARSER) is None
    assert near.add("p", "b", PARSER_EDITED) == "a"  # one more statement
    assert near.add("p", "c", LOOP) is None
    assert near.add("q", "d", PARSER_EDITED) is None  # per problem
    assert similarity(LOOP, LOOP_RENAMED) == 1.0 and similarity(LOOP, BUILTIN) < 0.3
    with pytest.raises(ConfigError, match="similarity"):
        Selection(near_dup=1.5)


def test_decontamination_catches_planted_humaneval_and_spares_mbpp() -> None:
    humaneval, mbpp = load_problems("humaneval"), load_problems("mbpp")
    index = load_index(["humaneval"])
    # every canonical solution, planted as the program a model would write (signature, docstring, body)
    assert all(index.match(p.reference_solution, code=True) for p in humaneval)
    # ... and its body alone wherever it is 20 words or more (a shorter one cannot be told from an idiom)
    bodies = [p.reference_solution[len(p.prompt):] for p in humaneval]
    long_bodies = [b for b in bodies if len(words(b)) >= 20]
    assert len(long_bodies) > 50 and all(index.match(b, code=True) for b in long_bodies)
    # clean problems: MBPP's prompts and reference solutions against HumanEval
    flagged = [p.id for p in mbpp if index.match(p.instruction or p.prompt)
               or index.match(p.reference_solution, code=True)]
    assert len(flagged) / len(mbpp) <= 0.01, flagged
    check = Decontamination(index)
    check.check_problems(humaneval)
    assert len(check.problems) == 164 and check.drops("HumanEval/0")
    with pytest.raises(ConfigError, match="--decontaminate nosuchset"):
        load_index(["nosuchset"])


def _samples(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in rows))
    return path


def _body(outcome: str, cpu: float, line: str) -> str:
    return f"    {line}  # fake: {outcome} cpu={cpu}\n"


def _pool(tmp_path: Path) -> Path:
    rows = []
    for task in ("HumanEval/0", "HumanEval/1", "HumanEval/2"):
        rows += [(task, _body("passed", 0.010, "return 1")), (task, _body("passed", 0.002, "return 2")),
                 (task, _body("passed", 0.002, "return 2 + 0")),
                 (task, _body("failed", 0.001, "return 3")), (task, _body("timeout", 1.0, "while True: pass")),
                 (task, _body("error", 0.001, "raise ValueError")), (task, _body("failed", 0.001, "return 3")),
                 (task, _body("infra_error", 0.001, "return 4"))]
    rows.append(("HumanEval/3", _body("failed", 0.001, "return 5")))  # never passes: no pair, no repair
    return _samples(tmp_path / "samples.jsonl", rows)


def _noisy(program: str, attempt: int) -> Execution:
    """The directive's CPU time, +-20% from one run to the next (alternating)."""
    base = directive_script(program, attempt)
    if base.outcome is Outcome.INFRA_ERROR or "infra_error" in program:
        return Execution(outcome=Outcome.INFRA_ERROR, detail="scripted")
    factor = 1.2 if attempt % 2 else 0.8
    return Execution(outcome=base.outcome, cpu_time_s=base.cpu_time_s * factor, detail=f"{base.outcome.value} here")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_curate_writes_pairs_repairs_and_rewards(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = curate(_pool(tmp_path), load_problems("humaneval"), FakeBackend(script=_noisy), out,
                    Selection(top_k=1, remeasure=4), RunOptions(calibrate=False), store=None,
                    extras=Extras(pairs=True, repair=True, rewards=True, pairs_per_problem=3))
    assert result.kept == 3
    pairs = _read(out / "dpo.jsonl")
    correctness = [p for p in pairs if p["kind"] == "correctness"]
    efficiency = [p for p in pairs if p["kind"] == "efficiency"]
    # three distinct failures a problem (the repeated "return 3" once; infra errors never)
    assert len(correctness) == 9 and {p["rejected_outcome"] for p in correctness} == {"failed", "timeout", "error"}
    assert all("return 2" in p["chosen"][0]["content"] for p in correctness)
    # 0.002 s beats 0.010 s beyond the +-20% noise; the two 0.002 s programs never pair
    assert len(efficiency) == 6 and all("return 1" in p["rejected"][0]["content"] for p in efficiency)
    assert all(p["margin"] >= 0.25 and p["chosen_spread"] > 0 for p in efficiency)
    for pair in pairs:  # TRL's conversational preference schema
        assert [m["role"] for m in pair["prompt"]] == ["user"]
        assert [m["role"] for m in pair["chosen"]] == ["assistant"] == [m["role"] for m in pair["rejected"]]
        assert pair["chosen"] != pair["rejected"] and "def " in pair["prompt"][0]["content"]
    repairs = _read(out / "repair.jsonl")
    assert len(repairs) == 6 and all([m["role"] for m in r["messages"]] == ["user", "assistant", "user", "assistant"]
                                     for r in repairs)
    assert "gave `failed`" in repairs[0]["messages"][2]["content"]
    import datasets
    for name in ("dpo", "repair"):
        loaded = datasets.load_dataset("parquet", data_files=str(out / f"{name}.parquet"), split="train")
        assert len(loaded) == len(_read(out / f"{name}.jsonl"))
    rewards = datasets.load_dataset("parquet", data_files=str(out / "rewards.parquet"), split="train")
    assert len(rewards) == 25 and rewards.features["reward"].dtype == "float64"
    by_outcome = {(r["outcome"], r["reward"]) for r in rewards}
    assert ("passed", 1.0) in by_outcome and ("failed", 0.0) in by_outcome and ("infra_error", None) in by_outcome
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["correctness_pairs"] == 9 and manifest["counts"]["efficiency_pairs"] == 6
    assert manifest["counts"]["repair_rows"] == 6 and manifest["counts"]["reward_rows"] == 25
    assert {"dpo.parquet", "repair.parquet", "rewards.parquet"} <= set(manifest["files"])


def test_decontaminated_problems_leave_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    curate(_pool(tmp_path), load_problems("humaneval"), FakeBackend(script=_noisy), out,
           Selection(top_k=1, remeasure=2), RunOptions(calibrate=False), store=None,
           extras=Extras(pairs=True, repair=True, rewards=True, decontaminate=("humaneval",)))
    assert _read(out / "train.jsonl") == [] and _read(out / "dpo.jsonl") == [] and _read(out / "repair.jsonl") == []
    import pyarrow.parquet as pq  # datasets cannot load an empty file; its columns are still there
    empty = pq.read_table(out / "rewards.parquet")
    assert empty.num_rows == 0 and "reward" in empty.column_names
    report = json.loads((out / "decontamination.json").read_text())
    assert report["ngram"] == 10 and len(report["problems"]) == 164
    assert report["problems"]["HumanEval/0"]["benchmark"] == "humaneval"

    flagged = tmp_path / "flagged"
    curate(_pool(tmp_path), load_problems("humaneval"), FakeBackend(script=_noisy), flagged,
           Selection(top_k=1, remeasure=2), RunOptions(calibrate=False), store=None,
           extras=Extras(decontaminate=("humaneval",), flag_only=True))
    kept = _read(flagged / "train.jsonl")
    assert len(kept) == 3 and {row["contamination"] for row in kept} == {f"humaneval:HumanEval/{i}" for i in range(3)}


def test_near_dup_and_diversity_in_curate(tmp_path: Path) -> None:
    rows = [("HumanEval/0", _body("passed", 0.001, "return 1")),
            ("HumanEval/0", _body("passed", 0.001, "return 1 # same")),  # a comment apart: exact dedup
            ("HumanEval/0", _body("passed", 0.002, "v = 1; return v")),
            ("HumanEval/0", _body("passed", 0.002, "w = 1; return w")),  # renamed copy
            ("HumanEval/0", _body("passed", 0.003, "v = 1; u = v; return u"))]
    out = tmp_path / "out"
    result = curate(_samples(tmp_path / "s.jsonl", rows), load_problems("humaneval"), FakeBackend(), out,
                    Selection(top_k=3, remeasure=1, near_dup=0.9), RunOptions(calibrate=False), store=None)
    assert result.extras["unique_exact"] == 4 and result.extras["renamed_duplicates"] == 1
    assert result.unique == 3 and result.kept == 3
    with pytest.raises(ConfigError, match="--flag-only needs --decontaminate"):
        Extras(flag_only=True)


COST_PROBLEM = {
    "task_id": "Cost/0", "entry_point": "distinct",
    "prompt": "def distinct(xs):\n    \"\"\"How many different values xs holds.\"\"\"\n",
    "canonical_solution": "    return len(set(xs))\n",
    "test": "def check(candidate):\n    xs = [i % 2500 for i in range(5000)]\n"
            "    for _ in range(3):\n        assert candidate(xs) == 2500\n",
}
LINEAR = "    return len(set(xs))\n"
LINEAR_TOO = "    return len(dict.fromkeys(xs))\n"
QUADRATIC = "    return sum(1 for i, x in enumerate(xs) if x not in xs[:i])\n"


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_efficiency_pairs_choose_the_faster_algorithm(tmp_path: Path) -> None:
    """O(n) over O(n^2) on the same task, measured for real; the same program
    sampled twice is one survivor, so its runs can never make a pair."""
    from harness.sandbox.docker import DockerBackend

    from .conftest import IMAGE
    problems_file = tmp_path / "cost.jsonl"
    problems_file.write_text(json.dumps(COST_PROBLEM) + "\n")
    samples = _samples(tmp_path / "s.jsonl", [("Cost/0", LINEAR), ("Cost/0", QUADRATIC), ("Cost/0", LINEAR_TOO),
                                              ("Cost/0", LINEAR), ("Cost/0", "    return len(xs)\n")])
    backend = DockerBackend(image=IMAGE)
    try:
        result = curate(samples, load_problems(str(problems_file)), backend, tmp_path / "out",
                        Selection(top_k=1, remeasure=5), RunOptions(calibrate=False), store=None,
                        extras=Extras(pairs=True, efficiency_margin=0.5))
    finally:
        backend.close()
    pairs = [p for p in _read(tmp_path / "out" / "dpo.jsonl") if p["kind"] == "efficiency"]
    assert result.unique == 3 and pairs
    assert all(QUADRATIC.strip() in p["rejected"][0]["content"] for p in pairs)
    assert {p["chosen_index"] for p in pairs} <= {0, 2}  # LINEAR's first sample, LINEAR_TOO
    assert all(p["rejected_cpu_s"] > 2 * p["chosen_cpu_s"] for p in pairs)
    correctness = [p for p in _read(tmp_path / "out" / "dpo.jsonl") if p["kind"] == "correctness"]
    assert [p["rejected_outcome"] for p in correctness] == ["failed"]


def test_length_in_the_models_tokens(tmp_path: Path) -> None:
    """--length-unit tokens --tokenizer: the model's tokens (a local tokenizer file, offline); Python's without."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from harness.select import code_length
    words_only = Tokenizer(models.WordLevel({"[UNK]": 0, "return": 1}, unk_token="[UNK]"))
    words_only.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "tokenizer.json"
    words_only.save(str(path))
    code = "def f(a, b):\n    return a + b  # sum\n"
    assert code_length(code, "tokens", str(path)) == 9  # whitespace-split words, the comment too
    assert code_length(code, "tokens") == 12  # Python's tokens, no comment or layout
