"""What a report shows, aggregated from judged rows in one streaming pass.

A run is a ``results.jsonl`` (from ``evaluate``) or a curate/rebuild output
folder (its ``evaluated.jsonl``, with the kept candidates from
``train.jsonl``).  Everything a chart or table shows is computed here, in
Python, so the HTML embeds aggregates plus a bounded sample of candidates
and stays small for 100k-candidate runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import SampleError
from .outcome import Outcome
from .passk import pass_at_k_table
from .problems import open_text
from .samples import json_line

# Per problem, the candidates whose code the report carries (the rest are
# counted, not embedded): the first of each outcome, then input order.
CANDIDATES_PER_PROBLEM = 12
CODE_CHARS = 4000  # a longer program is cut in the report (never in the data)
SCATTER_POINTS = 3000  # passing programs plotted, kept ones always among them
NOT_VERDICTS = {Outcome.INFRA_ERROR.value, Outcome.PROBLEM_ERROR.value}
# Histograms have fixed log-spaced bins (PER_DECADE a decade: 12% wide), so
# runs share them; the page drops the empty ones at either end.
PER_DECADE = 20
CPU_BINS = (1e-5, 7, "s")  # 10 us .. 100 s
MEMORY_BINS = (1 << 20, 5, "B")  # 1 MiB .. 100 GiB


@dataclass(frozen=True)
class Candidate:
    """One judged candidate as the drill-down shows it."""

    index: int  # its row in the run's results
    outcome: str
    cpu_time_s: float
    peak_memory_bytes: int
    code_length: int
    detail: str
    code: str
    kept: bool = False


@dataclass(frozen=True)
class ProblemStats:
    task_id: str
    n: int  # verdicts (infra and problem errors excluded, as in pass@k)
    passed: int
    pass_at_1: float | None
    outcomes: dict[str, int]
    first_failure: str  # the first failing candidate's detail: its failing test and why
    flaky: bool  # one program judged two different ways
    infra: int
    cpu_median_s: float | None  # of passing candidates
    memory_median_bytes: int | None
    kept: int = 0


@dataclass(frozen=True)
class Histogram:
    labels: list[str]
    counts: list[int]


@dataclass(frozen=True)
class RunData:
    label: str
    source: str
    n_candidates: int
    outcomes: dict[str, int]
    pass_at_k: dict[str, float | None]  # k = 1..the smallest n over problems
    problems: list[ProblemStats]
    pass_rate_histogram: Histogram
    cpu_histogram: Histogram
    memory_histogram: Histogram
    scatter: list[tuple[int, float, bool]]  # (code length, CPU s, kept) of passing programs
    candidates: dict[str, list[Candidate]]
    curated: bool = False
    flaky_programs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Problem:
    """Accumulator for one problem while rows stream by."""

    n: int = 0
    passed: int = 0
    infra: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    first_failure: str = ""
    cpu: list[float] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)
    verdicts: dict[str, set[str]] = field(default_factory=dict)  # program hash -> outcomes
    shown: list[Candidate] = field(default_factory=list)
    shown_outcomes: set[str] = field(default_factory=set)
    kept: int = 0


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with open_text(path) as handle:
            for lineno, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                row = json_line(text, f"{path}:{lineno}")
                if not isinstance(row, dict) or "task_id" not in row or "outcome" not in row:
                    raise SampleError(f"{path}:{lineno}: not a judged row (needs 'task_id' and 'outcome')")
                yield lineno, row
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path}: cannot read results ({exc})") from exc


def _kept_indices(folder: Path) -> set[int]:
    """Rows of evaluated.jsonl that the dataset kept (``sample_index`` in train.jsonl)."""
    train = folder / "train.jsonl"
    if not train.is_file():
        return set()
    kept = set()
    with open(train, encoding="utf-8") as handle:
        for text in handle:
            index = json.loads(text).get("sample_index") if text.strip() else None
            if isinstance(index, int):
                kept.add(index)
    return kept


def _flaky_indices(folder: Path) -> set[int]:
    """Rows that re-measurement found flaky (the manifest's ``flaky`` list)."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return set()
    entries = json.loads(manifest.read_text(encoding="utf-8")).get("flaky") or []
    return {int(e["index"]) for e in entries if isinstance(e, dict) and isinstance(e.get("index"), int)}


@dataclass(frozen=True)
class RunFiles:
    results: Path
    kept: set[int] = field(default_factory=set)  # row indices the dataset kept
    flaky: set[int] = field(default_factory=set)  # row indices re-measurement found flaky
    curated: bool = False


def resolve_run(path: str | Path) -> RunFiles:
    """A results file, or a curate/rebuild output folder with what it kept and found flaky."""
    path = Path(path)
    if path.is_dir():
        evaluated = path / "evaluated.jsonl"
        if not evaluated.is_file():
            raise SampleError(f"{path}: no evaluated.jsonl here (expected a curate or rebuild output folder)")
        try:
            return RunFiles(evaluated, _kept_indices(path), _flaky_indices(path), curated=True)
        except (OSError, ValueError) as exc:
            raise SampleError(f"{path}: unreadable train.jsonl or manifest.json ({exc})") from exc
    if not path.is_file():
        raise SampleError(f"{path}: no such results file or folder")
    return RunFiles(path)


def _code(row: Mapping[str, Any]) -> str:
    for name in ("solution", "completion"):
        if isinstance(row.get(name), str):
            return str(row[name])
    return ""


def _show(acc: _Problem, candidate: Candidate) -> None:
    """Keeps a bounded, varied sample: each outcome's first, kept ones, then input order."""
    new_outcome = candidate.outcome not in acc.shown_outcomes
    if len(acc.shown) < CANDIDATES_PER_PROBLEM or new_outcome or candidate.kept:
        if len(acc.shown) >= CANDIDATES_PER_PROBLEM:
            # replace the latest candidate whose outcome is already represented twice
            for i in range(len(acc.shown) - 1, -1, -1):
                old = acc.shown[i]
                if not old.kept and sum(c.outcome == old.outcome for c in acc.shown) > 1:
                    del acc.shown[i]
                    break
            else:
                return
        acc.shown.append(candidate)
        acc.shown_outcomes.add(candidate.outcome)


def _log_histogram(values: Iterable[float], bins: tuple[float, int, str]) -> Histogram:
    low, decades, unit = bins
    n = PER_DECADE * decades
    counts = [0] * n
    for value in values:
        position = math.floor(PER_DECADE * math.log10(value / low)) if value > 0 else 0
        counts[min(max(position, 0), n - 1)] += 1
    return Histogram([_quantity(low * 10 ** (i / PER_DECADE), unit) for i in range(n)], counts)


def _quantity(value: float, unit: str) -> str:
    """A bin's lower edge, readable: 3.2 ms, 126 ms, 25 MiB."""
    scales = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")) if unit == "s" else ((1 << 30, "GiB"), (1 << 20, "MiB"))
    for scale, name in scales:
        if value >= scale or scale == scales[-1][0]:
            scaled = value / scale
            return f"{scaled:.2g} {name}" if scaled < 10 else f"{scaled:.0f} {name}"
    raise AssertionError("unreachable")


def _pass_rate_histogram(rates: Iterable[float]) -> Histogram:
    """0%, then tenths, then 100%: the two ends are where most problems sit."""
    counts = [0] * 12
    for rate in rates:
        counts[0 if rate <= 0 else 11 if rate >= 1 else 1 + min(int(rate * 10), 9)] += 1
    return Histogram(["0%"] + [f"{a}-{a + 10}%" for a in range(0, 100, 10)] + ["100%"], counts)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _number(value: Any) -> float:
    """A measurement, or 0.0 for what is missing or not finite (a hand-edited file)."""
    try:
        number = float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def load_run(path: str | Path, label: str | None = None, source: str | None = None) -> RunData:
    """Aggregates one run; ``source`` is what the page says it came from (default: the path).

    Raises:
        SampleError: the file is missing, unreadable or not judged rows (naming file:line).
    """
    files = resolve_run(path)
    problems: dict[str, _Problem] = {}
    totals: Counter[str] = Counter()
    passing: list[tuple[int, float, bool]] = []
    seen_programs: set[tuple[str, str]] = set()
    index = -1
    for index, (_, row) in enumerate(_rows(files.results)):
        task_id, outcome = str(row["task_id"]), str(row["outcome"])
        acc = problems.setdefault(task_id, _Problem())
        totals[outcome] += 1
        acc.outcomes[outcome] += 1
        code = _code(row)
        candidate = Candidate(index, outcome, _number(row.get("cpu_time_s")),
                              int(_number(row.get("peak_memory_bytes"))),
                              int(_number(row.get("code_length")) or len(code)),
                              str(row.get("detail") or "")[:500], code[:CODE_CHARS], index in files.kept)
        _show(acc, candidate)
        acc.kept += candidate.kept
        if outcome in NOT_VERDICTS:
            acc.infra += outcome == Outcome.INFRA_ERROR.value
            continue
        acc.n += 1
        digest = hashlib.blake2b(code.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        acc.verdicts.setdefault(digest, set()).add(outcome)
        if index in files.flaky:  # passed once, then not: a verdict of its own in the report
            acc.verdicts[digest].add("flaky")
        if outcome == Outcome.PASSED.value:
            acc.passed += 1
            acc.cpu.append(candidate.cpu_time_s)
            acc.memory.append(candidate.peak_memory_bytes)
            if (task_id, digest) not in seen_programs or candidate.kept:
                seen_programs.add((task_id, digest))
                passing.append((candidate.code_length, candidate.cpu_time_s, candidate.kept))
        elif not acc.first_failure:
            acc.first_failure = candidate.detail.splitlines()[0][:200] if candidate.detail else outcome
    return _finish(label or _label(path), source or str(path), index + 1, totals, problems, passing, files.curated)


def _label(path: str | Path) -> str:
    path = Path(path)
    return path.name if path.is_dir() else path.name.split(".")[0]


def _finish(label: str, source: str, n_candidates: int, totals: Counter[str], problems: dict[str, _Problem],
            passing: list[tuple[int, float, bool]], curated: bool) -> RunData:
    stats = []
    for task_id, acc in problems.items():
        flaky = any(len(outcomes) > 1 for outcomes in acc.verdicts.values())
        cpu, memory = _median(acc.cpu), _median([float(m) for m in acc.memory])
        stats.append(ProblemStats(
            task_id, acc.n, acc.passed, acc.passed / acc.n if acc.n else None, dict(acc.outcomes.most_common()),
            acc.first_failure, flaky, acc.infra, cpu, int(memory) if memory is not None else None, acc.kept))
    counts = {s.task_id: (s.n, s.passed) for s in stats if s.n}
    smallest = min((n for n, _ in counts.values()), default=0)
    pass_k = pass_at_k_table(counts, range(1, smallest + 1)) if smallest else {}
    rates = [s.pass_at_1 for s in stats if s.pass_at_1 is not None]
    return RunData(
        label=label, source=source, n_candidates=n_candidates, outcomes=dict(totals.most_common()),
        pass_at_k=pass_k, problems=stats, pass_rate_histogram=_pass_rate_histogram(rates),
        cpu_histogram=_log_histogram((cpu for acc in problems.values() for cpu in acc.cpu), CPU_BINS),
        memory_histogram=_log_histogram((m for acc in problems.values() for m in acc.memory), MEMORY_BINS),
        scatter=_thin(passing), candidates={t: acc.shown for t, acc in problems.items()},
        curated=curated, flaky_programs=sum(len(o) > 1 for acc in problems.values() for o in acc.verdicts.values()))


def _thin(points: list[tuple[int, float, bool]]) -> list[tuple[int, float, bool]]:
    """At most SCATTER_POINTS, every kept one included, the rest evenly spaced."""
    if len(points) <= SCATTER_POINTS:
        return points
    kept = [p for p in points if p[2]]
    rest = [p for p in points if not p[2]]
    room = max(SCATTER_POINTS - len(kept), 0)
    step = len(rest) / room if room else math.inf
    return kept + [rest[int(i * step)] for i in range(room)]


@dataclass(frozen=True)
class ProblemDelta:
    task_id: str
    pass_at_1: list[float | None]  # per run, in order
    change: float | None  # last run's minus the first's
    status: str  # gained, lost, better, worse, same, missing


def compare(runs: Sequence[RunData]) -> list[ProblemDelta]:
    """Per-problem differences between the first and the last run (empty for one run,
    or when the runs share no problem)."""
    if len(runs) < 2:
        return []
    tables = [{p.task_id: p for p in run.problems} for run in runs]
    if not set(tables[0]) & set(tables[-1]):
        return []
    deltas = []
    for task_id in dict.fromkeys(t for table in tables for t in table):
        values = [table[task_id].pass_at_1 if task_id in table else None for table in tables]
        first, last = tables[0].get(task_id), tables[-1].get(task_id)
        if first is None or last is None or first.pass_at_1 is None or last.pass_at_1 is None:
            deltas.append(ProblemDelta(task_id, values, None, "missing"))
            continue
        change = last.pass_at_1 - first.pass_at_1
        if first.passed == 0 and last.passed > 0:
            status = "gained"
        elif first.passed > 0 and last.passed == 0:
            status = "lost"
        else:
            status = "better" if change > 1e-12 else "worse" if change < -1e-12 else "same"
        deltas.append(ProblemDelta(task_id, values, change, status))
    return deltas
