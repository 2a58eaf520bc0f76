"""``harness evaluate``: samples in, verdicts out, in input order.

Streams from end to end: samples are read lazily, grouped into jobs, run by
the runner, and written to ``results.jsonl`` in input order as soon as every
earlier row is done (each row flushed, so an interrupted run keeps its rows).
Everything that can be checked is checked before anything runs: the options,
every samples line, and that the results file can be opened.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from .calibrate import Calibration, limits_resolver
from .errors import ConfigError, writing
from .job import jobs_from_samples
from .options import RunOptions
from .outcome import Execution, Outcome
from .passk import pass_at_k_table
from .problems import Problem, ProblemSet
from .run import Runner
from .samples import OnBadLine, Sample, read_samples, validate_samples
from .sandbox.base import Backend
from .screen import screen
from .shard import Shard
from .store import CachingBackend, ResultStore
from .validate import shared_rescue

# A sample whose reply the generator's token limit cut before any answer
# (``extraction: truncated``): recorded as such, never run.
NO_ANSWER = Execution(outcome=Outcome.TRUNCATED, detail="the reply was cut by the token limit before any answer")

# Data, not run metadata: what a rerun from the store reproduces byte for byte
# (infra retries are counted in the summary instead).
RESULT_FIELDS = ("outcome", "passed", "cpu_time_s", "wall_time_s", "peak_memory_bytes", "code_length", "detail")


@dataclass(frozen=True)
class EvaluationSummary:
    n_candidates: int
    outcomes: dict[str, int]
    pass_at_k: dict[str, float | None]
    elapsed_s: float
    candidates_per_s: float
    n_tasks: int
    problems: str
    sandbox: str
    isolation: str
    workers: int
    infra_retries: int
    executed: int = 0  # candidates run in the sandbox by this run
    cached: int = 0  # candidates answered by the result store
    bad_lines: list[str] = field(default_factory=list)
    # task id -> why its tests cannot judge any candidate (outcome problem_error)
    problem_errors: dict[str, str] = field(default_factory=dict)
    # problems whose reference fails split and passes with test_isolation shared
    needs_shared: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProgressSink:
    """What the evaluation reports while it runs (the CLI draws it with rich)."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, execution: Execution) -> None: ...

    def stop(self) -> None: ...


def result_row(sample: Sample, execution: Execution, problem: Problem | None = None) -> dict[str, Any]:
    row = dict(sample.fields)
    data = execution.to_dict()
    for key in RESULT_FIELDS:
        if key != "code_length":
            row[key] = data[key]
    row["code_length"] = len(sample.code)
    row["test_isolation"] = problem.test_isolation if problem is not None else "split"
    if row["test_isolation"] == "shared" and execution.passed:
        row["flags"] = list(screen(sample.code))  # a shared pass is screened, not trusted
    if execution.test_outcomes:  # kinds with test cases: the fraction beside the all-or-nothing verdict
        row["tests_passed"] = execution.tests_passed
        row["tests_total"] = len(execution.test_outcomes)
        row["test_outcomes"] = list(execution.test_outcomes)
    return row


class OrderedWriter:
    """Writes rows in index order, holding back only those that finished early."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.next_index = 0
        self.waiting: dict[int, dict[str, Any]] = {}

    def add(self, index: int, row: dict[str, Any]) -> None:
        self.waiting[index] = row
        while self.next_index in self.waiting:
            self._write(self.waiting.pop(self.next_index))
            self.next_index += 1
        self.handle.flush()

    def abandon(self) -> None:
        """An interrupted run: write what finished early too (still in index
        order, now with gaps) rather than lose it."""
        try:
            for index in sorted(self.waiting):
                self._write(self.waiting.pop(index))
            self.handle.flush()
        except OSError:
            pass  # the disk that failed us: the result store still has the verdicts

    def _write(self, row: dict[str, Any]) -> None:
        self.handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    """The pass@k values, each a whole number >= 1 (raises ConfigError)."""
    values = tuple(ks)
    if not values or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in values):
        raise ConfigError(f"pass@k values must be whole numbers >= 1, not {list(values)!r}")
    return values


def evaluate(samples_path: str | Path, problems: ProblemSet, backend: Backend, out_path: str | Path,
             run: RunOptions | None = None, *, ks: Sequence[int] = (1, 10, 100), on_bad: OnBadLine = OnBadLine.FAIL,
             progress: ProgressSink | None = None, store: ResultStore | None = None,
             workers: int | None = None, shard: Shard | None = None) -> EvaluationSummary:
    """Evaluates every sample; see the module docstring.

    ``run`` says how (workers, limits, calibration and where it is kept,
    retries); with a ``store``, verdicts are looked up before running and
    stored as they arrive.  ``workers`` is a shortcut for ``run``'s field,
    kept for older callers.  With a ``shard`` only its samples are judged
    (see ``harness.shard``), and the results hold only their rows.

    Raises:
        ConfigError: bad ``ks``.
        SampleError: a bad samples line (with ``on_bad=FAIL``), before anything runs.
        OutputError: the results file cannot be written; rows written so far
            are kept, and so are the verdicts in the store.
        SandboxError: the sandbox became unusable; rows written so far are kept.
    """
    started = time.monotonic()
    run = run or RunOptions()
    if workers is not None:
        run = replace(run, workers=workers)
    ks = check_ks(ks)
    progress = progress or ProgressSink()
    total, bad_lines, used = validate_samples(samples_path, problems, on_bad)
    if shard is not None:
        total = shard.size(total)
    if store is not None:
        backend = CachingBackend(backend, store)
    runner = Runner(backend, run)
    if total:  # sandboxes boot while the samples are read and the jobs built; no more than get work
        tasks = max(len(used), -(-total // run.chunk_size))
        backend.prepare(run.limits, min(runner.workers, tasks))
    out_path = Path(out_path)
    hint = ("verdicts already judged are in the result store, so rerunning the command finishes the job"
            if isinstance(backend, CachingBackend) else "")

    def results_file() -> AbstractContextManager[None]:  # a full disk, a vanished folder: one line
        return writing(out_path, "results", hint)

    with results_file():
        out_path.parent.mkdir(parents=True, exist_ok=True)
        # backslashreplace: a lone surrogate in a candidate's output or fields is
        # written as its JSON escape instead of aborting the run.
        handle = open(out_path, "w", encoding="utf-8", errors="backslashreplace")
    pending: dict[int, Sample] = {}

    unanswered: collections.deque[int] = collections.deque()  # truncated replies: judged without running

    def remember(samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            pending[sample.index] = sample
            if sample.fields.get("extraction") == "truncated":
                unanswered.append(sample.index)
                continue
            yield sample

    def with_unanswered(executions: Iterable[tuple[int, Execution]]) -> Iterator[tuple[int, Execution]]:
        for item in executions:
            while unanswered:
                yield unanswered.popleft(), NO_ANSWER
            yield item
        while unanswered:
            yield unanswered.popleft(), NO_ANSWER

    counts: dict[str, list[int]] = {}
    problem_errors: dict[str, str] = {}
    needs_shared: list[str] = []
    outcomes = {o.value: 0 for o in Outcome}
    cached = 0
    try:
        with results_file(), handle:
            calibration = None
            if run.calibrate:
                calibration = Calibration(backend.identity(), run.cache.calibration)
                missing = calibration.missing(p for p in problems if p.id in used)
                if missing:
                    progress.start(len(missing), "calibrating limits")
                    try:
                        runs = calibration.measure(runner, missing, on_result=progress.advance)
                        needs_shared = sorted(shared_rescue(missing, runs, runner, calibration))
                    finally:
                        progress.stop()
            resolve = limits_resolver(run.limits, calibration, run.limit_overrides)
            progress.start(total, "evaluating")
            writer = OrderedWriter(handle)
            samples = read_samples(samples_path, problems, OnBadLine.SKIP)
            jobs = jobs_from_samples(remember(shard.select(samples) if shard is not None else samples),
                                     problems, resolve)
            try:
                for index, execution in with_unanswered(runner.run(jobs)):
                    sample = pending.pop(index)
                    writer.add(index, result_row(sample, execution, problems.get(sample.task_id)))
                    outcomes[execution.outcome.value] += 1
                    cached += execution.cached
                    tally = counts.setdefault(sample.task_id, [0, 0])
                    if execution.outcome.is_verdict:
                        tally[0] += 1
                        tally[1] += execution.passed
                    elif execution.outcome is Outcome.PROBLEM_ERROR:
                        problem_errors.setdefault(sample.task_id, execution.detail)
                    progress.advance(execution)
            except BaseException:
                writer.abandon()
                raise
    finally:
        progress.stop()
    elapsed = time.monotonic() - started
    return EvaluationSummary(
        n_candidates=total, outcomes=outcomes,
        pass_at_k=pass_at_k_table({t: (n, c) for t, (n, c) in counts.items()}, ks),
        elapsed_s=round(elapsed, 3), candidates_per_s=round(total / elapsed, 2) if elapsed else 0.0,
        n_tasks=len(counts), problems=problems.name, sandbox=backend.identity(), isolation=run.isolation,
        workers=runner.workers, infra_retries=runner.infra_retries,
        executed=total - cached - outcomes["infra_error"] - outcomes["truncated"], cached=cached,
        bad_lines=bad_lines, problem_errors=problem_errors, needs_shared=needs_shared)
