"""C and C++ in their sandbox image, against the real engine: hostile
programs never pass, legitimate ones get what they earn, HumanEvalPack's
canonical solutions pass and its buggy ones fail, nothing is left behind."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping

import pytest

from harness.problems import CodeField, Problem, parse_problem
from harness.resources import data_dir
from harness.sandbox.cleanup import count_containers
from harness.sandbox.docker import DockerBackend
from harness.sandbox.labels import LABEL_RUN

from .conftest import TEST_LIMITS, check_pack_sample, language_image
from .native_cases import (
    ADD_PROMPT,
    ADD_TEST,
    CPP_HOSTILE,
    CPP_LEGIT,
    GREET_HEAD,
    GREET_PROMPT,
    GREET_RIGHT,
    GREET_TEST,
    HEAD,
    HOSTILE,
    LEGIT,
    NOT_PASSED,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

LANGUAGES = ("c", "cpp")


def program_problem(task_id: str, lang: str, prompt: str, test: str, entry_point: str) -> Problem:
    return parse_problem({"task_id": task_id, "language": lang, "test_kind": "program", "prompt": prompt,
                          "test": test, "entry_point": entry_point}, "native_cases")


def batches() -> list[tuple[Problem, str, dict[str, str]]]:
    """(problem, header, {case: program}) for each language and problem."""
    plan = []
    for lang in LANGUAGES:
        cases = {**HOSTILE, **{name: code for name, (code, _) in LEGIT.items()}}
        if lang == "cpp":
            cases.update({name: code for name, (code, _) in CPP_LEGIT.items()})
        plan.append((program_problem(f"add-{lang}", lang, ADD_PROMPT, ADD_TEST, "add"), HEAD, cases))
    greet = program_problem("greet", "cpp", GREET_PROMPT, GREET_TEST, "greet")
    plan.append((greet, GREET_HEAD, {**CPP_HOSTILE, "greet_right": GREET_RIGHT}))
    return plan


@pytest.fixture(scope="module")
def verdicts() -> Iterator[Mapping[tuple[str, str], tuple[str, str]]]:
    """(problem id, case) -> (outcome, detail), every case run once, a
    batch per problem, in one warm container; then no container is left."""
    backend = DockerBackend(image=language_image("cpp"))
    found: dict[tuple[str, str], tuple[str, str]] = {}
    try:
        with backend.open_session(TEST_LIMITS) as session:
            for problem, head, cases in batches():
                names = list(cases)
                programs = [problem.program(head + cases[name], CodeField.SOLUTION) for name in names]
                done: list = []
                while len(done) < len(names):  # a retired container leaves the rest to the next one
                    done += session.run(problem.id, problem.test_spec(), programs[len(done):], TEST_LIMITS)
                for name, ex in zip(names, done, strict=True):
                    found[(problem.id, name)] = (ex.outcome.value, ex.detail)
        yield found
    finally:
        backend.close()
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_programs_never_pass(verdicts, lang: str, name: str) -> None:
    outcome, detail = verdicts[(f"add-{lang}", name)]
    assert outcome in NOT_PASSED, detail


@pytest.mark.parametrize("name", sorted(CPP_HOSTILE))
def test_hostile_cpp_programs_never_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[("greet", name)]
    assert outcome in NOT_PASSED, detail
    assert verdicts[("greet", "greet_right")][0] == "passed"  # the same tests pass a right program


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_programs_get_their_verdict(verdicts, lang: str, name: str) -> None:
    outcome, detail = verdicts[(f"add-{lang}", name)]
    assert outcome == LEGIT[name][1], detail


@pytest.mark.parametrize("name", sorted(CPP_LEGIT))
def test_legitimate_cpp_programs_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[("add-cpp", name)]
    assert outcome == CPP_LEGIT[name][1], detail


def test_the_verdict_names_the_cause(verdicts) -> None:
    assert "Assertion `add(1, 2) == 3' failed" in verdicts[("add-c", "wrong")][1]
    assert "error: expected" in verdicts[("add-cpp", "does_not_compile")][1]
    assert "before the tests finished" in verdicts[("add-cpp", "exit_zero_in_function")][1]
    assert "defines __assert_fail" in verdicts[("add-c", "replace_assert_fail")][1]
    assert "#pragma redefine_extname" in verdicts[("add-c", "redefine_extname")][1]
    assert "namespace std" in verdicts[("greet", "operator_in_namespace_std")][1]


# Problems whose tests use helpers, strings, floats, vectors and OpenSSL (162).
PACK_SAMPLE = ("CPP/0", "CPP/1", "CPP/12", "CPP/38", "CPP/95", "CPP/162")


def test_humanevalpack_canonical_solutions_pass_and_buggy_ones_fail() -> None:
    check_pack_sample("humanevalpack_cpp", "cpp", PACK_SAMPLE)


SUM_CASES = [{"input": "1 2\n", "output": "3\n"}, {"input": "-5 5\n", "output": "0\n"},
             {"input": "1000000000 1000000000\n", "output": "2000000000\n"}]
SUM_PROGRAMS = {  # name -> (language, program, outcome, per-case outcomes)
    "cpp_right": ("cpp", "#include <iostream>\nint main() { long long a, b; std::cin >> a >> b; "
                         "std::cout << a + b << std::endl; }\n", "passed", ["passed"] * 3),
    "cpp_wrong_on_large": ("cpp", "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; "
                                  "std::cout << (a > 100 ? 0 : a + b); }\n", "failed", ["passed", "passed", "failed"]),
    "c_right": ("c", "#include <stdio.h>\nint main(void) { long long a, b; scanf(\"%lld %lld\", &a, &b); "
                     "printf(\"%lld\\n\", a + b); return 0; }\n", "passed", ["passed"] * 3),
    "c_does_not_compile": ("c", "int main(void) { return }\n", "syntax_error", ["syntax_error", "skipped", "skipped"]),
    "c_endless": ("c", "int main(void) { volatile int x = 0; for (;;) x++; }\n", "timeout",
                  ["timeout", "skipped", "skipped"]),
    "c_exit_1": ("c", "#include <stdio.h>\nint main(void) { puts(\"3\"); return 1; }\n", "error",
                 ["error", "error", "error"]),
}


@pytest.fixture(scope="module")
def sum_verdicts() -> Iterator[Mapping[str, object]]:
    """Each SUM_PROGRAMS program's execution, all in one warm container."""
    backend = DockerBackend(image=language_image("cpp"))
    found = {}
    try:
        with backend.open_session(TEST_LIMITS) as session:
            for name, (lang, program, _, _) in SUM_PROGRAMS.items():
                problem = parse_problem({"task_id": f"sum-{lang}", "language": lang, "test_kind": "stdin_stdout",
                                         "test_cases": SUM_CASES, "compare": "tokens"}, "native")
                [found[name]] = session.run(problem.id, problem.test_spec(), [program], TEST_LIMITS)
        yield found
    finally:
        backend.close()


@pytest.mark.parametrize("name", sorted(SUM_PROGRAMS))
def test_stdin_stdout_programs_in_c_and_cpp(sum_verdicts, name: str) -> None:
    _, _, outcome, cases = SUM_PROGRAMS[name]
    execution = sum_verdicts[name]
    assert execution.outcome.value == outcome, execution.detail
    assert list(execution.test_outcomes) == cases


def test_samples_in_several_languages_for_one_stdin_stdout_problem(tmp_path) -> None:
    """A Python stdin/stdout problem, solved in Python, C++ and C: each
    sample runs as its own language, in one run of the C/C++ image."""
    from harness.evaluate import evaluate
    from harness.problems import ProblemSet
    problem = parse_problem({"task_id": "sum", "test_kind": "stdin_stdout", "test_cases": SUM_CASES,
                             "compare": "tokens", "preamble": "import sys\n"}, "native")
    samples = tmp_path / "samples.jsonl"
    rows = [{"task_id": "sum", "solution": "a, b = map(int, input().split())\nprint(a + b)\n"},
            {"task_id": "sum", "language": "C++", "solution": SUM_PROGRAMS["cpp_right"][1]},
            {"task_id": "sum", "language": "c", "solution": SUM_PROGRAMS["c_right"][1]},
            {"task_id": "sum", "language": "cpp", "solution": SUM_PROGRAMS["cpp_wrong_on_large"][1]}]
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    backend = DockerBackend(image=language_image("cpp"))
    try:
        summary = evaluate(samples, ProblemSet("mixed", "mixed", {"sum": problem}), backend, tmp_path / "out.jsonl",
                           workers=1, ks=(1,))
    finally:
        backend.close()
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["outcome"] for row in out] == ["passed", "passed", "passed", "failed"], [r["detail"] for r in out]
    assert summary.n_candidates == 4


def test_curate_keeps_verified_cpp_in_cpp_fences(tmp_path) -> None:
    """The whole command on C++ samples: the image is the problems' own, the
    buggy program is not kept, the dataset says the language."""
    import subprocess
    import sys
    path = data_dir("problems") / "humanevalpack_cpp.jsonl.gz"
    rows = {row["task_id"]: row for row in map(json.loads, gzip.open(path, "rt"))}
    samples = tmp_path / "samples.jsonl"
    lines = [{"task_id": task_id, "completion": rows[task_id][field], "model": field}
             for task_id in ("CPP/0", "CPP/2") for field in ("canonical_solution", "buggy_solution")]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "verified"
    command = ["curate", "--samples", str(samples), "--problems", "humanevalpack_cpp", "--top-k", "1",
               "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "harness", *command], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kept = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sorted(row["task_id"] for row in kept) == ["CPP/0", "CPP/2"]
    assert all(row["language"] == "cpp" and row["model"] == "canonical_solution" for row in kept)
    assert all(row["messages"][1]["content"].startswith("```cpp\n") for row in kept)
    from harness.sandbox.prereqs import docker_client
    client = docker_client()
    try:
        image_id = client.images.get(language_image("cpp")).id
    finally:
        client.close()
    assert {row["sandbox"] for row in kept} == {f"docker:{image_id}:process"}  # judged in the C/C++ image


def test_a_run_of_c_problems_on_an_image_without_a_compiler_says_so() -> None:
    from harness.errors import PrerequisiteError
    from harness.protocol import COMPILERS
    from harness.sandbox.prereqs import require_image

    from .conftest import IMAGE
    with pytest.raises(PrerequisiteError, match=r"has no /usr/bin/g\+\+, /usr/bin/gcc, which C and C\+\+ problems "
                                                r"need; use the image `harness sandbox build --languages cpp`"):
        require_image(IMAGE, needs_tools=COMPILERS)
    require_image(language_image("cpp"), needs_tools=COMPILERS)


def test_sandbox_check_looks_at_the_language_images_and_their_compilers(monkeypatch, capsys) -> None:
    from harness.cli import main

    from .conftest import IMAGE
    cpp = language_image("cpp")
    assert main(["sandbox", "check", "--languages", "c++"]) == 0
    assert f"ok: engine reachable, image {cpp} (Python" in capsys.readouterr().out
    monkeypatch.setenv("HARNESS_IMAGE_CPP", IMAGE)  # an image without g++ named as the C/C++ one
    assert main(["sandbox", "check", "--languages", "cpp"]) == 3
    assert "MISSING: image " + IMAGE + " has no /usr/bin/g++" in capsys.readouterr().out
