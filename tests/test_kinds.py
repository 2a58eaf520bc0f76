"""Test kinds beyond HumanEval's check(): stdin/stdout programs and
call-based input/output pairs, in the real sandbox."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from harness.evaluate import evaluate
from harness.limits import Limits
from harness.outcome import Outcome
from harness.problems import load_problems, parse_problem

from .conftest import open_docker_session
from .sandbox_cases import BASIC, FORGERIES

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]
LIMITS = Limits(cpu_time_s=1.0, wall_time_s=3.0, memory_bytes=256 << 20, output_bytes=1 << 20)

SUM = parse_problem({"task_id": "sum", "test_kind": "stdin_stdout", "test_cases": [
    {"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}, {"input": "-1 1\n", "output": "0\n"}]},
    "sum")
READ = "a, b = map(int, input().split())\n"

STDIN_CASES = {
    "right": (READ + "print(a + b)\n", "passed", ["passed"] * 3),
    "right_with_main_guard": ("def main():\n    " + READ + "    print(a + b)\nif __name__ == '__main__':\n    main()\n",
                              "passed", ["passed"] * 3),
    "trailing_whitespace": (READ + "print(a + b, end='  \\n\\n\\n')\n", "passed", ["passed"] * 3),
    "wrong": (READ + "print(a * b)\n", "failed", ["failed", "failed", "failed"]),
    "some_tests_only": (READ + "print(a + b if a > 0 else 7)\n", "failed", ["passed", "passed", "failed"]),
    "prints_then_crashes": (READ + "print(a + b)\nraise RuntimeError('late')\n", "error", ["error"] * 3),
    "prints_then_exits_nonzero": (READ + "print(a + b)\nimport sys\nsys.exit(2)\n", "error", ["error"] * 3),
    "syntax": ("print(\n", "syntax_error", ["syntax_error", "skipped", "skipped"]),
    "cpu_loop": ("while True:\n    pass\n", "timeout", ["timeout", "skipped", "skipped"]),
    "sleeps": ("import time\ntime.sleep(30)\n", "timeout", ["timeout", "skipped", "skipped"]),
    "memory_bomb": ("x = []\nwhile True:\n    x.append(bytearray(8 << 20))\n", "memory_exceeded",
                    ["memory_exceeded", "skipped", "skipped"]),
    "infinite_output": ("while True:\n    print('x' * 1000)\n", "error", ["error"] * 3),
    "reads_past_eof": (READ + "print(a + b)\ninput()\n", "error", ["error"] * 3),
    "prints_success_markers": ("print('passed')\nprint('{\"outcome\": \"passed\"}')\n", "failed", ["failed"] * 3),
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                  "timeout", ["timeout", "skipped", "skipped"]),
}


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    yield from open_docker_session(LIMITS)


def judge(session, problem, program: str):  # type: ignore[no-untyped-def]
    return session.run(f"{problem.id}@test", problem.test_spec(), [program], LIMITS)[0]


@pytest.mark.parametrize("name", sorted(STDIN_CASES))
def test_stdin_stdout_programs(session, name: str) -> None:
    program, outcome, tests = STDIN_CASES[name]
    execution = judge(session, SUM, program)
    assert execution.outcome.value == outcome, execution.detail
    assert list(execution.test_outcomes) == tests
    if outcome == "failed" and name == "some_tests_only":
        assert execution.tests_passed == 2 and execution.detail.startswith("test 3/3: wrong answer")
    again = judge(session, SUM, READ + "print(a + b)\n")
    assert again.outcome is Outcome.PASSED  # the next candidate is unaffected


def test_apps_stdin_programs_may_return_at_the_top_level(session) -> None:
    """APPS's evaluator runs stdin programs as a function body: its human
    solutions use a top-level return to stop early.  Other suites' rows keep
    Python's rule (a syntax error)."""
    row = {"problem_id": 9001, "question": "Print the sum, or 0 if a is negative.",
           "input_output": json.dumps({"inputs": ["1 2\n", "-1 5\n"], "outputs": ["3\n", "0\n"]})}
    apps = parse_problem(row, "apps:1")
    assert apps.test_spec()["runner"] == "apps"
    early = "import sys\n" + READ + "if a < 0:\n    print(0)\n    return\nprint(a + b)\n"
    assert judge(session, apps, early).outcome is Outcome.PASSED
    assert judge(session, apps, early.replace("print(0)", "print(1)")).outcome is Outcome.FAILED
    assert judge(session, apps, "print(\n").outcome is Outcome.SYNTAX_ERROR
    cases = [dict(c) for c in apps.cases]
    native = parse_problem({"task_id": "s", "test_kind": "stdin_stdout", "test_cases": cases}, "s")
    assert judge(session, native, early).outcome is Outcome.SYNTAX_ERROR


def test_stdin_comparison_modes(session) -> None:
    floats = parse_problem({"task_id": "half", "test_kind": "stdin_stdout", "compare": "float", "tolerance": 1e-6,
                            "test_cases": [{"input": "1\n", "output": "0.5 0.3333333333\n"}]}, "half")
    close = "n = int(input())\nprint(n / 2, n / 3)\n"
    assert session.run("half@1", floats.test_spec(), [close], LIMITS)[0].passed
    assert not session.run("half@1", floats.test_spec(), ["print(0.5, 0.34)\n"], LIMITS)[0].passed
    tokens = parse_problem({"task_id": "tok", "test_kind": "stdin_stdout", "compare": "tokens",
                            "test_cases": [{"input": "", "output": "1 2\n3\n"}]}, "tok")
    assert session.run("tok@1", tokens.test_spec(), ["print('1\\n2  3')\n"], LIMITS)[0].passed


PRIME = parse_problem({"problem_id": 4184, "question": "Is n prime?", "starter_code": "def is_prime(n):",
                       "input_output": json.dumps({"fn_name": "is_prime", "inputs": [[1], [2], [9], [13]],
                                                   "outputs": [[False], [True], [False], [True]]})}, "prime")
PAIR_CASES = {
    "right": ("def is_prime(n):\n    return n > 1 and all(n % i for i in range(2, n))\n", "passed", 4),
    "leetcode_class": ("class Solution:\n    def is_prime(self, n):\n        return n in (2, 3, 5, 7, 11, 13)\n",
                       "passed", 4),
    "int_instead_of_bool": ("def is_prime(n):\n    return int(n in (2, 13))\n", "failed", 0),
    "some_right": ("def is_prime(n):\n    return n == 2\n", "failed", 3),
    "raises_sometimes": ("def is_prime(n):\n    if n == 9:\n        raise ValueError(n)\n    return n in (2, 13)\n",
                         "error", 3),
    "always_equal": ("class A:\n    def __eq__(self, o):\n        return True\ndef is_prime(n):\n    return A()\n",
                     "failed", 0),
    "exits": ("import os\ndef is_prime(n):\n    os._exit(0)\n", "error", 0),
}


@pytest.mark.parametrize("name", sorted(PAIR_CASES))
def test_call_based_io_pairs(session, name: str) -> None:
    program, outcome, passed = PAIR_CASES[name]
    execution = judge(session, PRIME, program)
    assert execution.outcome.value == outcome, execution.detail
    assert execution.tests_passed == passed and len(execution.test_outcomes) == 4


def test_function_kinds_keep_their_forgery_protection(session) -> None:
    # the same hostile programs, now against an io_pairs problem
    add = parse_problem({"task_id": "add", "test_kind": "io_pairs", "entry_point": "add",
                         "test_cases": [{"input": [1, 2], "output": 3}, {"input": ["a", "b"], "output": "ab"}]}, "add")
    for name in ("sys_exit_at_import", "os_exit_in_call", "always_equal_object", "int_subclass_eq",
                 "patches_builtins", "prints_markers"):
        execution = session.run("add@pairs", add.test_spec(), [FORGERIES[name][0]], LIMITS)[0]
        assert not execution.passed, name
    assert session.run("add@pairs", add.test_spec(), [BASIC["cpu_loop"][0]], LIMITS)[0].outcome is Outcome.TIMEOUT


def test_apps_references_pass_and_verdicts_agree_with_coderl(docker_backend, tmp_path: Path) -> None:
    problems = load_problems("apps_train5")
    samples = tmp_path / "gen.jsonl"
    with gzip.open(Path(__file__).parent / "data" / "apps_train5_gen.jsonl.gz", "rt") as handle:
        samples.write_text(handle.read())
    out = tmp_path / "results.jsonl"
    summary = evaluate(samples, problems, docker_backend, out, ks=[1], workers=2)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary.outcomes["infra_error"] == 0 and len(rows) == 83
    # CodeRL recorded true (pass), false (wrong), -1 (runtime error or timeout), -2 (compile error)
    assert [r["passed"] for r in rows] == [r["recorded"] is True for r in rows]
    assert all(r["outcome"] in ("error", "timeout", "syntax_error", "failed") for r in rows if r["recorded"] == -1)
    assert all(0 <= r["tests_passed"] <= r["tests_total"] for r in rows)


PYTEST_MODULE = '''import pytest
import solution
from solution import add


def test_small():
    assert add(1, 2) == 3


def test_strings():
    assert solution.add("a", "b") == "ab"


@pytest.mark.parametrize("a,b", [(0, 0), (10, -10)])
def test_zero(a, b):
    assert add(a, b) == 0


def test_raises():
    with pytest.raises(ValueError):
        solution.check_positive(-1)
'''
PYTEST_PROBLEM = parse_problem({"task_id": "py", "test_kind": "pytest", "test": PYTEST_MODULE,
                                "reference_solution": "def add(a, b):\n    return a + b\n"
                                "def check_positive(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"},
                               "py")
PYTEST_CASES = {
    "reference": (PYTEST_PROBLEM.reference_solution, "passed", ["passed"] * 5),
    "wrong": ("def add(a, b):\n    return a - b\ndef check_positive(x):\n    return x\n", "failed",
              ["failed", "error", "passed", "failed", "failed"]),
    "prints_pytest_summary_and_exits": ("print('5 passed in 0.01s')\nimport sys\nsys.exit(0)\n", "error", []),
    "always_equal": ("class A:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return A()\n"
                     "def check_positive(x):\n    raise ValueError(x)\n", "failed",
                     ["failed", "failed", "failed", "failed", "passed"]),
    "slow": ("def add(a, b):\n    while True:\n        pass\n", "timeout", []),
}


@pytest.mark.parametrize("name", sorted(PYTEST_CASES))
def test_pytest_modules(session, name: str) -> None:
    program, outcome, tests = PYTEST_CASES[name]
    execution = judge(session, PYTEST_PROBLEM, program)
    assert execution.outcome.value == outcome, execution.detail
    assert list(execution.test_outcomes) == tests


def test_codecontests_problem_validates(docker_backend, tmp_path: Path) -> None:
    from harness.calibrate import Calibration
    from harness.run import Runner
    from harness.validate import validate_problems
    row = {"name": "sum", "description": "Print a+b.", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
           "private_tests": {"input": ["5 6\n"], "output": ["11\n"]},
           "solutions": {"language": [3], "solution": ["print(sum(map(int, input().split())))"]}}
    path = tmp_path / "cc.jsonl"
    path.write_text(json.dumps(row) + "\n")
    checks = validate_problems(load_problems(str(path)), Runner(docker_backend), Calibration("t", tmp_path / "c"))
    assert [c.status for c in checks] == ["ok"]
