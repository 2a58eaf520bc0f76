"""``harness curate``: verified, deduplicated, ranked demonstrations for SFT.

The stages, each in its own module:

1. ``evaluate``: judge every sample (through the result store, when given);
2. ``select``: keep candidates that pass every test, dropping duplicates;
   shortlist per problem by first-run CPU time and length; re-measure the
   shortlist (outside the store unless the selection is reproducible): a
   candidate whose verdict changes is flaky, excluded and reported, the rest
   get the median CPU time; rank and keep the top K per problem;
3. ``export``: a ``datasets`` dataset (JSONL and Parquet) in chat format, with
   a ``manifest.json`` beside it.

Every option is checked, and the output folder tried, before anything runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .calibrate import Calibration, limits_resolver
from .evaluate import EvaluationSummary, ProgressSink, check_ks, evaluate
from .export import DATASET_FILES, SftFormat, export, prepare_out_dir, write_manifest
from .options import RunOptions
from .problems import ProblemSet
from .report_data import load_run
from .report_html import REPORT_FILE, write_html
from .run import Runner
from .samples import OnBadLine
from .sandbox.base import Backend
from .select import Selection, natural_order, rank, remeasure, shortlists
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def curate(samples: str | Path, problems: ProblemSet, backend: Backend, out_dir: str | Path,
           selection: Selection | None = None, run: RunOptions | None = None, *, ks: Sequence[int] = (1, 10),
           on_bad: OnBadLine = OnBadLine.FAIL, progress: ProgressSink | None = None,
           store: ResultStore | None = None, labels: Mapping[str, str] | None = None,
           sft: SftFormat | None = None) -> CurationSummary:
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
    run = run or RunOptions()
    ks = check_ks(ks)
    out = prepare_out_dir(out_dir)
    summary = evaluate(samples, problems, backend, out / "evaluated.jsonl", run, ks=ks, on_bad=on_bad,
                       progress=progress, store=store)
    dropped: Counter[str] = Counter()
    lists, passed, unique = shortlists(out / "evaluated.jsonl", problems, selection, dropped)
    calibration = Calibration(backend.identity(), run.cache.calibration) if run.calibrate else None
    resolve = limits_resolver(run.limits, calibration, run.limit_overrides)
    measured = CachingBackend(backend, store) if store is not None and selection.reproducible else backend
    medians, flaky = remeasure(Runner(measured, run), problems, lists, selection.remeasure, resolve,
                               tag_repeats=selection.reproducible)
    kept = [r for task in sorted(lists, key=natural_order)
            for r in rank(lists[task], medians, selection.rank_by, selection.top_k)]
    sft = sft or SftFormat()
    count = export(out, kept, problems, backend.identity(), sft=sft)
    result = CurationSummary(
        evaluation=summary, passed=passed, unique=unique,
        shortlisted=sum(len(v) for v in lists.values()), flaky=len(flaky), kept=count,
        problems_with_solutions=len({r.survivor.task_id for r in kept}), flaky_candidates=flaky,
        traces_kept=sum(1 for r in kept if r.survivor.fields.get("reasoning")), traces_dropped=dict(dropped))
    write_manifest(out, {
        "counts": {"candidates": summary.n_candidates, "passed": passed, "unique_passing": unique,
                   "shortlisted": result.shortlisted, "flaky": len(flaky), "kept": count,
                   "problems": len(problems), "problems_with_solutions": result.problems_with_solutions,
                   "traces_kept": result.traces_kept, "traces_dropped": dict(dropped)},
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
                   "harness_version": __version__},
        "flaky": flaky,
        "files": [*DATASET_FILES, "evaluated.jsonl", REPORT_FILE],
    })
    write_html(out / REPORT_FILE, [load_run(out, label=problems.name)], title=f"harness curate: {problems.name}")
    return result
