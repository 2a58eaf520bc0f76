"""Go's pure logic, no engine: HumanEvalPack and MultiPL-E rows, the file
the tests run in, and the reading of a program's imports and package-level
names that its refusal rests on."""

from __future__ import annotations

import pytest

from harness.problems import CodeField, TestKind, detect_layout, parse_problem
from harness.sandbox.agent.golang import go_declared, go_file, go_imports, go_refusal, go_test_main

PACK_ROW = {
    "task_id": "Go/2", "prompt": 'import (\n    "math"\n)\n\n// Doc.\nfunc Truncate(x float64) float64 {\n',
    "import": 'import (\n    "math"\n)\n', "declaration": "\nfunc Truncate(x float64) float64 {\n",
    "test_setup": 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n',
    "test": "func TestTruncate(t *testing.T) {\n    assert := assert.New(t)\n"
            "    assert.Equal(0.5, Truncate(3.5))\n}\n",
    "canonical_solution": "    return math.Mod(x, 1)\n}\n", "buggy_solution": "    return math.Mod(x, 1) + 1\n}\n",
    "entry_point": "truncate_number",
}


def test_humanevalpack_go_rows_keep_their_test_setup() -> None:
    assert detect_layout(PACK_ROW) == "humanevalpack"
    problem = parse_problem(PACK_ROW, "pack.jsonl:1")
    assert (problem.test_kind, problem.language, problem.entry_point) == (TestKind.PROGRAM, "go", "Truncate")
    assert problem.test.startswith("package main\n") and problem.test.endswith(PACK_ROW["test"])
    assert problem.reference_solution == PACK_ROW["prompt"] + PACK_ROW["canonical_solution"]
    assert problem.test_spec()["prototype"] == ""


def test_the_tests_file_is_the_one_humanevalpacks_evaluator_writes() -> None:
    problem = parse_problem(PACK_ROW, "pack.jsonl:1")
    program = problem.program(PACK_ROW["canonical_solution"], CodeField.COMPLETION)
    text = go_file(program, problem.test)
    assert text.startswith("package judged\n\nimport (\n    \"testing\"\n")
    assert text.index('"math"') < text.index("func Truncate") < text.index("func TestTruncate")
    # a whole program with its own clause and a test_setup import: neither twice
    text = go_file('package main\n\nimport (\n    "testing"\n    "strings"\n)\n\nfunc F() string '
                     '{ return strings.ToUpper("") }\n', problem.test)
    assert text.count("package ") == 1 and text.count('"testing"') == 1
    # a helper package used without an import gets one; an imported one does not
    assert '"fmt"' in go_file("func F() string { return fmt.Sprint(1) }\n", problem.test)
    assert '"fmt"' not in go_file('func F() string { return "fmt.Sprint" } // fmt.Sprint\n', problem.test)


def test_multipl_e_go_rows_are_one_file() -> None:
    row = {"name": "HumanEval_53_add", "language": "go_test.go", "stop_tokens": ["\nfunc"],
           "prompt": 'package add_test\n\nimport (\n    "testing"\n)\n\nfunc add(x int, y int) int {\n',
           "tests": "}\n\nfunc TestAdd(t *testing.T) {\n    if add(1, 2) != 3 { t.Fail() }\n}\n"}
    problem = parse_problem(row, "multiple.jsonl:1")
    assert (problem.language, problem.entry_point) == ("go", "add")
    text = go_file(problem.program("    return x + y\n", CodeField.COMPLETION), problem.test)
    assert text.startswith("package judged\n") and "return x + y\n}\n\nfunc TestAdd" in text


def test_imports_are_read_from_tokens() -> None:
    source = ('package p\n\nimport "fmt" // "os"\nimport (\n    u "unsafe"\n    . `strings`\n    /* "net" */\n)\n'
              'import _ "embed"\n\nvar s = "import \\"os\\""\n')
    assert go_imports(source) == ["fmt", "unsafe", "strings", "embed"]


def test_package_level_names_are_read_past_groups_and_line_continuations() -> None:
    source = ("const (\n    a = 1\n    b, true = 2,\n        3\n)\nvar (\n    x = f(\n        len,\n    )\n"
              "    y = 1 +\n        cap\n)\ntype int = float64\nfunc (r R) append() {}\n"
              "func Hello[T any](v T) { var nil = 3 }\nvar z = func() {}\n")
    assert go_declared(source) == ["a", "b", "true", "x", "y", "int", "Hello", "z"]


@pytest.mark.parametrize(("program", "refused"), [
    ("const true = 1 == 0\nfunc F() {}\n", "declares true at package level"),
    ("var (\n    len = 1\n    cap = 2\n)\n", "declares cap, len at package level"),
    ('import u "unsafe"\nfunc F() {}\n', "imports unsafe"),
    ("type box struct{}\nfunc (b box) len() int { return 0 }\nfunc F() { len := 1; _ = len }\n", ""),
    ('import "os"\nfunc F() { os.Exit(0) }\n', ""),
])
def test_what_a_go_program_is_refused_for(program: str, refused: str) -> None:
    assert (refused in go_refusal(program)) if refused else go_refusal(program) == ""


def test_the_judges_main_runs_each_test_and_marks_only_after_all() -> None:
    text = go_test_main(["TestA", "TestB"], "ab" * 16, "harness_done_x")
    assert '{"TestA", h_judged.TestA},' in text and '{"TestB", h_judged.TestB},' in text
    assert text.index("code := m.Run()") < text.index("harness_done_x()\n\t}")
    assert "ab" * 16 not in text  # only the two XOR halves are in the source
