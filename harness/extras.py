"""What ``curate`` writes beyond the SFT rows, from the same run and store:
DPO preference pairs (``dpo.*``), execution-feedback repair rows
(``repair.*``) and per-candidate rewards (``rewards.parquet``), all through
``datasets``, with the problems and solutions that decontamination removed
left out of every one of them (``decontamination.json`` says why)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .decontam import Decontamination
from .errors import ConfigError, writing
from .export import clean
from .failures import Failure, failures
from .pairs import Measured, correctness_pairs, efficiency_pairs
from .problems import ProblemSet
from .repair import repair_rows
from .rewards import reward_rows
from .select import Ranked, Remeasured, Shortlists, Survivor

PAIR_FILES = ("dpo.jsonl", "dpo.parquet")
REPAIR_FILES = ("repair.jsonl", "repair.parquet")
REWARD_FILES = ("rewards.parquet",)
DECONTAMINATION_FILE = "decontamination.json"


@dataclass(frozen=True)
class Extras:
    """Which extra datasets to write; checked when made (ConfigError names the field)."""

    pairs: bool = False
    pairs_per_problem: int = 4  # of each kind
    efficiency_margin: float = 0.25  # the chosen program's median CPU at least this fraction lower
    confirm_runs: int = 5  # more runs, interleaved, of both sides of a tentative efficiency pair
    repair: bool = False
    repair_per_problem: int = 2
    rewards: bool = False
    decontaminate: tuple[str, ...] = ()  # bundled names or problem files
    flag_only: bool = False  # mark contaminated rows instead of dropping them

    def __post_init__(self) -> None:
        for name in ("pairs_per_problem", "repair_per_problem", "confirm_runs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, not {value!r}")
        for name in ("pairs", "repair", "rewards", "flag_only"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if not isinstance(self.efficiency_margin, (int, float)) or not 0.0 < self.efficiency_margin < 1.0:
            raise ConfigError(f"efficiency_margin is a fraction in (0, 1), not {self.efficiency_margin!r}")
        if self.flag_only and not self.decontaminate:
            raise ConfigError("--flag-only needs --decontaminate")
        object.__setattr__(self, "decontaminate", tuple(self.decontaminate))

    @property
    def failures_per_problem(self) -> int:
        return max(self.pairs_per_problem if self.pairs else 0, self.repair_per_problem if self.repair else 0)


def _dicts_features(example: dict[str, Any]) -> Any:
    """datasets Features for rows of strings, numbers, None and chat turns."""
    import datasets
    features: dict[str, Any] = {}
    for key, value in example.items():
        if isinstance(value, list):  # chat turns
            features[key] = [{"role": datasets.Value("string"), "content": datasets.Value("string")}]
        elif isinstance(value, bool):
            features[key] = datasets.Value("bool")
        elif isinstance(value, int):
            features[key] = datasets.Value("int64")
        elif isinstance(value, float) or value is None:
            features[key] = datasets.Value("float64")
        else:
            features[key] = datasets.Value("string")
    return datasets.Features(features)


def write_rows(out: Path, files: Sequence[str], rows: Callable[[], Iterator[dict[str, Any]]],
               features: Any) -> int:
    """Streams ``rows()`` (a fresh iterator each call) through datasets (an
    Arrow file in a temporary cache, so memory stays flat) into each of
    ``files`` (.jsonl, .parquet)."""
    import datasets
    with tempfile.TemporaryDirectory(prefix="harness-rows-") as cache:
        if next(rows(), None) is None:  # from_generator refuses to make nothing
            dataset = datasets.Dataset.from_dict({name: [] for name in features}, features=features)
        else:
            dataset = datasets.Dataset.from_generator(lambda: (clean(row) for row in rows()), features=features,
                                                      cache_dir=cache)
        for name in files:
            with writing(out / name, "a dataset"):
                if name.endswith(".jsonl"):
                    dataset.to_json(str(out / name), lines=True, force_ascii=False)
                else:
                    dataset.to_parquet(str(out / name))
        return len(dataset)


def _write_list(out: Path, files: Sequence[str], rows: list[dict[str, Any]], template: dict[str, Any]) -> int:
    """A small list of rows (pairs, repairs); ``template`` fixes the columns and their types."""
    return write_rows(out, files, lambda: iter(rows), _dicts_features(template))


@dataclass
class ExtrasResult:
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


MeasureMore = Callable[[dict[str, list[Survivor]], int], Remeasured]  # (programs by task, runs) -> their runs


def confirmed_programs(programs: dict[str, list[Measured]], extras: Extras,
                       measure_more: MeasureMore) -> dict[str, list[Measured]]:
    """Three runs apart is weak evidence (complete separation of 3 against 3
    happens by chance one time in ten): both sides of every tentative pair run
    ``confirm_runs`` more times, interleaved, and the pairs are formed again
    on all the runs (8 against 8: one in 6,000).  A program that fails a
    confirmation run is flaky and leaves."""
    tentative = efficiency_pairs(programs, {t: "" for t in programs}, 10**6, extras.efficiency_margin)
    involved = {(p["task_id"], i) for p in tentative for i in (p["chosen_index"], p["rejected_index"])}
    if not involved:
        return {}
    again = {task: [m.survivor for m in measured if (task, m.survivor.index) in involved]
             for task, measured in programs.items()}
    more = measure_more({t: s for t, s in again.items() if s}, extras.confirm_runs)
    return {task: [Measured(m.survivor, m.runs + more.runs[m.survivor.index])
                   for m in measured if m.survivor.index in more.runs]
            for task, measured in programs.items()}


def _flag(rows: list[dict[str, Any]], decon: Decontamination | None, failing: Mapping[str, Sequence[Failure]],
          by_index: Mapping[int, str]) -> None:
    """With --flag-only, each pair or repair row says which of its programs overlap a benchmark."""
    if decon is None or not decon.flag_only:
        return
    codes = {f.index: f.code for fs in failing.values() for f in fs} | dict(by_index)
    for row in rows:
        indices = [row.get(k) for k in ("chosen_index", "rejected_index", "attempt_index", "fix_index")]
        labels = {decon.label(i, row["task_id"], codes.get(i, "")) for i in indices if isinstance(i, int)}
        row["contamination"] = ",".join(sorted(label for label in labels if label))


def write_extras(out: Path, extras: Extras, problems: ProblemSet, kept: Iterable[Ranked], pool: Shortlists,
                 measured: Remeasured, users: Mapping[str, str], decon: Decontamination | None,
                 measure_more: MeasureMore) -> ExtrasResult:
    """``decon``: contaminated problems and programs (failing attempts too) leave
    every row, or with ``flag_only`` are named in a ``contamination`` column;
    ``measure_more``: runs programs again (efficiency pairs are confirmed)."""
    result = ExtrasResult()
    languages = {p.id: p.language for p in problems}  # the code fences of pairs and repair rows
    by_task: dict[str, list[Ranked]] = {}
    for ranked in kept:
        by_task.setdefault(ranked.survivor.task_id, []).append(ranked)
    failing = failures(out / "evaluated.jsonl", problems, extras.failures_per_problem) \
        if extras.failures_per_problem else {}
    if decon is not None:
        failing = {t: [f for f in fs if not decon.excludes(f.index, t, f.code)] for t, fs in failing.items()}
    programs_by_index = {s.index: s.code for ss in [*pool.lists.values(), *pool.contrast.values()] for s in ss}
    flagging = decon is not None and decon.flag_only
    pair_template = _PAIR_TEMPLATE | ({"contamination": ""} if flagging else {})
    repair_template = _REPAIR_TEMPLATE | ({"contamination": ""} if flagging else {})
    if extras.pairs:
        rows = correctness_pairs(by_task, failing, users, extras.pairs_per_problem, languages)
        programs: dict[str, list[Measured]] = {}
        for task_id, survivors in [*pool.lists.items(), *pool.contrast.items()]:  # excluded rows never got in
            for survivor in survivors:
                runs = measured.runs.get(survivor.index)
                if runs and len(runs) >= 2:  # one run says nothing about noise
                    programs.setdefault(task_id, []).append(Measured(survivor, runs))
        programs = confirmed_programs(programs, extras, measure_more)
        efficiency = efficiency_pairs(programs, users, extras.pairs_per_problem, extras.efficiency_margin,
                                      languages)
        result.counts["correctness_pairs"] = len(rows)
        result.counts["efficiency_pairs"] = len(efficiency)
        _flag(rows + efficiency, decon, failing, programs_by_index)
        _write_list(out, PAIR_FILES, rows + efficiency, pair_template)
        result.files += PAIR_FILES
    if extras.repair:
        rows = repair_rows(by_task, failing, users, extras.repair_per_problem, languages)
        _flag(rows, decon, failing, programs_by_index)
        result.counts["repair_rows"] = _write_list(out, REPAIR_FILES, rows, repair_template)
        result.files += REPAIR_FILES
    if extras.rewards:
        skipped = {p.id for p in problems if decon is not None and decon.drops(p.id)}
        import datasets
        features = datasets.Features({
            "task_id": datasets.Value("string"), "sample_index": datasets.Value("int64"),
            "outcome": datasets.Value("string"), "passed": datasets.Value("bool"),
            "reward": datasets.Value("float64"), "tests_passed": datasets.Value("int64"),
            "tests_total": datasets.Value("int64"), "cpu_time_s": datasets.Value("float64"),
            "peak_memory_bytes": datasets.Value("int64"), "code_length": datasets.Value("int64")})
        result.counts["reward_rows"] = write_rows(out, REWARD_FILES,
                                                  lambda: reward_rows(out / "evaluated.jsonl", skipped), features)
        result.files += REWARD_FILES
    return result


_TURNS = [{"role": "user", "content": ""}]
_PAIR_TEMPLATE: dict[str, Any] = {
    "prompt": _TURNS, "chosen": _TURNS, "rejected": _TURNS, "kind": "", "task_id": "", "chosen_index": 0,
    "rejected_index": 0, "rejected_outcome": "", "rejected_detail": "", "chosen_cpu_s": 0.0,
    "rejected_cpu_s": 0.0, "margin": 0.0, "chosen_spread": 0.0, "rejected_spread": 0.0}
_REPAIR_TEMPLATE: dict[str, Any] = {
    "messages": _TURNS, "task_id": "", "attempt_index": 0, "fix_index": 0, "attempt_outcome": "",
    "attempt_detail": ""}
