"""``harness evaluate``: samples in, verdicts out, in input order.

Streams from end to end: samples are read lazily, grouped into jobs, run by
the engine, and written to ``results.jsonl`` in input order as soon as every
earlier row is done (each row flushed, so an interrupted run keeps its rows).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, TextIO

from .calibrate import Calibration, limits_resolver
from .engine import Engine
from .errors import HarnessError
from .job import jobs_from_samples
from .limits import Limits
from .outcome import Execution, Outcome
from .passk import pass_at_k_table
from .problems import ProblemSet
from .samples import OnBadLine, Sample, read_samples, validate_samples
from .sandbox.base import Backend

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProgressSink:
    """What the evaluation reports while it runs (the CLI draws it with rich)."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, execution: Execution) -> None: ...

    def stop(self) -> None: ...


def result_row(sample: Sample, execution: Execution) -> dict[str, Any]:
    row = dict(sample.fields)
    data = execution.to_dict()
    for key in RESULT_FIELDS:
        if key != "code_length":
            row[key] = data[key]
    row["code_length"] = len(sample.code)
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


def evaluate(samples_path: str | Path, problems: ProblemSet, backend: Backend, out_path: str | Path,
             ks: Iterable[int] = (1, 10, 100), workers: int = 2, base_limits: Limits | None = None,
             limit_overrides: Mapping[str, float] | None = None, on_bad: OnBadLine = OnBadLine.FAIL,
             calibrate: bool = True, progress: ProgressSink | None = None,
             isolation: str = "process", engine_wait_s: float = 60.0) -> EvaluationSummary:
    """Evaluates every sample; see the module docstring.

    Raises:
        SampleError: a bad samples line (with ``on_bad=FAIL``), before anything runs.
        SandboxError: the sandbox became unusable; rows written so far are kept.
    """
    started = time.monotonic()
    progress = progress or ProgressSink()
    base = base_limits or Limits()
    total, bad_lines, used = validate_samples(samples_path, problems, on_bad)
    engine = Engine(backend, workers=workers, container_limits=base, engine_wait_s=engine_wait_s)

    calibration = None
    if calibrate:
        calibration = Calibration(backend.identity())
        missing = calibration.missing(p for p in problems if p.id in used)
        if missing:
            progress.start(len(missing), "calibrating limits")
            calibration.measure(engine, missing, on_result=progress.advance)
            progress.stop()
    resolve = limits_resolver(base, calibration, limit_overrides or {})

    pending: dict[int, Sample] = {}

    def remember(samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            pending[sample.index] = sample
            yield sample

    counts: dict[str, list[int]] = {}
    outcomes = {o.value: 0 for o in Outcome}
    cached = 0
    progress.start(total, "evaluating")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # backslashreplace: a lone surrogate in a candidate's output or fields is
        # written as its JSON escape instead of aborting the run.
        with open(out_path, "w", encoding="utf-8", errors="backslashreplace") as handle:
            writer = OrderedWriter(handle)
            jobs = jobs_from_samples(remember(read_samples(samples_path, problems, OnBadLine.SKIP)),
                                     problems, resolve)
            try:
                for index, execution in engine.run(jobs):
                    sample = pending.pop(index)
                    writer.add(index, result_row(sample, execution))
                    outcomes[execution.outcome.value] += 1
                    cached += execution.cached
                    tally = counts.setdefault(sample.task_id, [0, 0])
                    if execution.outcome.is_verdict:
                        tally[0] += 1
                        tally[1] += execution.passed
                    progress.advance(execution)
            except BaseException:
                writer.abandon()
                raise
    except OSError as exc:  # a full disk, a vanished folder: one line, and nothing judged is lost
        raise HarnessError(f"{out_path}: cannot write results ({exc.strerror or exc}); verdicts already judged "
                           "are in the result store, so rerunning the command finishes the job") from None
    finally:
        progress.stop()
    elapsed = time.monotonic() - started
    return EvaluationSummary(
        n_candidates=total, outcomes=outcomes,
        pass_at_k=pass_at_k_table({t: (n, c) for t, (n, c) in counts.items()}, ks),
        elapsed_s=round(elapsed, 3), candidates_per_s=round(total / elapsed, 2) if elapsed else 0.0,
        n_tasks=len(counts), problems=problems.name, sandbox=backend.identity(), isolation=isolation,
        workers=workers, infra_retries=engine.infra_retries, executed=total - cached - outcomes["infra_error"],
        cached=cached, bad_lines=bad_lines)

