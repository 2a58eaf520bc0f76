"""``harness rebuild corpus.toml``: a verified corpus, rebuilt incrementally.

The file declares problem sets, where their samples come from, the
selection, the output location and quality gates::

    [corpus]
    out = "corpus"                     # one folder per set inside
    cache = ".harness/results.sqlite3" # the result store (keep it between CI runs)

    [[set]]
    name = "humaneval"
    problems = "humaneval"             # bundled name, file, or hf:...
    samples = "samples/humaneval.jsonl"
    top_k = 2
    remeasure = 3
    rank_by = "cpu,length"

    [gates]
    min_pass_at_1 = 0.5                # per set
    min_verified_fraction = 0.5        # problems with a kept solution / problems
    references_must_pass = true        # every reference solution still passes

Everything goes through the result store, re-measurements included (each
repeat stored apart), and the time-limit calibration is kept beside the store,
so an unchanged corpus rebuilds without executing anything and the data files
come out byte for byte the same (paths are recorded as written in the file).  Run metadata
(times, what was executed) goes to ``run.json`` beside them, never inside.
"""

from __future__ import annotations

import json
import time
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .calibrate import Calibration
from .curate import curate
from .errors import ConfigError, writing
from .extras import Extras
from .options import CacheLocation, RunOptions
from .problems import BUNDLED, load_problems
from .report_data import load_run
from .report_html import REPORT_FILE, write_html
from .run import Runner
from .sandbox.base import Backend
from .select import Selection, parse_rank_by
from .store import CachingBackend, ResultStore
from .validate import validate_problems


@dataclass(frozen=True)
class SetSpec:
    name: str
    problems: str
    samples: str
    selection: Selection = field(default_factory=lambda: Selection(reproducible=True))
    labels: dict[str, str] = field(default_factory=dict)  # the paths as written in corpus.toml
    extras: Extras = field(default_factory=Extras)


@dataclass(frozen=True)
class CorpusSpec:
    out: Path
    cache: Path | None
    sets: tuple[SetSpec, ...]
    gates: dict[str, Any] = field(default_factory=dict)


GATES = ("min_pass_at_1", "min_verified_fraction", "references_must_pass")


def load_corpus(path: str | Path) -> CorpusSpec:
    """Raises ConfigError naming the file and the field at fault."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    base = path.parent
    corpus = data.get("corpus", {})
    sets = []
    for i, entry in enumerate(data.get("set", [])):
        where = f"{path}: [[set]] #{i + 1}"
        for key in ("name", "problems", "samples"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{where}: needs a string {key!r}")
        problems = entry["problems"]
        if not (problems.startswith("hf:") or "/" not in problems and "." not in problems):
            problems = str(base / problems)
        counts: dict[str, int] = {}
        for key, default in (("top_k", 1), ("remeasure", 3)):
            value = entry.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{where}: {key!r} must be a whole number >= 1, not {value!r}")
            counts[key] = value
        try:
            rank_by = parse_rank_by(str(entry.get("rank_by", "cpu,length")))
            selection = Selection(top_k=counts["top_k"], remeasure=counts["remeasure"], rank_by=rank_by,
                                  reproducible=True, near_dup=entry.get("near_dup"),
                                  diversity=entry.get("diversity"))
            extras = _extras(entry, base)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        sets.append(SetSpec(name=entry["name"], problems=problems, samples=str(base / entry["samples"]),
                            selection=selection, labels={"problems": entry["problems"], "samples": entry["samples"]},
                            extras=extras))
    if not sets:
        raise ConfigError(f"{path}: declares no [[set]]")
    if len({s.name for s in sets}) != len(sets):
        raise ConfigError(f"{path}: two sets share a name")
    gates = data.get("gates", {})
    unknown = sorted(set(gates) - set(GATES))
    if unknown:
        raise ConfigError(f"{path}: unknown gate(s) {', '.join(unknown)}; known: {', '.join(GATES)}")
    for gate in ("min_pass_at_1", "min_verified_fraction"):
        value = gates.get(gate, 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ConfigError(f"{path}: gate {gate} must be a number from 0 to 1, not {value!r}")
    if not isinstance(gates.get("references_must_pass", False), bool):
        raise ConfigError(f"{path}: gate references_must_pass must be true or false")
    cache = corpus.get("cache")
    return CorpusSpec(out=base / corpus.get("out", "corpus"), cache=base / cache if cache else None,
                      sets=tuple(sets), gates=gates)


EXTRA_KEYS = ("pairs", "repair", "rewards", "flag_only", "pairs_per_problem", "repair_per_problem",
              "efficiency_margin")


def _extras(entry: dict[str, Any], base: Path) -> Extras:
    """A set's ``pairs = true``, ``decontaminate = ["humaneval", "bench.jsonl"]``...: as curate's flags."""
    benchmarks = entry.get("decontaminate", [])
    if not isinstance(benchmarks, list) or not all(isinstance(b, str) for b in benchmarks):
        raise ConfigError("'decontaminate' must be a list of bundled set names or problem files")
    resolved = tuple(b if b in BUNDLED else str(base / b) for b in benchmarks)
    return Extras(decontaminate=resolved, **{k: entry[k] for k in EXTRA_KEYS if k in entry})


@dataclass(frozen=True)
class RebuildResult:
    failed_gates: list[str]
    sets: dict[str, dict[str, Any]]
    executed: int
    cached: int


def rebuild(spec: CorpusSpec, backend: Backend, store: ResultStore, run: RunOptions | None = None) -> RebuildResult:
    """Curates every set through ``store`` and checks the gates.

    Where the corpus declares its store, calibrations are kept beside it
    (whatever ``run.cache`` says), so that one CI cache entry keeps both.

    Raises:
        as ``curate``; OutputError when ``run.json`` cannot be written.
    """
    started = time.time()
    run = run or RunOptions()
    if spec.cache is not None:
        run = replace(run, cache=CacheLocation.beside(spec.cache))
    cached_backend = CachingBackend(backend, store)
    gates = spec.gates
    failed: list[str] = []
    report: dict[str, dict[str, Any]] = {}
    executed = cached = 0
    for entry in spec.sets:
        problems = load_problems(entry.problems)
        out = spec.out / entry.name
        curated = curate(entry.samples, problems, backend, out, entry.selection, run, ks=(1,), store=store,
                         labels=entry.labels, extras=entry.extras)
        executed += curated.evaluation.executed
        cached += curated.evaluation.cached
        pass1 = curated.evaluation.pass_at_k.get("1") or 0.0
        verified = curated.problems_with_solutions / len(problems) if len(problems) else 0.0
        report[entry.name] = {"pass_at_1": pass1, "verified_fraction": verified, "kept": curated.kept,
                              "flaky": curated.flaky}
        if "min_pass_at_1" in gates and pass1 < float(gates["min_pass_at_1"]):
            failed.append(f"{entry.name}: pass@1 {pass1:.4f} < {gates['min_pass_at_1']}")
        if "min_verified_fraction" in gates and verified < float(gates["min_verified_fraction"]):
            failed.append(f"{entry.name}: verified fraction {verified:.4f} < {gates['min_verified_fraction']}")
        if gates.get("references_must_pass"):
            checks = validate_problems(problems, Runner(cached_backend, run),
                                       Calibration(backend.identity(), run.cache.calibration), repeats=1)
            broken = [c.problem_id for c in checks if c.status not in ("ok", "no-reference")]
            report[entry.name]["broken_references"] = broken
            if broken:
                failed.append(f"{entry.name}: {len(broken)} reference solution(s) stopped passing: "
                              f"{', '.join(broken[:10])}")
    result = RebuildResult(failed_gates=failed, sets=report, executed=executed, cached=cached)
    # every set in one page, beside run.json, for CI to keep as an artifact
    sets = [load_run(spec.out / entry.name, label=entry.name, source=entry.name) for entry in spec.sets]
    write_html(spec.out / REPORT_FILE, sets, title="harness rebuild")
    run_file = spec.out / "run.json"
    with writing(run_file, "the run report"):
        spec.out.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps({
            "started": started, "elapsed_s": round(time.time() - started, 3), "executed": executed,
            "cached": cached, "sets": report, "failed_gates": failed, "sandbox": backend.identity()}, indent=2) + "\n")
    return result
