"""Sharded jobs without Ray: ``evaluate --shard i/n`` on n machines (a Slurm
array, a Kubernetes Indexed Job), then ``harness merge``.

Shard i of n judges the samples whose position in the samples file (counting
valid samples, as the results do) is i modulo n: deterministic, balanced
within one candidate, and independent of timing.  Each shard writes its
results (only its rows, in order), a ``RESULTS.shard.json`` beside them, and
its own store.  ``merge`` interleaves the shards' rows back into the samples'
order (row j of shard i is sample j*n + i), recomputes the summary and
pass@k, and copies every shard store's verdicts into one; running it again
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, SampleError, writing
from .outcome import Outcome
from .passk import pass_at_k_table
from .samples import Sample, json_line


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` with 0 <= i < n; raises ConfigError naming --shard."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match or not 0 <= int(match[1]) < int(match[2]):
            raise ConfigError(f"--shard takes I/N with 0 <= I < N (e.g. 0/4), not {text!r}")
        return cls(int(match[1]), int(match[2]))

    def size(self, total: int) -> int:
        """How many of ``total`` samples are this shard's."""
        return max(0, (total - self.index + self.count - 1) // self.count)

    def select(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        """This shard's samples, numbered from 0 in their order (the results' rows)."""
        for sample in samples:
            if sample.index % self.count == self.index:
                yield replace(sample, index=sample.index // self.count)

    def sidecar(self, results: Path, samples: str, candidates: int) -> None:
        """Written when the shard finished: merge trusts only finished shards."""
        path = sidecar_path(results)
        with writing(path, "the shard record"):
            path.write_text(json.dumps({"shard": self.index, "of": self.count, "samples": samples,
                                        "samples_sha256": _digest(Path(samples)), "candidates": candidates},
                                       indent=2) + "\n")


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(results: Path) -> Path:
    return results.with_name(results.name + ".shard.json")


def _ordered(results: Sequence[Path]) -> list[tuple[Path, int]]:
    """The shards' results and row counts in shard order, checked complete (from
    their records, which a shard writes only when it finishes)."""
    records = []
    for path in results:
        try:
            record = json.loads(sidecar_path(path).read_text())
            records.append((int(record["shard"]), int(record["of"]), str(record["samples_sha256"]), path,
                            int(record["candidates"])))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SampleError(f"{path}: no finished shard record {sidecar_path(path).name} (evaluate --shard "
                              f"writes it when the shard ends; rerun it): {type(exc).__name__}") from None
    counts = {record[1] for record in records}
    if len(counts) != 1:
        raise SampleError(f"the shards were cut different ways ({sorted(counts)} shards)")
    count = counts.pop()
    found = sorted(record[0] for record in records)
    if found != list(range(count)):
        missing = sorted(set(range(count)) - set(found))
        raise SampleError(f"shards of {count}: missing {missing}" if missing else f"a shard given twice: {found}")
    if len({record[2] for record in records}) != 1:
        raise SampleError("the shards judged different samples files")
    return [(path, candidates) for _, _, _, path, candidates in sorted(records)]


def _check_complete(ordered: Sequence[tuple[Path, int]]) -> None:
    """Every shard holds all its rows: as many as its record says, and its share
    of all of them (a cut file would misplace every later row of the merge)."""
    total = sum(candidates for _, candidates in ordered)
    for i, (path, candidates) in enumerate(ordered):
        try:
            with open(path, encoding="utf-8") as handle:
                size = sum(1 for line in handle if line.strip())
        except OSError as exc:
            raise SampleError(f"{path}: cannot read ({exc.strerror or exc})") from None
        want = Shard(i, len(ordered)).size(total)
        if size != candidates or size != want:
            raise SampleError(f"{path}: shard {i} has {size} rows, its share is {want}: rerun it to the end "
                              "(its store keeps what it judged)")


def merge_results(results: Sequence[Path], out: Path, ks: Sequence[int]) -> dict[str, Any]:
    """Writes the merged results; returns the summary (outcomes, pass@k)."""
    ordered = _ordered(results)
    _check_complete(ordered)
    handles = [open(path, encoding="utf-8") for path, _ in ordered]
    outcomes = {o.value: 0 for o in Outcome}
    counts: dict[str, list[int]] = {}
    total = 0
    try:
        with writing(out, "the merged results"):
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "w", encoding="utf-8") as merged:
                live = list(handles)
                while live:
                    for handle in list(live):
                        line = handle.readline()
                        if not line:
                            live.remove(handle)
                            continue
                        row = json_line(line, handle.name)
                        merged.write(line if line.endswith("\n") else line + "\n")
                        total += 1
                        outcome = Outcome(row["outcome"])
                        outcomes[outcome.value] += 1
                        tally = counts.setdefault(str(row["task_id"]), [0, 0])
                        if outcome.is_verdict:
                            tally[0] += 1
                            tally[1] += outcome is Outcome.PASSED
    finally:
        for handle in handles:
            handle.close()
    return {"n_candidates": total, "outcomes": outcomes, "n_tasks": len(counts), "shards": len(ordered),
            "pass_at_k": pass_at_k_table({t: (n, c) for t, (n, c) in counts.items()}, ks)}
