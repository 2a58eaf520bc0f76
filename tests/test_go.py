"""Go in its sandbox image, against the real engine: hostile programs never
pass, legitimate ones get what they earn, in HumanEvalPack's and MultiPL-E's
layouts and as stdin/stdout programs; HumanEvalPack's canonical solutions
pass and its buggy ones fail; nothing is left behind."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping

import pytest

from harness.problems import CodeField, parse_problem

from .conftest import TEST_LIMITS, check_pack_sample, check_stdin_programs, language_image, layout_verdicts
from .go_cases import (
    HOSTILE,
    LEGIT,
    MULTIPLE,
    MULTIPLE_PROMPT,
    MULTIPLE_TESTS,
    NOT_PASSED,
    PACK_PROMPT,
    PACK_SETUP,
    PACK_TEST,
    SUM_CASES,
    SUM_PROGRAMS,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def verdicts() -> Iterator[Mapping[tuple[str, str], tuple[str, str]]]:
    """(layout, case) -> (outcome, detail): every case once, one warm container."""
    pack = parse_problem({"task_id": "Go/add", "language": "go", "test_kind": "program", "prompt": PACK_PROMPT,
                          "test": PACK_SETUP + PACK_TEST, "entry_point": "Add"}, "go_cases")
    multiple = parse_problem({"name": "add", "language": "go_test.go", "prompt": MULTIPLE_PROMPT,
                              "tests": MULTIPLE_TESTS, "stop_tokens": ["\nfunc"]}, "go_cases")
    yield from layout_verdicts("go", TEST_LIMITS, [
        ("pack", pack, CodeField.SOLUTION, {**HOSTILE, **{name: code for name, (code, _) in LEGIT.items()}}),
        ("multiple", multiple, CodeField.COMPLETION, {name: code for name, (code, _) in MULTIPLE.items()}),
    ])


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_go_programs_never_pass(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome in NOT_PASSED, detail
    assert verdicts[("pack", "right")][0] == "passed"  # the same tests pass a right program


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_go_programs_get_their_verdict(verdicts, name: str) -> None:
    outcome, detail = verdicts[("pack", name)]
    assert outcome == LEGIT[name][1], detail


@pytest.mark.parametrize("name", sorted(MULTIPLE))
def test_multipl_e_layout(verdicts, name: str) -> None:
    outcome, detail = verdicts[("multiple", name)]
    assert outcome == MULTIPLE[name][1], detail


def test_the_go_verdict_names_the_cause(verdicts) -> None:
    assert verdicts[("pack", "wrong")][1].startswith("TestAdd failed: ")
    assert "expected: 3" in verdicts[("pack", "wrong")][1]
    assert "main_test.go:" in verdicts[("pack", "does_not_compile")][1]
    assert 'imported and not used: "sort"' in verdicts[("pack", "unused_import")][1]
    assert verdicts[("pack", "vet_finding")][1].startswith("go vet: main_test.go:")
    assert "Sprintf format %s has arg a of wrong type int" in verdicts[("pack", "vet_finding")][1]
    assert "index out of range" in verdicts[("pack", "panics")][1]
    assert "before the tests finished" in verdicts[("pack", "exit_zero_in_init")][1]
    assert "declares true at package level" in verdicts[("pack", "redefines_true")][1]
    assert "imports unsafe" in verdicts[("pack", "imports_unsafe")][1]
    assert "declares nil" in verdicts[("multiple", "redefines_nil_after_closing")][1]


# Floats, slices, strings, a helper function the prompt defines (Go/10), md5 (Go/162).
# Not Go/95: its canonical solution depends on map iteration order, random in Go.
PACK_SAMPLE = ("Go/0", "Go/1", "Go/10", "Go/12", "Go/38", "Go/162")


def test_humanevalpack_go_canonical_solutions_pass_and_buggy_ones_fail() -> None:
    check_pack_sample("humanevalpack_go", "go", PACK_SAMPLE)


@pytest.mark.parametrize("isolation", ["process", "container"])
def test_go_stdin_stdout_programs(isolation: str) -> None:
    check_stdin_programs("go", SUM_CASES, SUM_PROGRAMS, TEST_LIMITS, isolation)


def test_sandbox_check_looks_at_the_go_and_rust_images_and_their_toolchains(monkeypatch, capsys) -> None:
    from harness.cli import main

    from .conftest import IMAGE
    go, rust = language_image("go"), language_image("rust")
    assert main(["sandbox", "check", "--languages", "golang,rust"]) == 0
    out = capsys.readouterr().out
    assert f"image {go} (Python" in out
    assert "/opt/harness-go/compile and /opt/harness-go/link and /opt/harness-go/vet" in out
    assert f"image {rust} (Python" in out and "with /opt/harness-rust/rustc" in out
    monkeypatch.setenv("HARNESS_IMAGE_GO", IMAGE)  # an image without Go named as the Go one
    assert main(["sandbox", "check", "--languages", "go"]) == 3
    assert (f"MISSING: image {IMAGE} has no /opt/harness-go/compile, /opt/harness-go/link, /opt/harness-go/vet, "
            "which Go problems need; "
            "use the image `harness sandbox build --languages go` makes") in capsys.readouterr().out


@pytest.mark.parametrize(("language", "tasks"), [("go", ("Go/0", "Go/2")), ("rust", ("Rust/0", "Rust/2")),
                                               ("javascript", ("JavaScript/0", "JavaScript/2")),
                                               ("java", ("Java/0", "Java/2"))])
def test_curate_keeps_verified_programs_in_their_language_fences(tmp_path, language: str,
                                                                 tasks: tuple[str, str]) -> None:
    """The whole command on Go, Rust, JavaScript and Java samples: the
    image is the problems' own, buggy programs are not kept, the dataset
    says the language."""
    import subprocess
    import sys

    from harness.resources import data_dir
    set_name = "humanevalpack_" + {"javascript": "js"}.get(language, language)
    path = data_dir("problems") / f"{set_name}.jsonl.gz"
    rows = {row["task_id"]: row for row in map(json.loads, gzip.open(path, "rt"))}
    samples = tmp_path / "samples.jsonl"
    lines = [{"task_id": task_id, "completion": rows[task_id][field], "model": field}
             for task_id in tasks for field in ("canonical_solution", "buggy_solution")]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "verified"
    command = ["curate", "--samples", str(samples), "--problems", set_name, "--top-k", "1",
               "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "harness", *command], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    kept = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert sorted(row["task_id"] for row in kept) == sorted(tasks)
    assert all(row["language"] == language and row["model"] == "canonical_solution" for row in kept)
    assert all(row["messages"][1]["content"].startswith(f"```{language}\n") for row in kept)
