"""The pure parts of compiled-language support: languages and images, the
HumanEvalPack layout, and the agent's ``native`` helpers (macro listing,
the composed source, ELF symbols), without Docker."""

from __future__ import annotations

import os

import pytest

from harness.cli import _language_image
from harness.errors import ConfigError, ProblemError
from harness.languages import image_folders, language
from harness.problems import CodeField, ProblemSet, TestKind, detect_layout, parse_problem, prototype
from harness.sandbox.agent.native import Listing, compose, elf_symbols, first_error, refusal, replaced_runtime

PACK_ROW = {
    "task_id": "CPP/0", "prompt": "/*\nDoc.\n*/\n#include<vector>\nusing namespace std;\nbool f(vector<int> v){\n",
    "declaration": "#include<vector>\nusing namespace std;\n#include<algorithm>\nbool f(vector<int> v){\n",
    "canonical_solution": "    return v.empty();\n}\n", "buggy_solution": "    return 1;\n}\n",
    "test": "#undef NDEBUG\n#include<assert.h>\nint main(){\n    assert (f({}) == true);\n}\n",
}


def test_languages_by_name_and_alias() -> None:
    assert language("C++").name == "cpp" and language("c").folder == "cpp"
    assert image_folders(["c", "cpp"]) == ["cpp"] and image_folders(["all"]) == ["python", "cpp", "go", "rust",
                                                                                   "javascript", "java"]
    with pytest.raises(ConfigError, match="no sandbox for language 'cobol'"):
        language("cobol")


def test_humanevalpack_rows_become_program_problems() -> None:
    assert detect_layout(PACK_ROW) == "humanevalpack"
    problem = parse_problem(PACK_ROW, "pack.jsonl:1")
    assert (problem.test_kind, problem.language, problem.entry_point) == (TestKind.PROGRAM, "cpp", "f")
    # the declaration's includes the prompt lacks come first, then the prompt the model continued
    assert problem.program("    return true;\n}\n", CodeField.COMPLETION) == (
        "#include<algorithm>\n" + PACK_ROW["prompt"] + "    return true;\n}\n")
    assert problem.reference_solution == problem.program(PACK_ROW["canonical_solution"], CodeField.COMPLETION)
    assert problem.test_spec()["prototype"] == "bool f(vector<int> v);"


def test_a_language_without_a_sandbox_is_a_one_line_problem_error() -> None:
    with pytest.raises(ProblemError, match=r"m.jsonl:3: HumanEval_23_strlen: no sandbox for MultiPL-E's lua yet"):
        parse_problem(dict(MULTIPLE_ROW, language="lua"), "m.jsonl:3")
    with pytest.raises(ProblemError, match="not python"):
        parse_problem({"task_id": "x", "language": "python", "test_kind": "program", "test": "}"}, "f:1")


@pytest.mark.parametrize(("prompt", "expected"), [
    ("int add(int a, int b){\n", "int add(int a, int b);"),
    ("/* doc */\nstring f (string s) {\n", "string f (string s);"),
    ("int add(int a, int b = 2){\n", ""),  # a default argument cannot be given twice
    ("int add(int a, int b);\n", ""),  # not an opening line
    ("template <class T> T add(T a, T b){\n", ""),
])
def test_prototype_from_the_prompts_last_line(prompt: str, expected: str) -> None:
    assert prototype(prompt, prompt.split("(")[0].split()[-1]) == expected


def test_the_image_follows_the_languages_of_problems_and_samples(tmp_path) -> None:
    from harness.cli import _run_languages
    cpp = parse_problem(PACK_ROW, "p:1")
    python = parse_problem({"task_id": "p", "prompt": "def f():\n", "test": "def check(c):\n    pass\n",
                            "entry_point": "f"}, "p:2")
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"task_id": "p", "solution": "x", "language": "C++"}\n{"language": "cobol"}\nnot json\n')
    assert _run_languages(ProblemSet("s", "s", {"b": python}), str(samples)) == {"python", "cpp"}
    assert _run_languages(ProblemSet("s", "s", {"a": cpp}), None) == {"cpp"}
    default = "harness-sandbox-python:1"
    assert _language_image(default, {"cpp"}) == "harness-sandbox-cpp:1"
    assert _language_image("mine:2", {"cpp"}) == "mine:2"  # bring your own
    # the C/C++ image holds the Python sandbox too: one run may mix them
    assert _language_image(default, {"python", "cpp", "c"}) == "harness-sandbox-cpp:1"
    assert _language_image(default, {"python"}) == default


PREPROCESSED = '''# 0 "main.cpp"
# 1 "/usr/include/stdio.h" 1 3 4
#define EOF (-1)
#pragma GCC visibility push(default)
# 2 "main.cpp" 2
#define assert(x) 1
#define TWICE(x) (2 * (x))
#undef NDEBUG
#pragma GCC optimize("O2")
int add(int a, int b) { return 0; }
'''


def test_the_listing_is_the_programs_own_not_its_headers() -> None:
    listing = Listing(PREPROCESSED, "main.cpp")
    assert listing.macros == ["assert", "TWICE", "NDEBUG"]
    assert listing.pragmas == ['GCC optimize("O2")']
    assert listing.code.strip() == "int add(int a, int b) { return 0; }"
    assert refusal(listing) == ""


@pytest.mark.parametrize(("code", "reason"), [
    ("#pragma redefine_extname strcmp mine", "uses #pragma redefine_extname"),
    ("#pragma weak abort", "uses #pragma weak"),
    ("namespace std { bool operator==(const string &a, const char *b) { return true; } }", "operator in namespace"),
    ("namespace std { inline namespace v1 { bool operator!=(int, S) { return 0; } } }", "operator in namespace"),
    ("template <> std::size_t std::string::size() const noexcept { return 5; }", "specializes a function"),
    ("namespace std { template <> void swap(S &a, S &b) noexcept {} }", "specializes a function"),
])
def test_changes_to_the_standard_library_and_linking_are_refused(code: str, reason: str) -> None:
    text = '# 1 "main.cpp"\n' + code + "\n"
    assert reason in refusal(Listing(text, "main.cpp"))


@pytest.mark.parametrize("code", [
    "namespace std { template <> struct hash<P> { size_t operator()(const P &p) const { return p.a; } }; }",
    "struct V { bool operator==(const V &o) const { return true; } };\nbool operator<(V a, V b) { return false; }",
    "namespace mine { bool operator==(S, S) { return true; } }",
    'const char *s = "namespace std { bool operator==";',
])
def test_ordinary_cpp_is_not_refused(code: str) -> None:
    assert refusal(Listing('# 1 "main.cpp"\n' + code + "\n", "main.cpp")) == ""


def test_the_guard_stands_between_the_program_and_the_tests() -> None:
    spec = {"language": "cpp", "entry_point": "add", "prototype": "int add(int a, int b);",
            "test": "#undef NDEBUG\n#include <assert.h>\nint main(){\n    assert(add(1, 2) == 3);\n}\n"}
    listing = Listing('# 1 "main.cpp"\n#define assert(x) 1\n#define main other\n', "main.cpp")
    text = compose("int add(int a, int b) { return a + b; }", spec, listing, ("done_1", "fail_1", "tests_1"),
                   "ab" * 16)
    program_end = text.index("return a + b; }") + len("return a + b; }")
    for part in ("#undef assert", "#undef main", "#include <assert.h>", "int add(int a, int b);",
                 "static_assert(sizeof(&::add)", "#define assert(e) ((e) ? (void)0 : fail_1(#e, __LINE__))"):
        assert text.index(part) > program_end, part
    # the tests' own include comes before their namespace, their body inside it, the mark at their end
    assert text.index("#include <assert.h>") < text.index("namespace tests_1 {") < text.index("int main(){")
    assert "assert(add(1, 2) == 3);\ndone_1();\nreturn 0;\n}\n}\nint main() { return tests_1::main(); }" in text
    assert "ab" * 16 not in text  # the mark is only ever there as two XOR halves
    c_text = compose("int add(int a, int b) { return a + b; }", dict(spec, language="c"), listing,
                     ("done_1", "fail_1", "tests_1"), "ab" * 16)
    assert "namespace" not in c_text and "static_assert" not in c_text
    with pytest.raises(ValueError, match="closing brace"):
        compose("", {"test": "int main()", "language": "c"}, listing, ("d", "f", "t"), "m")


def test_runtime_symbols_from_a_real_library() -> None:
    libc = next((p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6")
                 if os.path.exists(p)), None)
    if libc is None:
        pytest.skip("no glibc here")
    with open(libc, "rb") as handle:
        names = {name.split("@")[0] for name, _ in elf_symbols(handle.read(), True)}
    assert {"__assert_fail", "abort", "write", "exit"} <= names
    assert elf_symbols(b"not an ELF file", True) == set()


def test_a_replaced_runtime_function_is_named(tmp_path) -> None:
    compiler = next((c for c in ("/usr/bin/gcc", "/usr/bin/cc") if os.path.exists(c)), None)
    if compiler is None:
        pytest.skip("no C compiler on this host")

    def build(name: str, text: str) -> str:
        (tmp_path / f"{name}.c").write_text(text)
        assert os.system(f"{compiler} -o {tmp_path / name} {tmp_path / name}.c 2>/dev/null") == 0
        return str(tmp_path / name)

    empty = build("empty", "int main(void) { return 0; }\n")
    baseline = {name for name, _ in elf_symbols((tmp_path / "empty").read_bytes(), False)}
    hostile = build("hostile", "#include <stdlib.h>\nvoid abort(void) { exit(0); }\n"
                               "__attribute__((weak)) void __assert_fail(void) {}\nint main(void) { return 0; }\n")
    assert replaced_runtime(hostile, baseline) == ["__assert_fail", "abort"]
    assert replaced_runtime(empty, baseline) == []


def test_the_first_compiler_error_is_the_detail() -> None:
    text = "main.cpp: In function 'int f()':\nmain.cpp:4:15: error: expected ';'\nmain.cpp:9:1: error: later\n"
    assert first_error(text) == "main.cpp:4:15: error: expected ';'"


def test_code_is_extracted_from_replies_in_the_problems_language() -> None:
    from harness.generate import extract_code
    reply = ("Here:\n```python\ndef add(a, b):\n    return a + b\n```\nIn C++:\n```cpp\n#include <cstdio>\n"
             "int add(int a, int b) {\n    return a + b;\n}\n```\n")
    assert extract_code(reply, "add", "cpp").code.startswith("#include <cstdio>\nint add(")
    assert extract_code(reply, "add").code.startswith("def add(")
    assert extract_code("int add(int a, int b) { return a + b; }", "add", "c").how == "bare"
    assert extract_code("no code here", "add", "cpp").how == "failed"


def test_the_sft_turn_is_fenced_in_the_programs_language() -> None:
    from harness.export import fenced
    assert fenced("int main() {}\n", "cpp") == "```cpp\nint main() {}\n```"


def test_a_sample_may_name_its_language_only_for_stdin_stdout_problems() -> None:
    from harness.errors import SampleError
    from harness.job import jobs_from_samples
    from harness.limits import Limits
    from harness.samples import parse_sample
    script = parse_problem({"task_id": "s", "test_kind": "stdin_stdout", "preamble": "import sys\n",
                            "test_cases": [{"input": "1\n", "output": "1\n"}]}, "p:1")
    problems = ProblemSet("s", "s", {"s": script, "CPP/0": parse_problem(PACK_ROW, "p:2")})
    sample = parse_sample({"task_id": "s", "solution": "int main() {}", "language": "C++"}, "s.jsonl:1", 0, 1, problems)
    assert sample.language == "cpp"
    [job] = jobs_from_samples([sample], problems, lambda problem: Limits())
    assert job.spec["language"] == "cpp" and job.candidates[0].program == "int main() {}"  # no Python preamble
    with pytest.raises(SampleError, match="s.jsonl:2: a python program for cpp problem CPP/0"):
        parse_sample({"task_id": "CPP/0", "completion": "x", "language": "python"}, "s.jsonl:2", 1, 2, problems)
    with pytest.raises(SampleError, match="s.jsonl:3: no sandbox for language 'cobol'"):
        parse_sample({"task_id": "s", "solution": "x", "language": "cobol"}, "s.jsonl:3", 2, 3, problems)


@pytest.mark.parametrize(("source", "moves"), [
    ('#line 1 "/usr/include/stdio.h"\n#define if(x) if (0)\n', True),
    ('# 1 "/usr/include/stdio.h" 1 3 4\n', True),
    ('  %: line 7\n', True),
    ('#\\\nline 7\n', True),
    ('#/* a comment */line 7\n', True),
    ('??=line 7\n', True),
    ('int x; // #line 7\n', False),
    ('const char *s = "\\n#line 7";\n', False),
    ('/*\n#line 7\n*/\n', False),
    ('#include <stdio.h>\n#define LINE 7\n', False),
])
def test_programs_that_set_their_own_line_markers_are_found(source: str, moves: bool) -> None:
    from harness.sandbox.agent.native import moves_lines
    assert moves_lines(source) is moves


MULTIPLE_ROW = {"name": "HumanEval_23_strlen", "language": "cpp", "stop_tokens": ["\n}"],
                "prompt": "#include<assert.h>\n#include<bits/stdc++.h>\n// Length.\n"
                          "long string_length(std::string s) {\n",
                "tests": "}\nint main() {\n    auto candidate = string_length;\n"
                         "    assert(candidate((\"x\")) == (1));\n}\n"}


def test_multiple_rows_close_the_function_the_completion_left_open() -> None:
    assert detect_layout(MULTIPLE_ROW) == "multiple"
    problem = parse_problem(MULTIPLE_ROW, "multiple.jsonl:1")
    assert (problem.id, problem.entry_point, problem.language) == ("HumanEval_23_strlen", "string_length", "cpp")
    program = problem.program("    return s.size();\n", CodeField.COMPLETION)
    text = compose(program, problem.test_spec(), Listing("", "main.cpp"), ("d", "f", "t"), "m" * 32)
    # the tests' leading brace closes the function before the guard, not after it
    assert text.index("return s.size();\n\n}") < text.index("#include <unistd.h>") < text.index("auto candidate")
    with pytest.raises(ProblemError, match="no sandbox for MultiPL-E.s kt yet"):
        parse_problem(dict(MULTIPLE_ROW, language="kt"), "multiple.jsonl:2")


def test_javascript_rows_name_the_function_their_declaration_declares() -> None:
    """HumanEvalPack's entry_point field misnames JavaScript/114's function
    (minSubarraySum for minSubArraySum): the declaration's line decides."""
    row = {"task_id": "JavaScript/114", "prompt": "/* doc */\nconst minSubArraySum = (nums) => {\n",
           "declaration": "\nconst minSubArraySum = (nums) => {\n", "entry_point": "minSubarraySum",
           "test": "console.assert(minSubArraySum([1]) === 1)\n", "canonical_solution": "  return 1\n}\n"}
    problem = parse_problem(row, "pack.jsonl:1")
    assert (problem.language, problem.entry_point, problem.test_kind) == ("javascript", "minSubArraySum",
                                                                          TestKind.PROGRAM)
    declared = dict(row, declaration="function addAll(xs) {\n", prompt="function addAll(xs) {\n")
    assert parse_problem(declared, "pack.jsonl:2").entry_point == "addAll"
    multiple = parse_problem(dict(MULTIPLE_ROW, language="js", prompt="function string_length(s){\n"), "m.jsonl:1")
    assert (multiple.language, multiple.entry_point) == ("javascript", "string_length")


def test_pairs_and_repair_rows_fence_code_in_the_problems_language() -> None:
    from harness.failures import Failure
    from harness.pairs import correctness_pairs
    from harness.repair import repair_rows
    from harness.select import Ranked, Survivor
    kept = {"t": [Ranked(Survivor(0, "t", "int f() { return 1; }", "", 20, 0.001, {}), 0.001, 1)]}
    failing = {"t": [Failure(1, "t", "int f() { return 0; }", "failed", "Assertion")]}
    [pair] = correctness_pairs(kept, failing, {"t": "f?"}, 1, {"t": "cpp"})
    assert pair["chosen"][0]["content"].startswith("```cpp\n") and pair["rejected"][0]["content"].startswith("```cpp")
    [row] = repair_rows(kept, failing, {"t": "f?"}, 1, {"t": "c"})
    assert all(turn["content"].startswith("```c\n") for turn in row["messages"] if turn["role"] == "assistant")


def test_a_failed_assertion_longer_than_the_tail_is_still_a_failed_test() -> None:
    from harness.sandbox.agent.native import verdict
    expr = "candidate(x) == std::vector<long>({" + ", ".join(map(str, range(800))) + "})"
    line = f"Assertion `{expr}' failed (line 9)\n"
    ended = {"outcome": "error", "detail": "exit status 1", "anomaly": False,
             "stderr_head": line[:2048], "stderr_tail": line[-2048:], "mark": ""}
    judged = verdict(dict(ended), "m" * 32)
    assert judged["outcome"] == "failed" and judged["detail"].startswith("Assertion `candidate(x) == ")
    crashed = dict(ended, stderr_head="", stderr_tail="", detail="killed by SIGSEGV")
    assert verdict(crashed, "m" * 32)["outcome"] == "error"
    assert verdict(dict(crashed, outcome="ran", mark="junk"), "m" * 32)["outcome"] == "error"
    assert verdict(dict(crashed, outcome="ran", mark="m" * 32), "m" * 32)["outcome"] == "passed"


def test_a_compiler_that_cannot_start_is_an_infra_error_not_the_programs() -> None:
    from harness.sandbox.agent.native import NativeRun
    from harness.sandbox.agent.zygote import EXEC_FAILED
    native = NativeRun(None, "", {}, "key", {"language": "cpp"})
    ended = {"outcome": "error", "detail": "exit status 127", "anomaly": False, "stderr_tail": "",
             "stderr_head": EXEC_FAILED + "/usr/bin/g++: [Errno 2] No such file or directory\n"}
    assert native.build_failure(ended, "compiling")["outcome"] == "infra_error"
    ended.update(stderr_head="main.cpp:3:1: error: expected ';'\n", detail="exit status 1")
    assert native.build_failure(ended, "compiling") | {"detail": ""} == native.finished("syntax_error", "")
