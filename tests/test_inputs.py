"""Bad problem and samples files give one-line errors naming file and line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from harness.errors import ProblemError, SampleError
from harness.problems import CodeField, TestKind, load_problems
from harness.samples import OnBadLine, read_samples, validate_samples


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


PROBLEM = {"task_id": "t/0", "prompt": "def f(x):\n    \"\"\"doc\"\"\"\n", "entry_point": "f",
           "canonical_solution": "    return x\n", "test": "def check(candidate):\n    assert candidate(1) == 1\n"}


def test_bundled_humaneval_loads_with_schema() -> None:
    problems = load_problems("humaneval")
    assert len(problems) == 164
    first = problems.get("HumanEval/0")
    assert first is not None
    assert first.test_kind is TestKind.CHECK_FUNCTION and first.entry_point == "has_close_elements"
    assert first.reference_solution.startswith(first.prompt)
    assert first.program("    pass\n", CodeField.COMPLETION) == first.prompt + "    pass\n"
    assert first.program("x = 1\n", CodeField.SOLUTION) == "x = 1\n"
    assert len(first.tests_hash) == 16


def test_problem_file_formats(tmp_path: Path) -> None:
    jsonl = write(tmp_path / "p.jsonl", [json.dumps(PROBLEM)])
    assert load_problems(str(jsonl)).get("t/0") is not None
    js = tmp_path / "p.json"
    js.write_text(json.dumps([PROBLEM]))
    assert len(load_problems(str(js))) == 1
    gz = tmp_path / "p.jsonl.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(json.dumps(PROBLEM) + "\n")
    assert len(load_problems(str(gz))) == 1


@pytest.mark.parametrize("change,message", [
    ({"test": None}, "missing field 'test'"),
    ({"test": "def check(candidate):\n    assert (\n"}, "test code does not parse"),
    ({"entry_point": "not an id"}, "not a Python identifier"),
    ({"test_kind": "mystery"}, "unknown test_kind"),
    ({"limits": 5}, "'limits' must be an object"),
])
def test_broken_problem_names_file_and_line(tmp_path: Path, change: dict, message: str) -> None:
    broken = {k: v for k, v in {**PROBLEM, **change}.items() if v is not None}
    path = write(tmp_path / "p.jsonl", [json.dumps(PROBLEM | {"task_id": "ok"}), json.dumps(broken)])
    with pytest.raises(ProblemError, match=rf"p\.jsonl:2: .*{message}"):
        load_problems(str(path))


def test_unknown_problem_set_and_malformed_json(tmp_path: Path) -> None:
    with pytest.raises(ProblemError, match="no such problem set"):
        load_problems("no-such-set")
    path = write(tmp_path / "p.jsonl", ["{not json"])
    with pytest.raises(ProblemError, match=r"p\.jsonl:1: malformed JSON"):
        load_problems(str(path))


def test_samples_stream_with_passthrough_fields(tmp_path: Path) -> None:
    problems = load_problems("humaneval")
    path = write(tmp_path / "s.jsonl", [
        json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n", "model": "m", "n": 1}),
        "",
        json.dumps({"task_id": "HumanEval/1", "solution": "def separate_paren_groups(s): return []\n"}),
    ])
    samples = list(read_samples(path, problems))
    assert [s.index for s in samples] == [0, 1]
    assert [s.line for s in samples] == [1, 3]
    assert samples[0].code_field is CodeField.COMPLETION and samples[0].fields["model"] == "m"
    assert samples[1].code_field is CodeField.SOLUTION


@pytest.mark.parametrize("line,message", [
    ("{oops", "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"completion": "x"}), "missing field 'task_id'"),
    (json.dumps({"task_id": "HumanEval/0"}), "needs a 'completion' or a 'solution'"),
    (json.dumps({"task_id": "Nope/1", "completion": "x"}), "unknown task_id 'Nope/1'"),
    (json.dumps({"task_id": "HumanEval/0", "completion": 5}), "field .completion. must be a string"),
])
def test_bad_sample_lines(tmp_path: Path, line: str, message: str) -> None:
    problems = load_problems("humaneval")
    good = json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"})
    path = write(tmp_path / "s.jsonl", [good, line, good])
    with pytest.raises(SampleError, match=rf"s\.jsonl:2: {message}"):
        validate_samples(path, problems, OnBadLine.FAIL)
    count, bad, tasks = validate_samples(path, problems, OnBadLine.SKIP)
    assert count == 2 and len(bad) == 1 and "s.jsonl:2:" in bad[0] and tasks == {"HumanEval/0"}


def test_missing_samples_file(tmp_path: Path) -> None:
    with pytest.raises(SampleError, match="cannot read samples"):
        list(read_samples(tmp_path / "absent.jsonl"))


def test_mbpp_layouts(tmp_path: Path) -> None:
    sanitized = load_problems("mbpp")
    assert len(sanitized) == 427
    first = sanitized.get("2")
    assert first is not None and first.test_kind is TestKind.ASSERTIONS
    assert first.entry_point == "similar_elements" and first.reference_solution.startswith("def similar_elements")
    assert sanitized.get("126").entry_point == "sum"  # the reference shadows a builtin
    original = tmp_path / "mbpp.jsonl"
    original.write_text(json.dumps({
        "task_id": 7, "text": "Find words of 4+ chars.", "code": "import re\ndef find_char_long(t):\n"
        "    return re.findall(r'\\b\\w{4,}\\b', t)\n", "test_setup_code": "", "challenge_test_list": [],
        "test_list": ["assert find_char_long('Please move back') == ['Please', 'move', 'back']"]}) + "\n")
    problem = load_problems(str(original)).get("7")  # ids stay as they are, as strings
    assert problem is not None and problem.entry_point == "find_char_long"
    assert problem.test_spec()["candidate_names"] == ["find_char_long"]
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"task_id": 1, "text": "x", "code": "", "test_list": "assert f(1)"}) + "\n")
    with pytest.raises(ProblemError, match=r"broken\.jsonl:1: field 'test_list' must be a non-empty list"):
        load_problems(str(broken))


def test_free_names_are_the_candidates_functions() -> None:
    from harness.problems import free_names
    test = "import math\ndef helper(x):\n    return x\nassert math.isclose(area(2), 4)\nassert helper(perimeter(1)) == 4\n"
    assert free_names(test) == ["area", "perimeter"]


def test_apps_layout_and_own_case_schema(tmp_path: Path) -> None:
    apps = load_problems("apps_train5")
    assert sorted(p.id for p in apps) == ["0001", "0111", "2287", "2404", "4184"]
    stdin, calls = apps.get("0001"), apps.get("4184")
    assert stdin.test_kind is TestKind.STDIN_STDOUT and isinstance(stdin.cases[0]["input"], str)
    assert calls.test_kind is TestKind.IO_PAIRS and calls.entry_point == "is_prime" and calls.unwrap_expected
    assert calls.program("x = 1\n", CodeField.SOLUTION).endswith("x = 1\n")  # after APPS's import preamble
    rows = [
        {"problem_id": 9, "question": "q", "input_output": "{not json"},
        {"problem_id": 9, "question": "q", "input_output": json.dumps({"inputs": ["1"], "outputs": []})},
        {"task_id": "s", "test_kind": "stdin_stdout", "test_cases": [{"input": 1, "output": "1"}]},
        {"task_id": "s", "test_kind": "stdin_stdout", "compare": "fuzzy", "test_cases": [{"input": "", "output": ""}]},
        {"task_id": "s", "test_kind": "io_pairs", "test_cases": [{"input": [1], "output": 1}]},
    ]
    messages = ["'input_output' is not valid JSON", "1 inputs and 0 outputs", "need string 'input' and 'output'",
                "compare must be exact, tokens or float", "io_pairs needs an entry_point"]
    for row, message in zip(rows, messages):
        path = tmp_path / "p.jsonl"
        path.write_text(json.dumps(row) + "\n")
        with pytest.raises(ProblemError, match=rf"p\.jsonl:1: .*{message}"):
            load_problems(str(path))


def test_comparisons() -> None:
    from harness.sandbox.agent.compare import outputs_match, values_match
    assert outputs_match("3  \n\n", "3")
    assert not outputs_match("3 4", "3  4")
    assert outputs_match("3 4", "3  4", "tokens")
    assert outputs_match("0.3333333", "0.33333333", "float", 1e-6)
    assert not outputs_match("0.34", "0.33", "float", 1e-6)
    assert not outputs_match("abc", "0.33", "float")
    assert values_match([1, (2, 3)], [1, [2, 3]])
    assert values_match(0.1 + 0.2, 0.3)
    assert not values_match(True, 1) and not values_match(1, True)
    assert not values_match("1", 1) and not values_match(None, 0)
    assert values_match({"a": [1.0]}, {"a": [1]})


def _apps_rows() -> list[dict]:
    return [{"problem_id": 1, "question": "Add two numbers.", "solutions": json.dumps(["print(sum(map(int, input().split())))"]),
             "input_output": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]}), "starter_code": ""},
            {"problem_id": 2, "question": "Double.", "solutions": "[]", "starter_code": "def double(x):",
             "input_output": json.dumps({"fn_name": "double", "inputs": [[2]], "outputs": [[4]]})}]


def test_parquet_files_and_the_datasets_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    folder = tmp_path / "apps_like"
    folder.mkdir()
    datasets.Dataset.from_list(_apps_rows()).to_parquet(str(folder / "test.parquet"))
    from_file = load_problems(str(folder / "test.parquet"))
    assert sorted(p.id for p in from_file) == ["1", "2"]
    assert from_file.get("1").test_kind is TestKind.STDIN_STDOUT and from_file.get("2").entry_point == "double"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    from_hub_code = load_problems(f"hf:{folder}::test")  # the real datasets.load_dataset path, on local files
    assert sorted(p.id for p in from_hub_code) == ["1", "2"]
    with pytest.raises(ProblemError, match="no split 'train' \\(has test\\)"):
        load_problems(f"hf:{folder}::train")


def test_unreachable_hub_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with pytest.raises(ProblemError, match=r"hf:codeparrot/apps: the Hugging Face hub \(127\.0\.0\.1\) is not reachable"):
        load_problems("hf:codeparrot/apps")
    with pytest.raises(ProblemError, match="expected hf:DATASET"):
        load_problems("hf:")


def test_layout_and_field_map(tmp_path: Path) -> None:
    row = {"id": "x1", "description": "Add.", "io": json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(row) + "\n")
    problems = load_problems(str(path), layout="apps", field_map={"description": "question", "io": "input_output"})
    assert problems.get("x1").test_kind is TestKind.STDIN_STDOUT
    assert problems.get("x1").prompt == "Add."
    with pytest.raises(ProblemError, match="unknown layout"):
        load_problems(str(path), layout="csv")


def test_codecontests_layout(tmp_path: Path) -> None:
    row = {"name": "1548_A. Sum", "description": "Print a+b.",
           "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
           "private_tests": {"input": ["5 6\n", "0 0\n"], "output": ["11\n", "0\n"]},
           "generated_tests": {"input": ["9 9\n"], "output": ["18\n"]},
           "solutions": {"language": [2, 3], "solution": ["int main(){}", "print(sum(map(int, input().split())))"]}}
    path = tmp_path / "cc.jsonl"
    path.write_text(json.dumps(row) + "\n")
    problem = load_problems(str(path)).get("1548_A. Sum")
    assert problem is not None and problem.test_kind is TestKind.STDIN_STDOUT and problem.compare == "tokens"
    assert [c["output"] for c in problem.cases] == ["3\n", "11\n", "0\n"]
    assert problem.reference_solution.startswith("print(sum(")
    path.write_text(json.dumps({**row, "public_tests": {"input": ["1"], "output": []}}) + "\n")
    with pytest.raises(ProblemError, match="public_tests has 1 inputs and 0 outputs"):
        load_problems(str(path))


def test_pytest_problem_schema(tmp_path: Path) -> None:
    good = {"task_id": "p", "test_kind": "pytest", "test": "from solution import f\ndef test_f():\n    assert f()\n"}
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(good) + "\n")
    problem = load_problems(str(path)).get("p")
    assert problem.test_kind is TestKind.PYTEST and problem.test_spec()["module"] == "solution"
    for change, message in [({"test": "x = 1\n"}, "needs 'test': a module with test functions"),
                            ({"test": "def test_x(:\n"}, "test code does not parse"),
                            ({"module": "not-a-name"}, "is not a Python identifier")]:
        path.write_text(json.dumps({**good, **change}) + "\n")
        with pytest.raises(ProblemError, match=message):
            load_problems(str(path))


def test_compat_is_strict_unless_named(tmp_path: Path) -> None:
    rows = [{"task_id": "t", "test_kind": "io_pairs", "entry_point": "f", "test_cases": [{"input": [], "output": 1}]}]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert "compat" not in next(iter(load_problems(str(path)))).test_spec()
    assert next(iter(load_problems(str(path), compat="apps"))).test_spec()["compat"] == "apps"
    with pytest.raises(ProblemError, match="unknown compat"):
        load_problems(str(path), compat="lenient")
    path.write_text(json.dumps(dict(rows[0], compat="nope")) + "\n")
    with pytest.raises(ProblemError, match="p.jsonl:1: compat must be one of"):
        load_problems(str(path))
