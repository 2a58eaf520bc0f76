"""Real-world suites: the LeetCodeDataset, KodCode-V1, ClassEval and
BigCodeBench layouts, detected from their fields (pure), skipping broken rows,
and a handful of bundled rows per suite judged in the real sandbox.

The full agreement measurement is ``benchmarks/agreement.py``, not a test."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ProblemError
from harness.problems import CodeField, TestKind, detect_layout, load_problems, parse_problem, problems_dir

pytestmark = pytest.mark.timeout(60)

SUITES = {"leetcode_300": "leetcode", "kodcode_trials": "kodcode", "classeval": "classeval",
          "bigcodebench_100": "bigcodebench"}


def rows(name: str) -> list[dict[str, Any]]:
    with gzip.open(problems_dir() / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def row_of(name: str, task_id: str) -> dict[str, Any]:
    return next(row for row in rows(name) if row["task_id"] == task_id)


@pytest.mark.parametrize("name,layout", sorted(SUITES.items()))
def test_bundled_suites_load_with_their_layout_detected(name: str, layout: str) -> None:
    every = rows(name)
    assert {detect_layout(row) for row in every} == {layout}
    problems = load_problems(name)
    assert len(problems) == len(every)
    forced = load_problems(name, layout=layout)  # --layout NAME reads them the same way
    assert forced.problems == problems.problems


def test_leetcode_rows_are_check_functions_on_the_solution_method() -> None:
    row = row_of("leetcode_300", "binary-tree-preorder-traversal")
    assert row["entry_point"] == "Solution().preorderTraversal" and isinstance(row["input_output"], list)
    problem = parse_problem(row, "x:1")
    assert problem.test_kind is TestKind.CHECK_FUNCTION
    assert problem.entry_point == "preorderTraversal"  # the candidate side finds it on Solution()
    assert "class TreeNode" in problem.prompt and "def tree_node" in problem.prompt
    spec = problem.test_spec()
    assert spec["setup"] == problem.prompt  # the prompt's classes and helpers are the tests' trusted setup
    assert spec["check_function"] == "check" and spec["candidate_names"] == []
    assert problem.reference_solution == row["completion"] and problem.instruction == row["query"]
    # the prompt starts every program, once: LeetCodeDataset runs prompt + code + tests
    code = "class Solution: ..."
    assert problem.program(code, CodeField.COMPLETION) == problem.program(code, CodeField.SOLUTION) \
        == problem.prompt + code


def test_chat_models_are_asked_the_datasets_own_question() -> None:
    from harness.generate import build_prompt
    leetcode = parse_problem(row_of("leetcode_300", "binary-tree-preorder-traversal"), "x:1")
    assert build_prompt(leetcode, "chat", None) == leetcode.instruction
    assert build_prompt(leetcode, "completions", None) == leetcode.prompt
    kodcode = load_problems("kodcode_trials").get("KodCode/leetcode/00000047/trial_qwen2.5_0")
    assert kodcode is not None and kodcode.instruction == ""
    assert build_prompt(kodcode, "chat", None).endswith(kodcode.prompt.rstrip())


def test_leetcode_input_output_is_not_mistaken_for_apps() -> None:
    row = dict(row_of("leetcode_300", "binary-tree-preorder-traversal"))
    row["entry_point"] = "preorderTraversal"  # a plain name: the check(candidate) test still says LeetCode
    assert detect_layout(row) == "leetcode"
    assert parse_problem(row, "x:1").entry_point == "preorderTraversal"
    row["entry_point"] = " Solution( ).preorderTraversal "
    assert parse_problem(row, "x:1").entry_point == "preorderTraversal"
    row["entry_point"] = "Solution().preorder-traversal"
    with pytest.raises(ProblemError, match=r"^x:1: entry_point .* neither Solution\(\)\.method"):
        parse_problem(row, "x:1")


def test_kodcode_trials_are_pytest_modules_with_their_verdicts() -> None:
    every = rows("kodcode_trials")
    passing = [row for row in every if row["test_result"] == "Pass"]
    failing = [row for row in every if row["test_result"] != "Pass"]
    assert len(every) == 1568 and len(passing) == 713
    assert {row["test_result"] for row in failing} == {"Fail", "Fail - Timed Out"}
    problems = load_problems("kodcode_trials")
    good, bad = problems.get(passing[0]["task_id"]), problems.get(failing[0]["task_id"])
    assert good is not None and bad is not None
    assert good.test_kind is TestKind.PYTEST and good.module == "solution"
    assert good.test == passing[0]["test_code"] and good.test.startswith("from solution import *")
    assert good.prompt == passing[0]["question"]
    assert good.reference_solution == passing[0]["solution"]  # a passing trial's solution is a reference
    assert bad.reference_solution == ""  # a failing one is not


def test_kodcode_v1_rows_without_a_verdict() -> None:
    """A KodCode-V1 row as published: its solution is the verified one."""
    row = {"question_id": "Leetcode_1_I", "question": "Add two numbers.",
           "solution": "def add(a, b):\n    return a + b\n",
           "test_code": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
           "test_info": [{"function_name": "add"}], "gpt_pass_sequence": [1, 1, 0], "subset": "Leetcode"}
    problem = parse_problem(row, "x:1")
    assert detect_layout(row) == "kodcode"
    assert (problem.id, problem.test_kind, problem.reference_solution) == ("Leetcode_1_I", TestKind.PYTEST,
                                                                           row["solution"])


def test_classeval_tests_see_the_candidates_names_after_the_rows_imports() -> None:
    row = row_of("classeval", "ClassEval_0")
    problem = parse_problem(row, "x:1")
    assert problem.test_kind is TestKind.PYTEST and problem.module == "solution"
    assert problem.test == "from solution import *\nimport logging\nimport datetime\n" + row["test"]
    assert problem.preamble == "import logging\nimport datetime\n"  # ClassEval prepends them to the program too
    assert problem.program(row["solution_code"], CodeField.SOLUTION).startswith(problem.preamble)
    assert problem.prompt == row["skeleton"] and problem.reference_solution == row["solution_code"]
    for test_class in row["test_classes"]:
        assert f"class {test_class}(unittest.TestCase)" in problem.test


def test_bigcodebench_tests_follow_the_code_prompts_header() -> None:
    row = row_of("bigcodebench_100", "BigCodeBench/201")
    problem = parse_problem(row, "x:1")
    header = row["code_prompt"].split("def task_func")[0].strip()
    assert header and problem.test == "from solution import *\n" + header + "\n" + row["test"]
    assert problem.reference_solution == row["complete_prompt"] + "\n" + row["canonical_solution"]
    assert problem.prompt == row["complete_prompt"] and problem.instruction == row["instruct_prompt"]
    only_instruct = {k: v for k, v in row.items() if k not in ("complete_prompt", "code_prompt")}
    assert parse_problem(only_instruct, "x:1").prompt == row["instruct_prompt"]
    assert parse_problem(only_instruct, "x:1").instruction == ""


def test_this_tools_own_fields_hold_in_every_layout() -> None:
    own = {"limits": {"cpu_time_s": 7}, "test_isolation": "shared"}
    for name in SUITES:
        problem = parse_problem({**rows(name)[0], **own}, "x:1")
        assert (dict(problem.limits), problem.test_isolation) == ({"cpu_time_s": 7}, "shared")
    with pytest.raises(ProblemError, match=r"^x:1: test_isolation must be split or shared"):
        parse_problem({**rows("classeval")[0], "test_isolation": "both"}, "x:1")


def test_a_forced_layout_reports_missing_fields_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"task_id": "a", "question": "q", "solution": "s"}) + "\n")
    with pytest.raises(ProblemError, match=rf"^{path}:1: missing field 'test_code'$"):
        load_problems(str(path), layout="kodcode")
    path.write_text(json.dumps({"task_id": "a", "test": "import unittest\n", "import_statement": 7,
                                "solution_code": "", "class_name": "A"}) + "\n")
    with pytest.raises(ProblemError, match=rf"^{path}:1: field 'import_statement' must be a list of strings$"):
        load_problems(str(path))


def broken_file(tmp_path: Path) -> Path:
    """Two good LeetCode rows among broken ones, one per line."""
    good = rows("leetcode_300")[:2]
    lines = [json.dumps(good[0]), "{not json", json.dumps({**good[1], "test": "def check(candidate):\n    (\n"}),
             json.dumps([1, 2]), json.dumps({**good[1], "entry_point": "Solution()."}), json.dumps(good[1]),
             json.dumps(good[0])]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


BROKEN = [":2: malformed JSON", ":3: test code does not parse", ":4: expected a JSON object, got list",
          ":5: entry_point 'Solution().' is neither", ":7: duplicate problem id"]


def test_skipping_broken_rows_reports_each_with_its_line(tmp_path: Path) -> None:
    path = broken_file(tmp_path)
    with pytest.raises(ProblemError, match=rf"^{path}:2: malformed JSON"):
        load_problems(str(path))
    seen: list[ProblemError] = []
    problems = load_problems(str(path), on_bad=seen.append)
    assert len(problems) == 2
    assert [str(e).startswith(f"{path}{where}") for e, where in zip(seen, BROKEN, strict=True)] == [True] * 5
    assert all("\n" not in str(e) for e in seen)
    path.write_text("{\n[]\n")
    with pytest.raises(ProblemError, match=r"contains no problems \(2 broken, skipped\)$"):
        load_problems(str(path), on_bad=seen.append)


def test_cli_fails_on_the_first_broken_row_unless_told_to_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               ) -> None:
    path = broken_file(tmp_path)
    assert main(["problems", "validate", str(path), "--repeats", "1"]) == 2  # before any sandbox is asked for
    err = capsys.readouterr().err
    assert err == f"harness: error: {path}:2: malformed JSON (Expecting property name enclosed in double quotes)\n"
    assert main(["problems", "list", "--on-bad-problem", "skip"]) == 0
    assert re.search(r"^leetcode_300 +300 problems", capsys.readouterr().out, re.M)


# --------------------------------------------------------------- sandbox ---

# Rows judged right today, each with an idiom its suite leans on.
LEETCODE = ["binary-tree-preorder-traversal",  # a TreeNode argument
            "delete-the-middle-node-of-a-linked-list",  # a ListNode argument and result
            "construct-binary-tree-from-inorder-and-postorder-traversal",  # a TreeNode result
            "container-with-most-water", "string-to-integer-atoi"]
KODCODE = {"KodCode/leetcode/00000047/trial_qwen2.5_0": "passed",  # a class under pytest
           "KodCode/algorithm/00000003/trial_qwen2.5_0": "passed",  # lambdas passed to the candidate
           "KodCode/algorithm/00000041/trial_qwen2.5_1": "passed",  # a list sorted in place
           "KodCode/prefill/00000191/trial_qwen2.5_0": "passed",
           "KodCode/algorithm/00000000/trial_qwen2.5_0": "failed",  # upstream: Fail
           "KodCode/algorithm/00000009/trial_qwen2.5_0": "problem_error"}  # upstream: Fail; its tests do not load
CLASSEVAL = ["ClassEval_0", "ClassEval_1", "ClassEval_3", "ClassEval_10", "ClassEval_16"]
BIGCODEBENCH = ["BigCodeBench/670", "BigCodeBench/685", "BigCodeBench/932", "BigCodeBench/1098"]  # stdlib only


def samples_file(tmp_path: Path, name: str, ids: list[str]) -> Path:
    """The agreement script's own samples for these rows."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from agreement import SUITES as MAKERS
    finally:
        sys.path.pop(0)
    by_id = {row["task_id"]: row for row in rows(name)}
    path = tmp_path / f"{name}.samples.jsonl"
    path.write_text("".join(json.dumps(MAKERS[name][1](by_id[task_id])) + "\n" for task_id in ids))
    return path


def judged(backend: Any, tmp_path: Path, name: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    from harness.evaluate import evaluate
    from harness.options import RunOptions
    out = tmp_path / "results.jsonl"
    run = RunOptions(workers=2, calibrate=False)
    evaluate(samples_file(tmp_path, name, ids), load_problems(name), backend, out, run, ks=[1])
    return {row["task_id"]: row for row in map(json.loads, out.read_text().splitlines())}


@pytest.mark.docker
def test_leetcode_references_pass_and_broken_rows_are_skipped_on_the_command_line(tmp_path: Path) -> None:
    """``--on-bad-problem skip``: one stderr line per broken row, the rest run."""
    good = {row["task_id"]: row for row in rows("leetcode_300") if row["task_id"] in LEETCODE}
    lines = [json.dumps(good[LEETCODE[0]]), "{not json", *(json.dumps(good[t]) for t in LEETCODE[1:]),
             json.dumps({**good[LEETCODE[1]], "task_id": "x", "test": "def check(candidate):\n    (\n"})]
    problems = tmp_path / "leetcode.jsonl"
    problems.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.jsonl"
    done = harness("evaluate", str(samples_file(tmp_path, "leetcode_300", LEETCODE)), "--problems", str(problems),
                   "--out", str(out), "--quiet", "--no-calibrate", "--k", "1", "--workers", "2",
                   "--on-bad-problem", "skip")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        f"harness: skipped problem: {problems}:2: malformed JSON (Expecting property name enclosed in double quotes)",
        f"harness: skipped problem: {problems}:{len(lines)}: test code does not parse: '(' was never closed (line 2)"]
    results = {row["task_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert {t: r["outcome"] for t, r in results.items()} == dict.fromkeys(LEETCODE, "passed")


@pytest.mark.docker
def test_kodcode_trials_get_their_upstream_verdicts(docker_backend: Any, tmp_path: Path) -> None:
    results = judged(docker_backend, tmp_path, "kodcode_trials", list(KODCODE))
    assert {t: r["outcome"] for t, r in results.items()} == KODCODE
    upstream = {row["task_id"]: row["test_result"] == "Pass" for row in rows("kodcode_trials")}
    assert all(r["passed"] == upstream[t] for t, r in results.items())


@pytest.mark.docker
def test_classeval_references_pass(docker_backend: Any, tmp_path: Path) -> None:
    results = judged(docker_backend, tmp_path, "classeval", CLASSEVAL)
    assert {t: r["outcome"] for t, r in results.items()} == dict.fromkeys(CLASSEVAL, "passed")
    assert all(r["tests_passed"] == r["tests_total"] > 1 for r in results.values())  # every test of every class


@pytest.mark.docker
def test_bigcodebench_references_that_need_no_library_pass(docker_backend: Any, tmp_path: Path) -> None:
    results = judged(docker_backend, tmp_path, "bigcodebench_100", BIGCODEBENCH)
    assert {t: r["outcome"] for t, r in results.items()} == dict.fromkeys(BIGCODEBENCH, "passed")


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=dict(os.environ))
