"""JavaScript in its sandbox image, against the real engine: the program in
one node process, the tests in the judge's; hostile programs never pass,
legitimate ones get what they earn, values cross as the same plain data, in
HumanEvalPack's and MultiPL-E's layouts and as stdin/stdout programs;
HumanEvalPack's canonical solutions pass and its buggy ones fail; nothing is
left behind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from harness.limits import Limits
from harness.problems import CodeField, Problem, parse_problem
from harness.sandbox.cleanup import count_containers
from harness.sandbox.docker import DockerBackend
from harness.sandbox.labels import LABEL_RUN

from .conftest import TEST_LIMITS, check_pack_sample, check_stdin_programs, language_image, layout_verdicts, run_all
from .js_cases import (
    ECHO,
    ECHO_PROMPT,
    ECHO_TEST,
    HOSTILE,
    LEGIT,
    MEMORY_HOG,
    MULTIPLE,
    MULTIPLE_PROMPT,
    MULTIPLE_TESTS,
    NOT_PASSED,
    PACK_PROMPT,
    PACK_TEST,
    SUM_CASES,
    SUM_PROGRAMS,
    TS_MULTIPLE,
    TS_PROMPT,
    TS_SUM_PROGRAMS,
    TS_TESTS,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def pack_problem(task_id: str, prompt: str, test: str, entry_point: str) -> Problem:
    return parse_problem({"task_id": task_id, "language": "javascript", "test_kind": "program", "prompt": prompt,
                          "test": test, "entry_point": entry_point}, "js_cases")


@pytest.fixture(scope="module")
def verdicts() -> Iterator[Mapping[tuple[str, str], tuple[str, str]]]:
    """(layout, case) -> (outcome, detail): every case once, one warm container."""
    yield from layout_verdicts("javascript", TEST_LIMITS, [
        ("pack", pack_problem("JavaScript/add", PACK_PROMPT, PACK_TEST, "add"), CodeField.SOLUTION,
         {**HOSTILE, **{name: code for name, (code, _) in LEGIT.items()}}),
        ("echo", pack_problem("JavaScript/echo", ECHO_PROMPT, ECHO_TEST, "echo"), CodeField.SOLUTION,
         {name: code for name, (code, _) in ECHO.items()}),
        ("multiple", parse_problem({"name": "add", "language": "js", "prompt": MULTIPLE_PROMPT,
                                    "tests": MULTIPLE_TESTS, "stop_tokens": ["\nfunction "]}, "js_cases"),
         CodeField.COMPLETION, {name: code for name, (code, _) in MULTIPLE.items()}),
        ("typescript", parse_problem({"name": "add_ts", "language": "ts", "prompt": TS_PROMPT, "tests": TS_TESTS,
                                      "stop_tokens": ["\nfunction "]}, "js_cases"),
         CodeField.COMPLETION, {name: code for name, (code, _) in TS_MULTIPLE.items()}),
    ])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_javascript_programs_never_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome in NOT_PASSED, detail
    assert verdicts[("pack", "right")][0] == "passed"  # the same tests pass a right program


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_javascript_programs_get_their_verdict(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome == LEGIT[name][1], detail


@pytest.mark.parametrize("name", sorted(ECHO))
def test_values_cross_as_the_same_plain_data(verdicts, name: str) -> None:
    outcome, detail = verdicts[("echo", name)]
    assert outcome == ECHO[name][1], detail


@pytest.mark.parametrize("name", sorted(MULTIPLE))
def test_multipl_e_layout(verdicts, name: str) -> None:
    outcome, detail = verdicts[("multiple", name)]
    assert outcome == MULTIPLE[name][1], detail


@pytest.mark.parametrize("name", sorted(TS_MULTIPLE))
def test_typescript_in_multipl_e_layout(verdicts, name: str) -> None:
    outcome, detail = verdicts[("typescript", name)]
    assert outcome == TS_MULTIPLE[name][1], detail


def test_the_javascript_verdict_names_the_cause(verdicts) -> None:
    assert verdicts[("pack", "wrong")][1] == "console.assert failed at line 2 of the tests: " \
                                             "console.assert(add(1, 2) === 3)"
    assert verdicts[("pack", "does_not_parse")][1] == "Unexpected token '}'"
    assert verdicts[("pack", "throws")][1] == "the program raised RangeError: out of range"
    assert verdicts[("pack", "defines_another_name")][1] == "the program does not define add"
    assert verdicts[("pack", "exit_zero_in_function")][1] == "candidate process exited with status 0 during the tests"
    assert verdicts[("multiple", "wrong")][1].startswith("threw AssertionError [ERR_ASSERTION]: Expected values")
    assert "cannot cross" in verdicts[("echo", "returns_a_function")][1]
    assert verdicts[("typescript", "type_error")][1] == ("main.ts(3,3): error TS2322: Type 'string' is not "
                                                         "assignable to type 'number'.")


def test_a_javascript_memory_hog_is_memory_exceeded() -> None:
    problem = pack_problem("JavaScript/add", PACK_PROMPT, PACK_TEST, "add")
    limits = Limits(cpu_time_s=10.0, wall_time_s=20.0, memory_bytes=256 << 20, output_bytes=1 << 20)
    backend = DockerBackend(image=language_image("javascript"))
    try:
        with backend.open_session(limits) as session:
            [done] = run_all(problem, [problem.program(MEMORY_HOG, CodeField.SOLUTION)], limits, session)
    finally:
        backend.close()
    assert (done.outcome.value, done.detail) == ("memory_exceeded", "memory limit of 256 MiB exceeded")


# Numbers, arrays, a helper function the prompt defines and Math.random in the
# tests (JavaScript/38), js-md5 (JavaScript/162), an entry_point field that
# misnames the function (JavaScript/114).
PACK_SAMPLE = ("JavaScript/0", "JavaScript/12", "JavaScript/38", "JavaScript/114", "JavaScript/162")


def test_humanevalpack_javascript_canonical_solutions_pass_and_buggy_ones_fail() -> None:
    check_pack_sample("humanevalpack_js", "javascript", PACK_SAMPLE)


@pytest.mark.parametrize(("language", "isolation"), [("javascript", "process"), ("javascript", "container"),
                                                     ("typescript", "process")])
def test_javascript_and_typescript_stdin_stdout_programs(language: str, isolation: str) -> None:
    programs = SUM_PROGRAMS if language == "javascript" else TS_SUM_PROGRAMS
    done = check_stdin_programs(language, SUM_CASES, programs, TEST_LIMITS, isolation)
    said = done["does_not_parse" if language == "javascript" else "type_error"].detail
    assert "SyntaxError" in said or "error TS2322" in said


def test_evaluate_runs_typescript_problems_from_the_command_line(tmp_path) -> None:
    """The whole CLI path (image probe included, which once refused every
    TypeScript run): HumanEvalPack's JavaScript rows as TypeScript, canonical
    and buggy; /114's declaration names the function its entry_point misnames."""
    import gzip
    import json

    from harness.cli import main
    from harness.resources import data_dir
    language_image("typescript")  # skips, saying why, without the image
    rows = [json.loads(line) for line in gzip.open(data_dir("problems") / "humanevalpack_js.jsonl.gz", "rt")]
    chosen = [dict(row, task_id=row["task_id"].replace("JavaScript/", "TypeScript/")) for row in rows
              if row["task_id"] in ("JavaScript/0", "JavaScript/114")]
    problems, samples, out = tmp_path / "ts.jsonl", tmp_path / "samples.jsonl", tmp_path / "out.jsonl"
    problems.write_text("".join(json.dumps(row) + "\n" for row in chosen))
    samples.write_text("".join(json.dumps({"task_id": row["task_id"], "completion": row[field]}) + "\n"
                               for row in chosen for field in ("canonical_solution", "buggy_solution")))
    assert main(["evaluate", str(samples), "--problems", str(problems), "--out", str(out), "--quiet",
                 "--no-cache", "--no-calibrate", "--k", "1"]) == 0
    outcomes = [json.loads(line)["outcome"] for line in out.read_text().splitlines()]
    assert outcomes[0::2] == ["passed", "passed"] and not {"passed", "infra_error"} & set(outcomes[1::2]), outcomes


def test_javascript_in_container_isolation() -> None:
    """A container per candidate: the judge starts in each one, and the
    verdicts are the same."""
    problem = pack_problem("JavaScript/add", PACK_PROMPT, PACK_TEST, "add")
    names = ["right", "wrong", "exit_zero_in_function", "overrides_console_assert"]
    code = {**HOSTILE, **{name: program for name, (program, _) in LEGIT.items()}}
    backend = DockerBackend(image=language_image("javascript"), isolation="container")
    try:
        with backend.open_session(TEST_LIMITS) as session:
            done = run_all(problem, [problem.program(code[name], CodeField.SOLUTION) for name in names],
                           TEST_LIMITS, session)
    finally:
        backend.close()
    assert [ex.outcome.value for ex in done] == ["passed", "failed", "error", "failed"]
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0


def test_sandbox_check_looks_at_the_javascript_image_and_node(monkeypatch, capsys) -> None:
    from harness.cli import main
    from harness.protocol import TYPESCRIPT

    from .conftest import IMAGE
    image = language_image("javascript")
    # TypeScript's compiler is a script node reads, not an executable: the probe once refused it
    assert main(["sandbox", "check", "--languages", "js,ts"]) == 0
    assert f"image {image} (Python" in capsys.readouterr().out
    monkeypatch.setenv("HARNESS_IMAGE_JAVASCRIPT", IMAGE)  # an image without node named as the JavaScript one
    assert main(["sandbox", "check", "--languages", "javascript"]) == 3
    assert (f"MISSING: image {IMAGE} has no /usr/bin/node, which JavaScript and TypeScript problems need; "
            "use the image `harness sandbox build --languages javascript` makes") in capsys.readouterr().out
    assert main(["sandbox", "check", "--languages", "ts"]) == 3  # TypeScript also needs its compiler
    assert f"MISSING: image {IMAGE} has no /usr/bin/node, {TYPESCRIPT}," in capsys.readouterr().out
