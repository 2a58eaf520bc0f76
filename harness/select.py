"""Selection: which passing candidates become demonstrations.

Passing candidates are deduplicated (the same program once comments,
docstrings and formatting are normalised away), shortlisted per problem by
their first run (a bounded heap, so memory does not grow with the number of
candidates), re-measured a few times (a candidate whose verdict changes is
flaky and dropped; the others get their median CPU time) and ranked; the top K
per problem are kept.  What to keep is one ``Selection``, checked when made.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import heapq
import io
import json
import statistics
import tokenize
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, optional_module
from .generate import fenced_blocks
from .job import Candidate, Job, make_job
from .limits import Limits
from .neardup import NearDuplicates, renamed, similarity, strip_docstrings
from .outcome import Outcome
from .problems import CodeField, Problem, ProblemSet
from .run import Runner

RANK_KEYS = ("cpu", "length")
LENGTH_UNITS = ("chars", "tokens")


def parse_rank_by(text: str) -> tuple[str, ...]:
    """``"cpu,length"`` as a key order; raises ConfigError naming ``--rank-by``."""
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    if not keys or any(k not in RANK_KEYS for k in keys) or len(set(keys)) != len(keys):
        raise ConfigError(f"--rank-by takes a comma-separated order of {', '.join(RANK_KEYS)}; got {text!r}")
    return keys


def _whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class Selection:
    """What ``curate`` keeps per problem, and how it measures.

    ``reproducible`` makes every re-measurement a distinct program (a trailing
    comment) run through the result store, so that a rebuild keeps every
    measurement and reproduces the same medians.
    """

    top_k: int = 1  # solutions kept per problem
    remeasure: int = 3  # runs per shortlisted solution: median CPU time, flakiness
    shortlist: int | None = None  # solutions re-measured per problem (default: max(2K, K+2))
    rank_by: tuple[str, ...] = RANK_KEYS  # key order, from RANK_KEYS; then input order
    length_unit: str = "chars"  # chars, or Python tokens (no comments or layout)
    reproducible: bool = False
    # Reasoning traces (samples from reasoning models carry ``reasoning``):
    traces_per_program: int = 1  # distinct traces kept per distinct program
    max_reasoning_chars: int | None = None  # longer traces are dropped
    max_reasoning_tokens: int | None = None  # the same in the model's tokens, counted by ``tokenizer``
    tokenizer: str | None = None  # a tokenizer.json file, or a Hugging Face model name
    consistent_traces: bool = False  # drop a trace whose last program is not the answer's
    # Near-copies (neardup): a passing program this similar (estimated Jaccard of
    # its renamed token 4-grams) to one seen before is left out; the kept top K
    # of a problem are at most ``diversity`` similar to each other.
    near_dup: float | None = None
    diversity: float | None = None
    contrast: int = 0  # the slowest distinct programs per problem also re-measured (efficiency pairs)

    def __post_init__(self) -> None:
        """Raises ConfigError naming the bad field."""
        for name in ("top_k", "remeasure", "traces_per_program"):
            if not _whole(getattr(self, name), 1):
                raise ConfigError(f"{name} must be a whole number >= 1, not {getattr(self, name)!r}")
        if self.shortlist is not None and not _whole(self.shortlist, 1):
            raise ConfigError(f"shortlist must be a whole number >= 1, not {self.shortlist!r}")
        for name in ("max_reasoning_chars", "max_reasoning_tokens"):
            if getattr(self, name) is not None and not _whole(getattr(self, name), 1):
                raise ConfigError(f"{name} must be a whole number >= 1, not {getattr(self, name)!r}")
        if self.max_reasoning_tokens is not None and not self.tokenizer:
            raise ConfigError("max_reasoning_tokens needs a tokenizer (a tokenizer.json file or a model name)")
        if not isinstance(self.rank_by, (tuple, list)) or not all(isinstance(k, str) for k in self.rank_by):
            raise ConfigError(f"rank_by must be a sequence of keys from {', '.join(RANK_KEYS)}, not {self.rank_by!r}")
        parse_rank_by(",".join(self.rank_by))
        object.__setattr__(self, "rank_by", tuple(self.rank_by))  # a list given is kept as a tuple
        if self.length_unit not in LENGTH_UNITS:
            raise ConfigError(f"length unit must be one of {', '.join(LENGTH_UNITS)}, not {self.length_unit!r}")
        for name in ("near_dup", "diversity"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and 0.0 < value <= 1.0):
                raise ConfigError(f"{name} is a similarity in (0, 1], not {value!r}")
        if not isinstance(self.contrast, int) or self.contrast < 0:
            raise ConfigError(f"contrast must be a whole number >= 0, not {self.contrast!r}")

    @property
    def shortlist_size(self) -> int:
        return self.shortlist or max(2 * self.top_k, self.top_k + 2)


def normalized(code: str) -> str:
    """The program without comments, docstrings or formatting (an AST dump);
    the text itself when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code.strip()
    strip_docstrings(tree)
    return ast.dump(tree, annotate_fields=False)


def code_length(code: str, unit: str = "chars", tokenizer: str | None = None) -> int:
    """Characters; or tokens: the model's, with a ``tokenizer`` (a
    tokenizer.json file or a hub name), else Python's (tokenize's, without
    comments, blank lines or indentation bookkeeping) so that formatting does
    not count."""
    if unit == "chars":
        return len(code)
    if tokenizer:
        return model_tokens(code, tokenizer)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        return sum(1 for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in skip)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return len(code.split())


@functools.lru_cache(maxsize=4)
def load_tokenizer(name: str) -> Any:
    """A ``tokenizers`` tokenizer from a tokenizer.json file or the hub;
    raises ConfigError with the cause in one line."""
    tokenizer = optional_module("tokenizers", "reasoning", "counting the model's tokens").Tokenizer
    try:
        return tokenizer.from_file(name) if Path(name).is_file() else tokenizer.from_pretrained(name)
    except Exception as exc:  # a missing file, an unknown model, no network: all mean "no tokenizer"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(f"cannot load the tokenizer {name!r} ({type(exc).__name__}: {first[:200]})") from None


def model_tokens(text: str, tokenizer: str) -> int:
    """How many of the model's tokens ``text`` is (no special tokens added)."""
    return len(load_tokenizer(tokenizer).encode(text, add_special_tokens=False).ids)


def trace_rejected(reasoning: str, code: str, selection: Selection) -> str | None:
    """Why a passing sample's reasoning trace is not kept, or None."""
    if not reasoning:
        return None
    if selection.max_reasoning_chars is not None and len(reasoning) > selection.max_reasoning_chars:
        return "reasoning_too_long"
    if selection.max_reasoning_tokens is not None and selection.tokenizer:
        if model_tokens(reasoning, selection.tokenizer) > selection.max_reasoning_tokens:
            return "reasoning_too_long"
    if selection.consistent_traces:
        blocks = [body for _, body in fenced_blocks(reasoning) if body.strip()]
        if blocks and normalized(blocks[-1]) != normalized(code):
            return "reasoning_ends_on_another_program"
    return None


@dataclass(frozen=True)
class Survivor:
    """A passing, distinct candidate."""

    index: int  # its row in the evaluated results
    task_id: str
    code: str  # the whole solution, whichever field it came in
    program: str  # what the sandbox runs
    length: int
    first_cpu_s: float
    fields: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class Ranked:
    survivor: Survivor
    cpu_median_s: float
    rank: int


def rank_values(survivor: Survivor, cpu_s: float, rank_by: Sequence[str]) -> tuple[Any, ...]:
    """The ranking key: CPU time in 0.1 ms steps (noise below that does not
    decide), length, then input order."""
    values = {"cpu": round(cpu_s, 4), "length": survivor.length}
    return tuple(values[k] for k in rank_by) + (survivor.index,)


@dataclass
class Shortlists:
    """The passing pool of an evaluated results file, per problem."""

    lists: dict[str, list[Survivor]]  # the shortlist: best by the ranking key on their first run
    passed: int = 0
    unique: int = 0  # distinct programs (names ignored), near-copies and excluded ones left out
    contrast: dict[str, list[Survivor]] = field(default_factory=dict)  # the slowest, for efficiency pairs
    counts: Counter[str] = field(default_factory=Counter)  # unique_exact, renamed, near_duplicates, excluded


Exclude = Callable[[int, str, str], bool]  # (row, task id, solution) -> leave it out


def shortlists(results: Path, problems: ProblemSet, selection: Selection, dropped: Counter[str] | None = None,
               exclude: Exclude | None = None) -> Shortlists:
    """Passing, de-duplicated candidates of an evaluated results file: the
    ``selection.shortlist_size`` best per problem by the ranking key on their
    first run (and the ``selection.contrast`` slowest).  Programs are one when
    they differ only in names, comments, docstrings or layout
    (``neardup.renamed``); with ``selection.near_dup`` a near-copy of a program
    seen before is left out too.  A program may come back with up to
    ``selection.traces_per_program`` distinct reasoning traces; traces the
    selection rejects are counted in ``dropped`` by reason."""
    size, rank_by = selection.shortlist_size, selection.rank_by
    heaps: dict[str, list[tuple[tuple[Any, ...], Survivor]]] = {}
    slow: dict[str, list[tuple[tuple[Any, ...], Survivor]]] = {}
    seen: dict[tuple[str, str], set[str]] = {}  # (problem, program) -> digests of its kept traces
    exact: set[tuple[str, str]] = set()  # what the dedup before renaming told apart, to count the difference
    nears: set[tuple[str, str]] = set()  # programs left out as near-copies
    near = NearDuplicates(selection.near_dup) if selection.near_dup is not None else None
    pool = Shortlists({})
    with open(results, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            if row.get("outcome") != Outcome.PASSED.value or row.get("flags"):
                continue  # a flagged pass (shared test isolation) is never kept
            pool.passed += 1
            code_field = CodeField.SOLUTION if "solution" in row else CodeField.COMPLETION
            problem = problems.get(str(row["task_id"]))
            if problem is None:
                continue
            program = problem.program(row[code_field.value], code_field)
            text = program[len(problem.preamble):]  # the whole solution, whichever field it came in
            if exclude is not None and exclude(index, problem.id, text):
                pool.counts["excluded"] += 1
                continue
            # completions and whole programs of the same solution are one program
            digest = hashlib.sha256(renamed(text).encode()).hexdigest()
            reasoning = str(row.get("reasoning") or "")
            why = trace_rejected(reasoning, text, selection)
            if why is not None:
                if dropped is not None:
                    dropped[why] += 1
                continue
            exact.add((problem.id, hashlib.sha256(normalized(text).encode()).hexdigest()))
            if (problem.id, digest) in nears:
                continue
            trace = hashlib.sha256(reasoning.encode()).hexdigest()
            traces = seen.get((problem.id, digest))
            if traces is not None:
                if not reasoning or trace in traces or len(traces) >= selection.traces_per_program:
                    continue
                traces.add(trace)
            else:
                # near-copies are judged on the candidate's own code (a completion without its prompt)
                if near is not None and near.add(problem.id, digest, str(row[code_field.value])) is not None:
                    nears.add((problem.id, digest))  # a program, counted once however often it comes
                    continue
                seen[(problem.id, digest)] = {trace}
                pool.unique += 1
            fields = {k: v for k, v in row.items() if k not in ("completion", "solution")}
            survivor = Survivor(index, problem.id, text, program, code_length(text, selection.length_unit,
                                                                             selection.tokenizer),
                                float(row.get("cpu_time_s", 0.0)), fields)
            key = rank_values(survivor, survivor.first_cpu_s, rank_by)
            # a max-heap of the worst kept so far (keys negated), and a min-heap of the slowest
            _bounded_push(heaps.setdefault(problem.id, []), (tuple(-v for v in key), survivor), size)
            if selection.contrast:
                _bounded_push(slow.setdefault(problem.id, []), (key, survivor), selection.contrast)
    pool.lists = {task: [e[1] for e in heap] for task, heap in heaps.items()}
    shortlisted = {s.index for survivors in pool.lists.values() for s in survivors}
    pool.contrast = {task: [e[1] for e in heap if e[1].index not in shortlisted] for task, heap in slow.items()}
    pool.counts["unique_exact"] = len(exact)
    pool.counts["near_duplicates"] = len(nears)
    pool.counts["renamed"] = len(exact) - len(seen) - len(nears)
    return pool


def _bounded_push(heap: list[tuple[tuple[Any, ...], Survivor]], entry: tuple[tuple[Any, ...], Survivor],
                  size: int) -> None:
    """Keeps the ``size`` largest entries."""
    if len(heap) < size:
        heapq.heappush(heap, entry)
    elif entry[0] > heap[0][0]:
        heapq.heapreplace(heap, entry)


@dataclass(frozen=True)
class Remeasured:
    medians: dict[int, float]  # evaluated row -> median CPU seconds, stable survivors only
    flaky: list[dict[str, Any]]
    runs: dict[int, tuple[float, ...]]  # evaluated row -> every passing run's CPU seconds (stable ones)


def remeasure(runner: Runner, problems: ProblemSet, lists: dict[str, list[Survivor]], repeats: int,
              limits_for: Callable[[Problem], Limits], tag_repeats: bool = False, first_repeat: int = 0,
              interleave: bool = False) -> Remeasured:
    """Median CPU per stable survivor; the flaky ones are reported instead.
    ``tag_repeats`` makes each repeat a distinct program (a trailing comment,
    numbered from ``first_repeat``), so that a result store keeps every
    measurement and a rebuild reproduces the same medians.  ``interleave``
    runs a problem's programs in turn (A B A B ...) rather than each one's
    repeats together, so that a drift in the machine's speed hits all alike."""
    jobs: list[Job] = []
    order: list[Survivor] = []
    for task_id, survivors in lists.items():
        problem = problems.get(task_id)
        assert problem is not None
        candidates = []
        turns = [(r, s) for r in range(repeats) for s in survivors] if interleave else \
            [(r, s) for s in survivors for r in range(repeats)]
        for repeat, survivor in turns:
            tag = f"\n# harness re-measurement {first_repeat + repeat}\n" if tag_repeats else ""
            candidates.append(Candidate(len(order), survivor.program + tag))
            order.append(survivor)
        jobs.append(make_job(problem, limits_for(problem), candidates))
    runs: dict[int, list[tuple[Outcome, float]]] = {}
    for index, execution in runner.run(jobs):
        runs.setdefault(order[index].index, []).append((execution.outcome, execution.cpu_time_s))
    medians: dict[int, float] = {}
    stable: dict[int, tuple[float, ...]] = {}
    flaky: list[dict[str, Any]] = []
    by_index = {s.index: s for s in order}
    for index, results in sorted(runs.items()):
        outcomes = [o for o, _ in results if o is not Outcome.INFRA_ERROR]
        if outcomes and all(o is Outcome.PASSED for o in outcomes):
            stable[index] = tuple(c for o, c in results if o is Outcome.PASSED)
            medians[index] = statistics.median(stable[index])
        elif outcomes:
            flaky.append({"task_id": by_index[index].task_id, "index": index,
                          "outcomes": [o.value for o, _ in results]})
    return Remeasured(medians, flaky, stable)


def rank(survivors: Sequence[Survivor], medians: dict[int, float], rank_by: Sequence[str],
         top_k: int, diversity: float | None = None,
         own: Callable[[Survivor], str] = lambda s: s.code) -> list[Ranked]:
    """Ordered by the rank keys (CPU time in 0.1 ms steps, so that noise below
    that does not decide), then by input order; the first ``top_k``, skipping,
    with ``diversity``, one at least that similar (on ``own`` code) to a better
    one kept."""
    ordered = sorted((s for s in survivors if s.index in medians),
                     key=lambda s: rank_values(s, medians[s.index], rank_by))
    chosen: list[Survivor] = []
    for survivor in ordered:
        if len(chosen) == top_k:
            break
        if diversity is not None and any(similarity(own(survivor), own(c)) >= diversity for c in chosen):
            continue
        chosen.append(survivor)
    return [Ranked(s, medians[s.index], place) for place, s in enumerate(chosen, 1)]


def natural_order(task_id: str) -> tuple[Any, ...]:
    """HumanEval/2 before HumanEval/10."""
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail)) if tail.isdigit() else (task_id, 0)
