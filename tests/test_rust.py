"""Rust in its sandbox image, against the real engine: hostile programs
never pass, legitimate ones get what they earn, HumanEvalPack's canonical
solutions pass and its buggy ones fail, stdin/stdout programs run per case;
nothing is left behind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from harness.limits import Limits
from harness.problems import CodeField, parse_problem
from harness.sandbox.cleanup import count_containers
from harness.sandbox.docker import DockerBackend
from harness.sandbox.labels import LABEL_RUN

from .conftest import TEST_LIMITS, check_pack_sample, check_stdin_programs, language_image, run_all
from .go_cases import SUM_CASES
from .rust_cases import HOSTILE, LEGIT, MULTIPLE, MULTIPLE_PROMPT, MULTIPLE_TESTS, NOT_PASSED, PROMPT, TEST

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def verdicts() -> Iterator[Mapping[str, tuple[str, str]]]:
    """case -> (outcome, detail): every case once, one warm container; then
    no container is left."""
    problem = parse_problem({"task_id": "Rust/add", "language": "rust", "test_kind": "program", "prompt": PROMPT,
                             "test": TEST, "entry_point": "add"}, "rust_cases")
    cases = {**HOSTILE, **{name: code for name, (code, _) in LEGIT.items()}}
    limits = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_bytes=256 << 20, output_bytes=1 << 20)
    backend = DockerBackend(image=language_image("rust"))
    found: dict[str, tuple[str, str]] = {}
    try:
        with backend.open_session(limits) as session:
            names = list(cases)
            programs = [problem.program(cases[name], CodeField.SOLUTION) for name in names]
            for name, ex in zip(names, run_all(problem, programs, limits, session), strict=True):
                found[name] = (ex.outcome.value, ex.detail)
            multiple = parse_problem({"name": "add", "language": "rs", "prompt": MULTIPLE_PROMPT,
                                      "tests": MULTIPLE_TESTS, "stop_tokens": ["\n}"]}, "rust_cases")
            names = list(MULTIPLE)
            programs = [multiple.program(MULTIPLE[name][0], CodeField.COMPLETION) for name in names]
            for name, ex in zip(names, session.run(multiple.id, multiple.test_spec(), programs, limits), strict=True):
                found["multiple:" + name] = (ex.outcome.value, ex.detail)
        yield found
    finally:
        backend.close()
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_rust_programs_never_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[name]
    assert outcome in NOT_PASSED, detail
    assert verdicts["right"][0] == "passed"  # the same tests pass a right program


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_rust_programs_get_their_verdict(verdicts, name: str) -> None:
    outcome, detail = verdicts[name]
    assert outcome == LEGIT[name][1], detail


@pytest.mark.parametrize("name", sorted(MULTIPLE))
def test_multipl_e_rust_layout(verdicts, name: str) -> None:
    outcome, detail = verdicts["multiple:" + name]
    assert outcome == MULTIPLE[name][1], detail


def test_the_rust_verdict_names_the_cause(verdicts) -> None:
    assert verdicts["wrong"][1].startswith("tests::test_add failed: assertion failed")
    assert verdicts["does_not_compile"][1].startswith("error")
    assert "overflow" in verdicts["overflows"][1]
    assert "before the tests finished" in verdicts["exit_zero_in_function"][1]
    assert "uses unsafe" in verdicts["uses_unsafe"][1]
    assert "include_str" in verdicts["reads_its_source"][1]
    assert "#[no_mangle]" in verdicts["replaces_a_c_function"][1]
    assert "mismatched types" in verdicts["changed_return_type"][1]
    assert "ambiguous" in verdicts["shadows_string_and_format"][1]


# Floats, strings, vectors, md5 (Rust/162) and a helper the prompt defines (Rust/10).
PACK_SAMPLE = ("Rust/0", "Rust/1", "Rust/10", "Rust/12", "Rust/38", "Rust/162")


def test_humanevalpack_rust_canonical_solutions_pass_and_buggy_ones_fail() -> None:
    check_pack_sample("humanevalpack_rust", "rust", PACK_SAMPLE)


SUM_PROGRAMS = {  # name -> (program, outcome, per-case outcomes)
    "right": ("use std::io::Read;\nfn main() {\n    let mut s = String::new();\n"
              "    std::io::stdin().read_to_string(&mut s).unwrap();\n"
              "    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();\n"
              "    println!(\"{}\", v[0] + v[1]);\n}\n", "passed", ["passed"] * 3),
    "uses_unsafe": ("fn main() {\n    unsafe { std::process::exit(0) }\n}\n", "error", ["error", "skipped", "skipped"]),
}


def test_rust_stdin_stdout_programs() -> None:
    check_stdin_programs("rust", SUM_CASES, SUM_PROGRAMS, TEST_LIMITS)
