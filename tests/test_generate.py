"""Generation against a real local HTTP server speaking the OpenAI API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.generate import GeneratorConfig, Sampling, extract_code, generate
from harness.problems import ProblemSet, load_problems

from .fake_openai import FakeOpenAI

HUMANEVAL = load_problems("humaneval")
TWO = ProblemSet("two", "test", {k: HUMANEVAL.get(k) for k in ("HumanEval/0", "HumanEval/53")})


def replies(prompt: str, i: int) -> str:
    """Right, wrong, duplicated, unparseable and differently fenced answers."""
    if "has_close_elements" in prompt:
        right = ("from typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
                 "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n")
    else:
        right = "def add(x: int, y: int):\n    return x + y\n"
    options = [f"Here you go:\n```python\n{right}```\nDone.",
               f"```\n{right}```",  # untagged fence
               f"```python\n{right}```",  # duplicate of the first
               "I am not sure this can be done.",  # no code
               "```python\nimport math\n```\nand the function:\n"
               f"```python\n{right.replace('return ', 'return not ')}```",
               right]  # bare code
    return options[i % len(options)]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(replies)
    yield fake
    fake.close()


def config(server: FakeOpenAI, **kw: object) -> GeneratorConfig:
    base = dict(model="fake-coder", base_url=server.base_url, api_key="k", n=6, concurrency=4, max_retries=4,
                timeout_s=3.0, sampling=Sampling(temperature=0.7, seed=1))
    base.update(kw)
    return GeneratorConfig(**base)  # type: ignore[arg-type]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_extraction() -> None:
    assert extract_code("```python\nx = 1\n```").code == "x = 1\n"
    two = "```python\nimport os\n```\n```python\ndef f():\n    return 1\n```"
    assert extract_code(two, "f").code.startswith("def f()")
    assert extract_code("```py\ndef g(): pass\n```\n```python\ndef g():\n    return 2\n```", "g").how == "fenced"
    assert extract_code("```python\ndef f():\n    return 1\n", "f").code.startswith("def f")  # cut off
    assert extract_code("def f():\n    return 3\n").how == "bare"
    assert extract_code("No code today, sorry.").how == "failed"


def test_chat_generation_records_everything(server: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    summary = generate(TWO, config(server), out)
    got = rows(out)
    assert summary.received == 12 and len(got) == 12 and summary.failed_requests == 0
    assert len(server.requests) == 2 and {r["n"] for r in server.requests} == {6}
    first = got[0]
    assert first["model"] == "fake-coder" and first["sampling"] == {"temperature": 0.7, "top_p": 0.95,
                                                                      "max_tokens": 1024, "seed": 1}
    assert first["usage"] == {"prompt_tokens": 10, "completion_tokens": 7} and first["raw"]
    assert sorted(r["extraction"] for r in got if r["task_id"] == "HumanEval/53") == [
        "bare", "failed", "fenced", "fenced", "fenced", "fenced"]
    assert summary.extraction_failed == 2
    assert server.requests[0]["seed"] == 1 and server.requests[0]["temperature"] == 0.7


def test_retries_honour_retry_after_and_survive_errors(server: FakeOpenAI, tmp_path: Path) -> None:
    server.script = ["429", "500", "drop"]
    out = tmp_path / "samples.jsonl"
    summary = generate(ProblemSet("one", "t", {"HumanEval/53": HUMANEVAL.get("HumanEval/53")}),
                       config(server, concurrency=1), out)
    assert summary.received == 6 and summary.failed_requests == 0 and len(server.requests) == 4
    assert server.times[1] - server.times[0] >= 0.9  # Retry-After: 1


def test_a_request_that_keeps_failing_is_recorded_and_a_rerun_tops_up(server: FakeOpenAI, tmp_path: Path) -> None:
    server.script = ["500"] * 3
    out = tmp_path / "samples.jsonl"
    summary = generate(TWO, config(server, max_retries=1, concurrency=1), out)
    assert summary.failed_requests == 1 and summary.received == 6
    failures = rows(out.with_name("samples.jsonl.failures.jsonl"))
    assert len(failures) == 1 and failures[0]["error"] == "InternalServerError"
    before = len(server.requests)
    again = generate(TWO, config(server), out)
    assert again.already_had == 6 and again.received == 6 and len(server.requests) == before + 1
    assert sorted(r["task_id"] for r in rows(out)).count("HumanEval/0") == 6


def test_resume_never_asks_twice(server: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    generate(TWO, config(server, n=2), out)
    generate(TWO, config(server, n=5), out)
    assert [r["n"] for r in server.requests] == [2, 2, 3, 3]
    assert [r["seed"] for r in server.requests] == [1, 1, 3, 3]  # a top-up never repeats a seeded request
    with open(out, "ab") as handle:
        handle.write('{"task_id": "HumanEval/0", "solution": "é'.encode()[:-1])  # torn by a killed run, mid-character
    generate(TWO, config(server, n=5), out)
    assert len(server.requests) == 4  # the torn line is not a sample, and nothing was missing
    valid = [line for line in out.read_text(errors="replace").splitlines() if line.endswith("}")]
    assert len(valid) == 10


def test_servers_that_ignore_n_are_asked_again(tmp_path: Path) -> None:
    fake = FakeOpenAI(replies, honour_n=False)
    try:
        out = tmp_path / "samples.jsonl"
        summary = generate(TWO, config(fake, n=3), out)
        assert summary.received == 6 and len(fake.requests) == 6
    finally:
        fake.close()


def test_completions_endpoint_continues_the_prompt(server: FakeOpenAI, tmp_path: Path) -> None:
    fake = FakeOpenAI(lambda prompt, i: "    return x + y\n\n\ndef unrelated():\n    pass\n")
    try:
        out = tmp_path / "samples.jsonl"
        generate(TWO, config(fake, endpoint="completions", n=1), out)
        got = rows(out)
        assert {r["extraction"] for r in got} == {"completion"}
        assert got[0]["completion"].rstrip() == "    return x + y"  # cut at the next def
        assert "\ndef " in fake.requests[0]["stop"]
    finally:
        fake.close()


def test_a_stalled_server_does_not_hang_the_run(server: FakeOpenAI, tmp_path: Path) -> None:
    server.script = ["stall", "stall"]
    started = time.monotonic()
    summary = generate(ProblemSet("one", "t", {"HumanEval/53": HUMANEVAL.get("HumanEval/53")}),
                       config(server, timeout_s=1.0, max_retries=1, concurrency=1), tmp_path / "s.jsonl")
    assert summary.failed_requests == 1 and time.monotonic() - started < 20


def test_template_with_stray_braces_is_refused(server: FakeOpenAI, tmp_path: Path) -> None:
    from harness.errors import InputError
    with pytest.raises(InputError, match="prompt template"):
        generate(TWO, config(server, template="Solve {prompt} and return {} please"), tmp_path / "s.jsonl")


def test_dead_endpoint_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "generate", "--problems", "humaneval", "--model", "m",
                           "--base-url", "http://127.0.0.1:9/v1", "--n", "1", "--max-retries", "0",
                           "--limit", "2", "--out", str(tmp_path / "s.jsonl")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["failed_requests"] == 2 and summary["received"] == 0
    failures = rows(tmp_path / "s.jsonl.failures.jsonl")
    assert {f["error"] for f in failures} == {"APIConnectionError"}


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_curate_end_to_end_from_an_endpoint(server: FakeOpenAI, tmp_path: Path) -> None:
    out = tmp_path / "verified"
    problems = tmp_path / "two.jsonl"
    problems.write_text("".join(json.dumps({"task_id": p.id, "prompt": p.prompt, "test": p.test,
                                            "entry_point": p.entry_point}) + "\n" for p in TWO))
    proc = subprocess.run([sys.executable, "-m", "harness", "curate", "--problems", str(problems), "--model", "fake",
                           "--base-url", server.base_url, "--n", "6", "--top-k", "2",
                           "--out", str(out), "--quiet"], capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    # per problem: 4 right answers (all the same program once normalised), 1 wrong, 1 without code
    assert summary["candidates"] == 12 and summary["passed"] == 8 and summary["unique"] == 2
    assert summary["kept"] == 2
    kept = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert {k["model"] for k in kept} == {"fake"} and all(re.search(r"```python", k["messages"][1]["content"])
                                                          for k in kept)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pass_at_k"]["1"] == pytest.approx(8 / 12)


# Issue 17: reasoning models. A wrong first draft inside the reasoning, the right answer after it.
DRAFT = "def add(x: int, y: int):\n    return x - y\n"
ANSWER = "def add(x: int, y: int):\n    return x + y\n"
LONG_DRAFT = DRAFT + "    # a longer draft, so that the longest-block rule alone would pick it\n" * 3


def reasoning_replies(prompt: str, i: int) -> str | dict[str, str]:
    """The two styles reasoning servers use, and replies the token limit cut."""
    style = i % 4
    if style == 0:  # <think> in the content
        return f"<think>\nFirst try:\n```python\n{LONG_DRAFT}```\nNo, that subtracts.\n</think>\n```python\n{ANSWER}```"
    if style == 1:  # the reasoning in its own field (vLLM / SGLang reasoning parsers, DeepSeek)
        return {"content": f"```python\n{ANSWER}```", "reasoning_content": f"Draft:\n```python\n{LONG_DRAFT}```"}
    if style == 2:  # the chat template opened the block: the reply starts inside it
        return f"Let me think.\n```python\n{LONG_DRAFT}```\nWrong sign.</think>\n\n```python\n{ANSWER}```"
    # cut by max_tokens inside the reasoning: there is no answer
    return {"content": f"<think>\nDraft:\n```python\n{LONG_DRAFT}```\nHmm, let me", "finish_reason": "length"}


def test_reasoning_is_kept_and_never_judged(tmp_path: Path) -> None:
    fake = FakeOpenAI(reasoning_replies)
    try:
        out = tmp_path / "samples.jsonl"
        add = ProblemSet("one", "test", {"HumanEval/53": HUMANEVAL.get("HumanEval/53")})
        summary = generate(add, config(fake, n=8), out)
    finally:
        fake.close()
    got = rows(out)
    assert summary.received == 8 and summary.truncated == 2 and summary.extraction_failed == 0
    answered = [r for r in got if r["extraction"] != "truncated"]
    assert len(answered) == 6 and all(r["solution"] == ANSWER for r in answered)  # never the draft
    assert all("return x - y" in r["reasoning"] and "return x - y" not in r["answer"] for r in answered)
    cut = [r for r in got if r["extraction"] == "truncated"]
    assert all(r["solution"] == "" and r["finish_reason"] == "length" and r["reasoning"] for r in cut)


def test_split_reasoning_cases() -> None:
    from harness.generate import split_reasoning
    plain = split_reasoning("```python\nx = 1\n```")
    assert plain.reasoning == "" and plain.answer == "```python\nx = 1\n```" and not plain.unfinished
    two = split_reasoning("<think>a</think>mid<think>b</think>end")
    assert two.reasoning == "a\nb" and two.answer == "midend"
    assert split_reasoning("<think>never closed").unfinished
    custom = split_reasoning("[R]draft[/R]answer", ("[R]", "[/R]"), reasoning_content="field")
    assert custom.reasoning == "field\ndraft" and custom.answer == "answer"
    proc = subprocess.run([sys.executable, "-m", "harness", "generate", "--model", "m", "--think-tags", "<x>"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--think-tags takes OPEN,CLOSE" in proc.stderr


def curate_reasoning(tmp_path: Path, name: str, *flags: str) -> tuple[dict, Path]:
    fake = FakeOpenAI(reasoning_replies)
    try:
        problems = tmp_path / "add.jsonl"
        p = HUMANEVAL.get("HumanEval/53")
        assert p is not None
        problems.write_text(json.dumps({"task_id": p.id, "prompt": p.prompt, "test": p.test,
                                        "entry_point": p.entry_point}) + "\n")
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "harness", "curate", "--problems", str(problems), "--model", "r1",
                               "--base-url", fake.base_url, "--n", "8", "--quiet", "--out", str(out), *flags],
                              capture_output=True, text=True, env=os.environ.copy())
    finally:
        fake.close()
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1]), out


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_curate_keeps_verified_reasoning_traces(tmp_path: Path) -> None:
    import datasets
    summary, out = curate_reasoning(tmp_path, "reply", "--sft-content", "reply", "--top-k", "3",
                                    "--traces-per-program", "3")
    # 8 samples: 6 answers (one program, three distinct traces, each twice), 2 truncated
    assert summary["candidates"] == 8 and summary["passed"] == 6 and summary["unique"] == 1
    assert summary["kept"] == 3 and summary["traces_kept"] == 3
    kept = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    sent = {json.loads(line)["user_message"] for line in (out / "samples.jsonl").read_text().splitlines()}
    for row in kept:
        user, assistant = row["messages"]
        assert user["content"] in sent  # exactly what the model was sent
        think, _, answer = assistant["content"].partition("</think>")
        assert think.startswith("<think>\n") and "return x - y" in think  # the trace, draft and all
        assert ANSWER in answer and "return x - y" not in answer  # the verified answer
    samples = rows(out / "samples.jsonl")
    assert sum(r["extraction"] == "truncated" for r in samples) == 2
    judged = rows(out / "evaluated.jsonl")  # reported apart, never run as a program
    assert [r["outcome"] for r in judged].count("truncated") == 2
    assert json.loads((out / "manifest.json").read_text())["pass_at_k"]["1"] == pytest.approx(6 / 8)

    summary, out = curate_reasoning(tmp_path, "field", "--sft-content", "reply", "--reasoning-field",
                                    "--consistent-traces")
    # every trace here ends on the wrong draft: none is consistent with its answer
    assert summary["kept"] == 0 and summary["traces_dropped"] == {"reasoning_ends_on_another_program": 6}
    summary, out = curate_reasoning(tmp_path, "field2", "--sft-content", "reply", "--reasoning-field")
    [row] = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    assistant = row["messages"][1]
    assert "return x - y" in assistant["reasoning_content"] and "<think>" not in assistant["content"]


def test_reasoning_length_in_the_model_s_tokens(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    from harness.errors import ConfigError
    from harness.select import Selection, trace_rejected
    words = Tokenizer(models.WordLevel({"[UNK]": 0, "think": 1, "hard": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    words.save(str(path))
    five = "think hard think hard think"
    assert trace_rejected(five, "x = 1", Selection(max_reasoning_tokens=4, tokenizer=str(path))) == "reasoning_too_long"
    assert trace_rejected(five, "x = 1", Selection(max_reasoning_tokens=5, tokenizer=str(path))) is None
    with pytest.raises(ConfigError, match="needs a tokenizer"):
        Selection(max_reasoning_tokens=5)
    for flags, message in ((["--max-reasoning-tokens", "5"], "--max-reasoning-tokens needs a tokenizer"),
                           (["--max-reasoning-tokens", "5", "--tokenizer", str(tmp_path / "none.json")],
                            "cannot load the tokenizer")):
        proc = subprocess.run([sys.executable, "-m", "harness", "curate", "--out", str(tmp_path / "o"), *flags],
                              capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
