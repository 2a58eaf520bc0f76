"""Java in its sandbox image, against the real engine: the program and the
tests in one JVM whose main is the judge's, a security manager between
them; hostile programs never pass, legitimate ones get what they earn, in
HumanEvalPack's and MultiPL-E's layouts and as stdin/stdout programs;
HumanEvalPack's canonical solutions pass and its buggy ones fail; nothing is
left behind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from harness.limits import Limits
from harness.problems import CodeField, Problem, parse_problem

from .conftest import check_pack_sample, check_stdin_programs, language_image, layout_verdicts
from .java_cases import (
    HOSTILE,
    LEGIT,
    LIST_PROMPT,
    LIST_TEST,
    LISTS,
    MULTIPLE,
    MULTIPLE_PROMPT,
    MULTIPLE_TESTS,
    NOT_PASSED,
    PACK_PROMPT,
    PACK_TEST,
    SUM_CASES,
    SUM_PROGRAMS,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

# A JVM starts in about half a second here and javac in about one: more CPU
# time than the other languages' tests get, the same for every case.
JAVA_LIMITS = Limits(cpu_time_s=4.0, wall_time_s=10.0, memory_bytes=256 << 20, output_bytes=1 << 20)


def pack_problem(task_id: str, prompt: str, test: str, entry_point: str) -> Problem:
    return parse_problem({"task_id": task_id, "language": "java", "test_kind": "program", "prompt": prompt,
                          "test": test, "entry_point": entry_point}, "java_cases")


@pytest.fixture(scope="module")
def verdicts() -> Iterator[Mapping[tuple[str, str], tuple[str, str]]]:
    """(layout, case) -> (outcome, detail): every case once, one warm container."""
    yield from layout_verdicts("java", JAVA_LIMITS, [
        ("pack", pack_problem("Java/add", PACK_PROMPT, PACK_TEST, "add"), CodeField.SOLUTION,
         {**HOSTILE, **{name: code for name, (code, _) in LEGIT.items()}}),
        ("lists", pack_problem("Java/twice", LIST_PROMPT, LIST_TEST, "twice"), CodeField.SOLUTION,
         {name: code for name, (code, _) in LISTS.items()}),
        ("multiple", parse_problem({"name": "add", "language": "java", "prompt": MULTIPLE_PROMPT,
                                    "tests": MULTIPLE_TESTS, "stop_tokens": ["\n    }\n"]}, "java_cases"),
         CodeField.COMPLETION, {name: code for name, (code, _) in MULTIPLE.items()}),
    ])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_java_programs_never_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome in NOT_PASSED, detail
    assert verdicts[("pack", "right")][0] == "passed"  # the same tests pass a right program


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_java_programs_get_their_verdict(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome == LEGIT[name][1], detail


@pytest.mark.parametrize("name", sorted(LISTS))
def test_standard_types_keep_their_own_equals(verdicts, name: str) -> None:
    outcome, detail = verdicts[("lists", name)]
    assert outcome == LISTS[name][1], detail


@pytest.mark.parametrize("name", sorted(MULTIPLE))
def test_multipl_e_layout(verdicts, name: str) -> None:
    outcome, detail = verdicts[("multiple", name)]
    assert outcome == MULTIPLE[name][1], detail


def test_the_java_verdict_names_the_cause(verdicts) -> None:
    assert verdicts[("pack", "wrong")][1] == "Assertion failed: java.lang.AssertionError (Main.java line 12)"
    assert verdicts[("pack", "does_not_compile")][1] == "Solution.java:6: error: illegal start of expression"
    assert verdicts[("pack", "throws")][1] == ("Exception in the tests: java.lang.ArithmeticException: / by zero "
                                               "(Main.java line 7)")
    assert verdicts[("pack", "exit_zero_in_method")][1] == "the program exited with status 0 before the tests finished"
    assert verdicts[("pack", "replaces_arrays")][1] == ("the program declares a class named Arrays, which would "
                                                        "replace java.util.Arrays in the tests: refused")
    assert '"shutdownHooks"' in verdicts[("pack", "shutdown_hook")][1]
    assert verdicts[("pack", "memory_hog")][1] == "the JVM ran out of heap (java.lang.OutOfMemoryError)"
    assert "an anonymous class, a java.util.ArrayList" in verdicts[("lists", "always_equal")][1]
    assert "org.javatuples.Pair" in verdicts[("multiple", "member_class_replaces_pair")][1]
    assert "field named Math" in verdicts[("multiple", "field_hides_a_type")][1]


# Lists, strings, a helper the prompt defines (Java/38), md5 through
# java.security (Java/162), BigInteger (Java/55's prompt), streams.
PACK_SAMPLE = ("Java/0", "Java/12", "Java/38", "Java/162")


def test_humanevalpack_java_canonical_solutions_pass_and_buggy_ones_fail() -> None:
    check_pack_sample("humanevalpack_java", "java", PACK_SAMPLE)


@pytest.mark.parametrize("isolation", ["process", "container"])
def test_java_stdin_stdout_programs(isolation: str) -> None:
    check_stdin_programs("java", SUM_CASES, SUM_PROGRAMS, JAVA_LIMITS, isolation)


def test_sandbox_check_looks_at_the_java_image_and_its_jdk(monkeypatch, capsys) -> None:
    from harness.cli import main

    from .conftest import IMAGE
    image = language_image("java")
    assert main(["sandbox", "check", "--languages", "java"]) == 0
    assert f"image {image} (Python" in capsys.readouterr().out
    monkeypatch.setenv("HARNESS_IMAGE_JAVA", IMAGE)  # an image without a JDK named as the Java one
    assert main(["sandbox", "check", "--languages", "java"]) == 3
    assert (f"MISSING: image {IMAGE} has no /usr/bin/javac, /usr/bin/java, which Java problems need; "
            "use the image `harness sandbox build --languages java` makes") in capsys.readouterr().out
