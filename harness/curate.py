"""``harness curate``: verified, deduplicated, ranked demonstrations for SFT.

The stages, each in its own module:

1. ``evaluate``: judge every sample (through the result store, when given);
2. ``select``: keep candidates that pass every test, dropping duplicates;
   shortlist per problem by first-run CPU time and length; re-measure the
   shortlist (outside the store unless the selection is reproducible): a
   candidate whose verdict changes is flaky, excluded and reported, the rest
   get the median CPU time; rank and keep the top K per problem;
3. ``export``: a ``datasets`` dataset (JSONL and Parquet) in chat format, with
   a ``manifest.json`` beside it;
4. ``extras`` (when asked): preference pairs, repair rows, rewards, with
   problems and solutions that share long n-grams with benchmarks
   (``decontam``) left out of everything, or flagged.

Every option is checked, and the output folder tried, before anything runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__
from .calibrate import Calibration, limits_resolver
from .decontam import CODE_NGRAM, NGRAM, Decontamination, load_index
from .errors import writing
from .evaluate import EvaluationSummary, ProgressSink, check_ks, evaluate
from .export import DATASET_FILES, SftFormat, export, prepare_out_dir, user_turn, write_manifest
from .extras import DECONTAMINATION_FILE, Extras, write_extras
from .options import RunOptions
from .problems import ProblemSet
from .report_data import load_run
from .report_html import REPORT_FILE, write_html
from .run import Runner
from .samples import OnBadLine
from .sandbox.base import Backend
from .select import Remeasured, Selection, Survivor, natural_order, rank, remeasure, shortlists
from .store import CachingBackend, ResultStore


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
    traces_kept: int = 0  # kept rows with a reasoning trace
    traces_dropped: dict[str, int] = field(default_factory=dict)  # passing samples whose trace was refused, by reason
    extras: dict[str, int] = field(default_factory=dict)  # rows written beyond SFT, dedup and decontamination counts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def curate(samples: str | Path, problems: ProblemSet, backend: Backend, out_dir: str | Path,
           selection: Selection | None = None, run: RunOptions | None = None, *, ks: Sequence[int] = (1, 10),
           on_bad: OnBadLine = OnBadLine.FAIL, progress: ProgressSink | None = None,
           store: ResultStore | None = None, labels: Mapping[str, str] | None = None,
           sft: SftFormat | None = None, extras: Extras | None = None) -> CurationSummary:
    """Runs the whole selection; see the module docstring.

    ``backend`` is the plain sandbox backend: with a ``store`` the evaluation
    goes through it, and so do the re-measurements when
    ``selection.reproducible`` (each repeat stored apart); otherwise they are
    measured afresh.  ``labels`` replace the problems' and samples' paths in
    the manifest (a rebuild records them as written in its corpus file).

    Raises:
        ConfigError: bad ``ks``; bad selection options are refused when the
            ``Selection`` is made.
        OutputError: ``out_dir`` cannot be written (checked first) or the
            dataset cannot be written.
        SampleError, SandboxError, StoreError: as ``evaluate``.
    """
    selection = selection or Selection()
    extras = extras or Extras()
    if extras.pairs and not selection.contrast:  # efficiency pairs need slow programs measured too
        selection = replace(selection, contrast=selection.shortlist_size)
    run = run or RunOptions()
    ks = check_ks(ks)
    decon = Decontamination(load_index(extras.decontaminate), extras.flag_only) if extras.decontaminate else None
    out = prepare_out_dir(out_dir)
    summary = evaluate(samples, problems, backend, out / "evaluated.jsonl", run, ks=ks, on_bad=on_bad,
                       progress=progress, store=store)
    dropped: Counter[str] = Counter()
    if decon is not None:
        decon.check_problems(problems)
    pool = shortlists(out / "evaluated.jsonl", problems, selection, dropped,
                      exclude=decon.excludes if decon is not None else None)
    lists = pool.lists
    calibration = Calibration(backend.identity(), run.cache.calibration) if run.calibrate else None
    resolve = limits_resolver(run.limits, calibration, run.limit_overrides)
    measured = CachingBackend(backend, store) if store is not None and selection.reproducible else backend
    measuring = {t: lists.get(t, []) + pool.contrast.get(t, []) for t in {*lists, *pool.contrast}}
    remeasured = remeasure(Runner(measured, run), problems, measuring, selection.remeasure, resolve,
                           tag_repeats=selection.reproducible)
    medians = remeasured.medians
    shortlisted = {s.index for survivors in lists.values() for s in survivors}
    flaky = [f for f in remeasured.flaky if f["index"] in shortlisted]
    def own(survivor: Survivor) -> str:  # a completion without the prompt it continues
        problem = problems.get(survivor.task_id)
        prompt = problem.prompt if problem is not None else ""
        return survivor.code[len(prompt):] if prompt and survivor.code.startswith(prompt) else survivor.code

    kept = [r for task in sorted(lists, key=natural_order)
            for r in rank(lists[task], medians, selection.rank_by, selection.top_k, selection.diversity, own)]
    sft = sft or SftFormat()
    flags = None
    if decon is not None and decon.flag_only:
        flags = {r.survivor.index: decon.label(r.survivor.index, r.survivor.task_id, r.survivor.code) for r in kept}
    count = export(out, kept, problems, backend.identity(), sft=sft, contamination=flags)
    users = {p.id: user_turn(p) for p in problems}
    def measure_more(programs: dict[str, list[Survivor]], runs: int) -> Remeasured:
        return remeasure(Runner(measured, run), problems, programs, runs, resolve,
                         tag_repeats=selection.reproducible, first_repeat=selection.remeasure, interleave=True)

    written = write_extras(out, extras, problems, kept, pool, remeasured, users, decon, measure_more)
    files = [*DATASET_FILES, *written.files, "evaluated.jsonl", REPORT_FILE]
    if decon is not None:
        with writing(out / DECONTAMINATION_FILE, "the decontamination report"):
            (out / DECONTAMINATION_FILE).write_text(json.dumps(decon.report(), indent=2, sort_keys=True) + "\n")
        files.append(DECONTAMINATION_FILE)
    passed, unique = pool.passed, pool.unique
    result = CurationSummary(
        evaluation=summary, passed=passed, unique=unique,
        shortlisted=sum(len(v) for v in lists.values()), flaky=len(flaky), kept=count,
        problems_with_solutions=len({r.survivor.task_id for r in kept}), flaky_candidates=flaky,
        traces_kept=sum(1 for r in kept if r.survivor.fields.get("reasoning")), traces_dropped=dict(dropped),
        extras={"unique_exact": pool.counts["unique_exact"], "renamed_duplicates": pool.counts["renamed"],
                "near_duplicates": pool.counts["near_duplicates"], **written.counts,
                **({"contaminated_" + k: v for k, v in decon.counts().items()} if decon else {})})
    write_manifest(out, {
        "counts": {"candidates": summary.n_candidates, "passed": passed, "unique_passing": unique,
                   "shortlisted": result.shortlisted, "flaky": len(flaky), "kept": count,
                   "problems": len(problems), "problems_with_solutions": result.problems_with_solutions,
                   "traces_kept": result.traces_kept, "traces_dropped": dict(dropped),
                   # unique_exact - unique_passing: what dedup removed beyond exact copies
                   **result.extras},
        "pass_at_k": summary.pass_at_k,
        "config": {"problems": (labels or {}).get("problems", problems.source),
                   "samples": (labels or {}).get("samples", str(samples)), "top_k": selection.top_k,
                   "remeasure": selection.remeasure, "rank_by": list(selection.rank_by),
                   "length_unit": selection.length_unit, "sandbox": backend.identity(),
                   "sft_content": sft.content, "reasoning_field": sft.reasoning_field,
                   "traces_per_program": selection.traces_per_program,
                   "max_reasoning_chars": selection.max_reasoning_chars,
                   "max_reasoning_tokens": selection.max_reasoning_tokens, "tokenizer": selection.tokenizer,
                   "consistent_traces": selection.consistent_traces,
                   "dedup": "renamed", "near_dup": selection.near_dup, "diversity": selection.diversity,
                   "pairs": extras.pairs, "pairs_per_problem": extras.pairs_per_problem,
                   "efficiency_margin": extras.efficiency_margin, "repair": extras.repair,
                   "repair_per_problem": extras.repair_per_problem, "rewards": extras.rewards,
                   "decontaminate": list(extras.decontaminate), "decontamination_ngram": NGRAM,
                   "decontamination_code_ngram": CODE_NGRAM,
                   "flag_only": extras.flag_only,
                   "harness_version": __version__},
        "flaky": flaky,
        "files": files,
    })
    # the folder's name, not its path: the same run writes the same bytes wherever it was started
    write_html(out / REPORT_FILE, [load_run(out, label=problems.name, source=out.name)],
               title=f"harness curate: {problems.name}")
    return result
