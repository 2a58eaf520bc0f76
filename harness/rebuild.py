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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .calibrate import Calibration
from .curate import curate, parse_rank_by
from .engine import Engine
from .errors import InputError
from .problems import load_problems
from .sandbox.base import Backend
from .store import CachingBackend, ResultStore
from .validate import validate_problems

EXIT_GATE = 4


@dataclass(frozen=True)
class SetSpec:
    name: str
    problems: str
    samples: str
    top_k: int = 1
    remeasure: int = 3
    rank_by: tuple[str, ...] = ("cpu", "length")
    labels: dict[str, str] = field(default_factory=dict)  # the paths as written in corpus.toml


@dataclass(frozen=True)
class CorpusSpec:
    out: Path
    cache: Path | None
    sets: tuple[SetSpec, ...]
    gates: dict[str, Any] = field(default_factory=dict)


GATES = ("min_pass_at_1", "min_verified_fraction", "references_must_pass")


def load_corpus(path: str | Path) -> CorpusSpec:
    """Raises InputError naming the file and the field at fault."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    base = path.parent
    corpus = data.get("corpus", {})
    sets = []
    for i, entry in enumerate(data.get("set", [])):
        where = f"{path}: [[set]] #{i + 1}"
        for key in ("name", "problems", "samples"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise InputError(f"{where}: needs a string {key!r}")
        problems = entry["problems"]
        if not (problems.startswith("hf:") or "/" not in problems and "." not in problems):
            problems = str(base / problems)
        counts = {}
        for key, default in (("top_k", 1), ("remeasure", 3)):
            value = entry.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{where}: {key!r} must be a whole number >= 1, not {value!r}")
            counts[key] = value
        sets.append(SetSpec(name=entry["name"], problems=problems, samples=str(base / entry["samples"]),
                            rank_by=parse_rank_by(str(entry.get("rank_by", "cpu,length"))),
                            labels={"problems": entry["problems"], "samples": entry["samples"]}, **counts))
    if not sets:
        raise InputError(f"{path}: declares no [[set]]")
    if len({s.name for s in sets}) != len(sets):
        raise InputError(f"{path}: two sets share a name")
    gates = data.get("gates", {})
    unknown = sorted(set(gates) - set(GATES))
    if unknown:
        raise InputError(f"{path}: unknown gate(s) {', '.join(unknown)}; known: {', '.join(GATES)}")
    for gate in ("min_pass_at_1", "min_verified_fraction"):
        value = gates.get(gate, 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise InputError(f"{path}: gate {gate} must be a number from 0 to 1, not {value!r}")
    if not isinstance(gates.get("references_must_pass", False), bool):
        raise InputError(f"{path}: gate references_must_pass must be true or false")
    cache = corpus.get("cache")
    return CorpusSpec(out=base / corpus.get("out", "corpus"), cache=base / cache if cache else None,
                      sets=tuple(sets), gates=gates)


@dataclass(frozen=True)
class RebuildResult:
    failed_gates: list[str]
    sets: dict[str, dict[str, Any]]
    executed: int
    cached: int

    @property
    def exit_code(self) -> int:
        return EXIT_GATE if self.failed_gates else 0


def rebuild(spec: CorpusSpec, backend: Backend, store: ResultStore, workers: int = 2) -> RebuildResult:
    started = time.time()
    cached_backend = CachingBackend(backend, store)
    gates, failed, report = spec.gates, [], {}
    executed = cached = 0
    for entry in spec.sets:
        problems = load_problems(entry.problems)
        out = spec.out / entry.name
        result = curate(entry.samples, problems, cached_backend, out, top_k=entry.top_k, remeasure=entry.remeasure,
                        rank_by=entry.rank_by, workers=workers, ks=(1,), measure_backend=cached_backend,
                        reproducible=True, labels=entry.labels)
        executed += result.evaluation.executed
        cached += result.evaluation.cached
        pass1 = result.evaluation.pass_at_k.get("1") or 0.0
        verified = result.problems_with_solutions / len(problems) if len(problems) else 0.0
        report[entry.name] = {"pass_at_1": pass1, "verified_fraction": verified, "kept": result.kept,
                              "flaky": result.flaky}
        if "min_pass_at_1" in gates and pass1 < float(gates["min_pass_at_1"]):
            failed.append(f"{entry.name}: pass@1 {pass1:.4f} < {gates['min_pass_at_1']}")
        if "min_verified_fraction" in gates and verified < float(gates["min_verified_fraction"]):
            failed.append(f"{entry.name}: verified fraction {verified:.4f} < {gates['min_verified_fraction']}")
        if gates.get("references_must_pass"):
            checks = validate_problems(problems, Engine(cached_backend, workers=workers),
                                       Calibration(backend.identity()), repeats=1)
            broken = [c.problem_id for c in checks if c.status not in ("ok", "no-reference")]
            report[entry.name]["broken_references"] = broken
            if broken:
                failed.append(f"{entry.name}: {len(broken)} reference solution(s) stopped passing: "
                              f"{', '.join(broken[:10])}")
    result = RebuildResult(failed_gates=failed, sets=report, executed=executed, cached=cached)
    spec.out.mkdir(parents=True, exist_ok=True)
    (spec.out / "run.json").write_text(json.dumps({
        "started": started, "elapsed_s": round(time.time() - started, 3), "executed": executed, "cached": cached,
        "sets": report, "failed_gates": failed, "sandbox": backend.identity()}, indent=2) + "\n")
    return result
