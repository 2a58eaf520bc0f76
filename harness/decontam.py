"""Decontamination against benchmarks: long shared n-grams.

Text is compared as word tokens (``\\w+``, lowercased, so layout and
punctuation do not hide a copy).  A benchmark is indexed as the 10-grams of
each problem's prompt (as StarCoder2-Instruct/SelfCodeAlign and OpenCoder
decontaminate) and the 20-grams of its reference solution: code repeats
idioms (``for i in range len s``), and at 10 words HumanEval's
GPT-3.5 solutions matched MBPP's on three stock loops.  A pool problem whose
prompt shares a 10-gram with a benchmark prompt, or a solution that shares a
10-gram with a benchmark prompt (a copied docstring or signature) or a
20-gram with a benchmark solution, is contaminated: ``curate
--decontaminate`` drops it (or with ``--flag-only`` marks it) and writes what
matched to ``decontamination.json``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ConfigError, ProblemError
from .problems import BUNDLED, ProblemSet, load_problems

NGRAM = 10  # prompts
CODE_NGRAM = 20  # reference solutions
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int = NGRAM) -> Iterator[str]:
    tokens = words(text)
    for i in range(len(tokens) - n + 1):
        yield " ".join(tokens[i:i + n])


@dataclass(frozen=True)
class Match:
    """Why something is contaminated: the benchmark item it shares an n-gram with."""

    benchmark: str
    benchmark_task: str
    ngram: str

    def label(self) -> str:
        return f"{self.benchmark}:{self.benchmark_task}"


@dataclass
class BenchmarkIndex:
    n: int = NGRAM
    code_n: int = CODE_NGRAM
    prompts: dict[str, tuple[str, str]] = field(default_factory=dict)  # n-gram -> (benchmark, task id)
    solutions: dict[str, tuple[str, str]] = field(default_factory=dict)  # code n-gram -> (benchmark, task id)
    sizes: dict[str, int] = field(default_factory=dict)  # benchmark -> problems indexed

    def add(self, benchmark: str, task_id: str, prompt: str, solution: str) -> None:
        for gram in ngrams(prompt, self.n):
            self.prompts.setdefault(gram, (benchmark, task_id))
        for gram in ngrams(solution, self.code_n):
            self.solutions.setdefault(gram, (benchmark, task_id))
        self.sizes[benchmark] = self.sizes.get(benchmark, 0) + 1

    def add_set(self, name: str, problems: ProblemSet) -> None:
        for problem in problems:
            self.add(name, problem.id, problem.instruction or problem.prompt, problem.reference_solution)

    def match(self, text: str, code: bool = False) -> Match | None:
        """A prompt against benchmark prompts; ``code`` also against benchmark solutions."""
        tables = [(self.n, self.prompts)] + ([(self.code_n, self.solutions)] if code else [])
        for n, table in tables:
            for gram in ngrams(text, n):
                hit = table.get(gram)
                if hit is not None:
                    return Match(hit[0], hit[1], gram)
        return None


def load_index(specs: Iterable[str], n: int = NGRAM) -> BenchmarkIndex:
    """``humaneval,mbpp,FILE...``: bundled set names or problem files.  Built
    once per list: the CLI checks it before generating, curate then uses it.

    Raises:
        ConfigError: an empty list or an unreadable benchmark, naming it.
    """
    return _index(tuple(s.strip() for s in specs if s.strip()), n)


@functools.lru_cache(maxsize=2)
def _index(names: tuple[str, ...], n: int) -> BenchmarkIndex:
    index = BenchmarkIndex(n=n)
    if not names:
        raise ConfigError("--decontaminate needs benchmark names (humaneval, mbpp, ...) or problem files")
    for spec in names:
        try:
            problems = load_problems(spec)
        except ProblemError as exc:
            known = ", ".join(BUNDLED)
            raise ConfigError(f"--decontaminate {spec}: {exc} (bundled sets: {known})") from None
        index.add_set(spec if spec in BUNDLED else problems.name, problems)
    return index


@dataclass
class Decontamination:
    """What one curate run removed (or flagged) and why; the manifest records the totals."""

    index: BenchmarkIndex
    flag_only: bool = False
    problems: dict[str, Match] = field(default_factory=dict)  # pool task id -> why
    solutions: dict[int, tuple[str, Match]] = field(default_factory=dict)  # evaluated row -> (task id, why)

    def check_problems(self, pool: ProblemSet) -> None:
        for problem in pool:
            hit = self.index.match(problem.instruction or problem.prompt)
            if hit is not None:
                self.problems[problem.id] = hit

    def check_solution(self, index: int, task_id: str, code: str) -> Match | None:
        """The match for a solution (its problem's, if the problem is contaminated)."""
        if task_id in self.problems:
            return self.problems[task_id]
        hit = self.index.match(code, code=True)
        if hit is not None:
            self.solutions[index] = (task_id, hit)
        return hit

    def label(self, index: int, task_id: str, code: str) -> str:
        """``benchmark:task`` a row's problem or program overlaps, else ""."""
        hit = self.check_solution(index, task_id, code)
        return hit.label() if hit is not None else ""

    def excludes(self, index: int, task_id: str, code: str) -> bool:
        """True when this row leaves the outputs (contaminated, and not flag-only)."""
        return bool(self.label(index, task_id, code)) and not self.flag_only

    def drops(self, task_id: str, index: int | None = None) -> bool:
        """True when a row of this problem (or this solution) must leave the outputs."""
        if self.flag_only:
            return False
        return task_id in self.problems or (index is not None and index in self.solutions)

    def report(self) -> dict[str, Any]:
        return {
            "ngram": self.index.n, "code_ngram": self.index.code_n, "benchmarks": self.index.sizes,
            "mode": "flag" if self.flag_only else "drop",
            "problems": {t: asdict(m) for t, m in sorted(self.problems.items())},
            "solutions": [{"index": i, "task_id": t, **asdict(m)} for i, (t, m) in sorted(self.solutions.items())],
        }

    def counts(self) -> dict[str, int]:
        return {"problems": len(self.problems), "solutions": len(self.solutions)}
