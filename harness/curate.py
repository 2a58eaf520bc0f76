"""``harness curate``: verified, deduplicated, ranked demonstrations for SFT.

1. evaluate every sample (through the result store);
2. keep candidates that pass every test, dropping duplicates (the same
   program once comments, docstrings and formatting are normalised away);
3. shortlist per problem by first-run CPU time and length (a bounded heap,
   so memory does not grow with the number of candidates);
4. re-measure the shortlist ``remeasure`` times, outside the store: a
   candidate whose verdict changes is flaky, excluded and reported; the rest
   get the median CPU time;
5. rank by the configured key and keep the top K per problem;
6. export a ``datasets`` dataset (JSONL and Parquet) in chat format, with a
   ``manifest.json`` beside it.
"""

from __future__ import annotations

import ast
import hashlib
import heapq
import io
import json
import statistics
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import __version__
from .engine import Engine
from .errors import HarnessError, InputError
from .evaluate import EvaluationSummary, ProgressSink, evaluate
from .job import Candidate, make_job
from .limits import Limits
from .outcome import Outcome
from .problems import CodeField, ProblemSet
from .samples import OnBadLine
from .sandbox.base import Backend

RANK_KEYS = ("cpu", "length")


def normalized(code: str) -> str:
    """The program without comments, docstrings or formatting (an AST dump);
    the text itself when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code.strip()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree, annotate_fields=False)


LENGTH_UNITS = ("chars", "tokens")


def code_length(code: str, unit: str = "chars") -> int:
    """Characters, or Python tokens (tokenize's, without comments, blank
    lines or indentation bookkeeping) so that formatting does not count."""
    if unit == "chars":
        return len(code)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER, tokenize.ENCODING}
    try:
        return sum(1 for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in skip)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return len(code.split())


def parse_rank_by(text: str) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    if not keys or any(k not in RANK_KEYS for k in keys):
        raise InputError(f"--rank-by takes a comma-separated order of {', '.join(RANK_KEYS)}; got {text!r}")
    return keys


@dataclass(frozen=True)
class Survivor:
    index: int
    task_id: str
    code: str
    program: str
    length: int
    first_cpu_s: float
    fields: dict[str, Any] = field(compare=False)


@dataclass(frozen=True)
class Ranked:
    survivor: Survivor
    cpu_median_s: float
    rank: int


@dataclass(frozen=True)
class CurationSummary:
    evaluation: EvaluationSummary
    passed: int
    unique: int
    shortlisted: int
    flaky: int
    kept: int
    problems_with_solutions: int
    flaky_candidates: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rank_values(survivor: Survivor, cpu_s: float, rank_by: Sequence[str]) -> tuple[Any, ...]:
    """The ranking key: CPU time in 0.1 ms steps (noise below that does not
    decide), length, then input order."""
    values = {"cpu": round(cpu_s, 4), "length": survivor.length}
    return tuple(values[k] for k in rank_by) + (survivor.index,)


def _shortlists(results: Path, problems: ProblemSet, size: int, length_unit: str = "chars",
                rank_by: Sequence[str] = RANK_KEYS) -> tuple[dict[str, list[Survivor]], int, int]:
    """Passing, de-duplicated candidates, the ``size`` best per problem by the
    ranking key on their first run."""
    heaps: dict[str, list[tuple[float, int, int, Survivor]]] = {}
    seen: set[tuple[str, str]] = set()
    passed = unique = 0
    with open(results, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            row = json.loads(line)
            if row.get("outcome") != Outcome.PASSED.value:
                continue
            passed += 1
            code_field = CodeField.SOLUTION if "solution" in row else CodeField.COMPLETION
            code = row[code_field.value]
            problem = problems.get(str(row["task_id"]))
            if problem is None:
                continue
            program = problem.program(code, code_field)
            # completions and whole programs of the same solution are one program
            digest = hashlib.sha256(normalized(program[len(problem.preamble):]).encode()).hexdigest()
            if (problem.id, digest) in seen:
                continue
            seen.add((problem.id, digest))
            unique += 1
            fields = {k: v for k, v in row.items() if k not in ("completion", "solution")}
            text = program[len(problem.preamble):]  # the whole solution, whichever field it came in
            survivor = Survivor(index, problem.id, text, program, code_length(text, length_unit),
                                float(row.get("cpu_time_s", 0.0)), fields)
            heap = heaps.setdefault(problem.id, [])
            # a max-heap of the worst kept so far (keys negated)
            entry = (tuple(-v for v in _rank_values(survivor, survivor.first_cpu_s, rank_by)), survivor)
            if len(heap) < size:
                heapq.heappush(heap, entry)
            elif entry[0] > heap[0][0]:
                heapq.heapreplace(heap, entry)
    return {task: [e[1] for e in heap] for task, heap in heaps.items()}, passed, unique


def _remeasure(engine: Engine, problems: ProblemSet, shortlists: dict[str, list[Survivor]], repeats: int,
               limits_for: Any, tag_repeats: bool = False) -> tuple[dict[int, float], list[dict[str, Any]]]:
    """Median CPU per stable survivor; the flaky ones are reported instead.
    ``tag_repeats`` makes each repeat a distinct program (a trailing comment),
    so that a result store keeps every measurement and a rebuild reproduces
    the same medians."""
    jobs, order = [], []
    for task_id, survivors in shortlists.items():
        problem = problems.get(task_id)
        assert problem is not None
        candidates = []
        for survivor in survivors:
            for repeat in range(repeats):
                tag = f"\n# harness re-measurement {repeat}\n" if tag_repeats else ""
                candidates.append(Candidate(len(order), survivor.program + tag))
                order.append(survivor)
        jobs.append(make_job(problem, limits_for(problem), candidates))
    runs: dict[int, list[tuple[Outcome, float]]] = {}
    for index, execution in engine.run(jobs):
        runs.setdefault(order[index].index, []).append((execution.outcome, execution.cpu_time_s))
    medians, flaky = {}, []
    by_index = {s.index: s for s in order}
    for index, results in sorted(runs.items()):
        outcomes = [o for o, _ in results if o is not Outcome.INFRA_ERROR]
        if outcomes and all(o is Outcome.PASSED for o in outcomes):
            medians[index] = statistics.median(c for o, c in results if o is Outcome.PASSED)
        elif outcomes:
            flaky.append({"task_id": by_index[index].task_id, "index": index,
                          "outcomes": [o.value for o, _ in results]})
    return medians, flaky


def rank(survivors: Sequence[Survivor], medians: dict[int, float], rank_by: Sequence[str],
         top_k: int) -> list[Ranked]:
    """Ordered by the rank keys (CPU time in 0.1 ms steps, so that noise below
    that does not decide), then by input order; the first ``top_k``."""
    stable = sorted((s for s in survivors if s.index in medians),
                    key=lambda s: _rank_values(s, medians[s.index], rank_by))[:top_k]
    return [Ranked(s, medians[s.index], rank) for rank, s in enumerate(stable, 1)]


def export(out_dir: Path, kept: Iterable[Ranked], problems: ProblemSet, sandbox: str,
           model_field: str = "model") -> int:
    """``train.jsonl`` and ``train.parquet`` through ``datasets``, chat format."""
    import datasets

    datasets.disable_progress_bars()
    rows = []
    for ranked in kept:
        survivor = ranked.survivor
        problem = problems.get(survivor.task_id)
        assert problem is not None
        rows.append({
            "messages": [{"role": "user", "content": problem.prompt},
                         {"role": "assistant", "content": f"```python\n{survivor.code.rstrip()}\n```"}],
            "task_id": survivor.task_id,
            "rank": ranked.rank,
            "cpu_time_s": ranked.cpu_median_s,
            "length": survivor.length,
            "model": str(survivor.fields.get(model_field, "")),
            "sampling": json.dumps(survivor.fields.get("sampling", {}), sort_keys=True),
            "tests_hash": problem.tests_hash,
            "sandbox": sandbox,
            "harness_version": __version__,
        })
    out_dir.mkdir(parents=True, exist_ok=True)
    features = datasets.Features({
        "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        "task_id": datasets.Value("string"), "rank": datasets.Value("int32"),
        "cpu_time_s": datasets.Value("float64"), "length": datasets.Value("int64"),
        "model": datasets.Value("string"), "sampling": datasets.Value("string"),
        "tests_hash": datasets.Value("string"), "sandbox": datasets.Value("string"),
        "harness_version": datasets.Value("string"),
    })
    if rows:
        dataset = datasets.Dataset.from_list(rows, features=features)
    else:  # no verified solution: an empty dataset with the same columns
        dataset = datasets.Dataset.from_dict({name: [] for name in features}, features=features)
    dataset.to_json(str(out_dir / "train.jsonl"), lines=True, force_ascii=False)
    dataset.to_parquet(str(out_dir / "train.parquet"))
    return len(rows)


def curate(samples: str | Path, problems: ProblemSet, backend: Backend, out_dir: str | Path, top_k: int = 1,
           remeasure: int = 3, shortlist: int | None = None, rank_by: Sequence[str] = RANK_KEYS,
           workers: int = 2, ks: Sequence[int] = (1, 10), base_limits: Limits | None = None,
           limit_overrides: Mapping[str, float] | None = None, on_bad: OnBadLine = OnBadLine.FAIL,
           progress: ProgressSink | None = None, measure_backend: Backend | None = None,
           length_unit: str = "chars", reproducible: bool = False,
           labels: Mapping[str, str] | None = None) -> CurationSummary:
    """Runs the whole selection; see the module docstring."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluated = out_dir / "evaluated.jsonl"
    summary = evaluate(samples, problems, backend, evaluated, ks=ks, workers=workers, base_limits=base_limits,
                       limit_overrides=limit_overrides, on_bad=on_bad, progress=progress)
    if length_unit not in LENGTH_UNITS:
        raise InputError(f"length unit must be one of {', '.join(LENGTH_UNITS)}, not {length_unit!r}")
    if top_k < 1 or remeasure < 1 or (shortlist is not None and shortlist < 1):
        raise InputError("top_k, remeasure and shortlist must be at least 1")
    shortlists, passed, unique = _shortlists(evaluated, problems, shortlist or max(2 * top_k, top_k + 2),
                                             length_unit, rank_by)
    from .calibrate import Calibration, limits_resolver
    resolve = limits_resolver(base_limits or Limits(), Calibration(backend.identity()), limit_overrides or {})
    engine = Engine(measure_backend or backend, workers=workers, container_limits=base_limits or Limits())
    medians, flaky = _remeasure(engine, problems, shortlists, max(1, remeasure), resolve, tag_repeats=reproducible)
    kept = [r for task in sorted(shortlists, key=_natural) for r in rank(shortlists[task], medians, rank_by, top_k)]
    count = export(out_dir, kept, problems, backend.identity())
    result = CurationSummary(
        evaluation=summary, passed=passed, unique=unique,
        shortlisted=sum(len(v) for v in shortlists.values()), flaky=len(flaky), kept=count,
        problems_with_solutions=len({r.survivor.task_id for r in kept}), flaky_candidates=flaky)
    manifest = {
        "counts": {"candidates": summary.n_candidates, "passed": passed, "unique_passing": unique,
                   "shortlisted": result.shortlisted, "flaky": len(flaky), "kept": count,
                   "problems": len(problems), "problems_with_solutions": result.problems_with_solutions},
        "pass_at_k": summary.pass_at_k,
        "config": {"problems": (labels or {}).get("problems", problems.source),
                   "samples": (labels or {}).get("samples", str(samples)), "top_k": top_k, "remeasure": remeasure,
                   "rank_by": list(rank_by), "length_unit": length_unit, "sandbox": backend.identity(),
                   "harness_version": __version__},
        "flaky": flaky,
        "files": ["train.jsonl", "train.parquet", "evaluated.jsonl"],
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return result


def _natural(task_id: str) -> tuple[Any, ...]:
    """HumanEval/2 before HumanEval/10."""
    head, _, tail = task_id.rpartition("/")
    return (head, int(tail)) if tail.isdigit() else (task_id, 0)


def push_to_hub(out_dir: str | Path, repo: str) -> None:
    """Pushes the exported dataset to ``repo``; one clear line on failure.

    Raises:
        HarnessError: the hub is unreachable or refused the push.
    """
    import datasets

    from .hub import require_hub
    require_hub(f"push to {repo}")
    try:
        dataset = datasets.load_dataset("parquet", data_files=str(Path(out_dir) / "train.parquet"), split="train")
        dataset.push_to_hub(repo)
    except Exception as exc:  # the hub client raises many kinds; all mean "not pushed"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise HarnessError(f"push to {repo} failed ({type(exc).__name__}: {first[:200]})") from None
