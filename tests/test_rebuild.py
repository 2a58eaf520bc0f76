"""harness rebuild: incremental, byte-identical, with quality gates."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import ConfigError, InputError
from harness.rebuild import load_corpus, rebuild
from harness.sandbox.fake import FakeBackend
from harness.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
DATA_FILES = ("train.jsonl", "train.parquet", "manifest.json", "evaluated.jsonl", "report.html")


def write_corpus(folder: Path, gates: str = "", samples_lines: int = 60) -> Path:
    if samples_lines:
        with gzip.open(ROOT / "problems" / "samples" / "humaneval_gpt35_n10.jsonl.gz", "rt") as handle:
            head = (line for _, line in zip(range(samples_lines), handle, strict=False))
            (folder / "samples.jsonl").write_text("".join(head))
    corpus = folder / "corpus.toml"
    corpus.write_text(f'''
[corpus]
out = "out"
cache = "cache/results.sqlite3"

[[set]]
name = "humaneval"
problems = "humaneval"
samples = "samples.jsonl"
top_k = 2
remeasure = 2

[gates]
{gates}
''')
    return corpus


def test_corpus_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text("[corpus\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_corpus(bad)
    bad.write_text('[[set]]\nname = "x"\nproblems = "humaneval"\n')
    with pytest.raises(InputError, match=r"\[\[set\]\] #1: needs a string 'samples'"):
        load_corpus(bad)
    bad.write_text('[[set]]\nname = "x"\nproblems = "humaneval"\nsamples = "s"\n[gates]\nmin_speed = 1\n')
    with pytest.raises(InputError, match="unknown gate"):
        load_corpus(bad)
    bad.write_text('[[set]]\nname = "x"\nproblems = "humaneval"\nsamples = "s"\ntop_k = "two"\n')
    with pytest.raises(InputError, match="'top_k' must be a whole number"):
        load_corpus(bad)
    bad.write_text('[[set]]\nname = "x"\nproblems = "humaneval"\nsamples = "s"\n[gates]\nmin_pass_at_1 = "high"\n')
    with pytest.raises(InputError, match="min_pass_at_1 must be a number"):
        load_corpus(bad)


def fake_corpus(tmp_path: Path) -> Path:
    rows = [{"task_id": f"HumanEval/{i % 5}", "completion": f"# fake: {'passed' if i % 3 else 'failed'} "
             f"cpu=0.0{i % 4 + 1}\n# {i % 7}"} for i in range(40)]
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return write_corpus(tmp_path, "min_pass_at_1 = 0.5", samples_lines=0)


def test_rebuild_is_incremental_and_reproducible_on_the_fake_backend(tmp_path: Path) -> None:
    spec = load_corpus(fake_corpus(tmp_path))
    store = ResultStore(spec.cache)
    first = rebuild(spec, FakeBackend(), store)
    before = {name: (spec.out / "humaneval" / name).read_bytes() for name in DATA_FILES}
    overview = (spec.out / "report.html").read_bytes()  # every set's report, beside run.json
    second = rebuild(spec, FakeBackend(), store)
    after = {name: (spec.out / "humaneval" / name).read_bytes() for name in DATA_FILES}
    assert (spec.out / "report.html").read_bytes() == overview
    assert first.executed > 0 and second.executed == 0 and second.cached == first.executed + first.cached
    assert before == after
    assert not first.failed_gates and json.loads((spec.out / "run.json").read_text())["executed"] == 0


def test_rebuild_writes_the_extras_reproducibly(tmp_path: Path) -> None:
    corpus = fake_corpus(tmp_path)
    corpus.write_text(corpus.read_text().replace("remeasure = 2", "remeasure = 2\npairs = true\nrepair = true\n"
                                                 "rewards = true\ndecontaminate = [\"mbpp\"]\nnear_dup = 0.9"))
    spec = load_corpus(corpus)
    assert spec.sets[0].extras.pairs and spec.sets[0].selection.near_dup == 0.9
    store = ResultStore(spec.cache)
    rebuild(spec, FakeBackend(), store)
    names = ("dpo.jsonl", "dpo.parquet", "repair.jsonl", "rewards.parquet", "decontamination.json", "manifest.json")
    before = {name: (spec.out / "humaneval" / name).read_bytes() for name in names}
    second = rebuild(spec, FakeBackend(), store)
    assert second.executed == 0
    assert {name: (spec.out / "humaneval" / name).read_bytes() for name in names} == before
    bad = tmp_path / "bad.toml"
    bad.write_text(corpus.read_text().replace("pairs = true", "pairs = \"yes\""))
    with pytest.raises(ConfigError, match=r"\[\[set\]\] #1: pairs must be true or false"):
        load_corpus(bad)


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_rebuild_command_twice_then_a_failing_gate(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path, "min_pass_at_1 = 0.3\nmin_verified_fraction = 0.01\nreferences_must_pass = true")
    command = [sys.executable, "-m", "harness", "rebuild", str(corpus)]
    first = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out" / "humaneval"
    before = {name: (out / name).read_bytes() for name in DATA_FILES}
    second = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout.splitlines()[-1])
    assert report["executed"] == 0 and report["cached"] == 60
    assert {name: (out / name).read_bytes() for name in DATA_FILES} == before
    strict = write_corpus(tmp_path, "min_verified_fraction = 0.5")  # these samples cover 6 of 164 problems
    gated = subprocess.run([sys.executable, "-m", "harness", "rebuild", str(strict)], capture_output=True, text=True,
                           env=os.environ.copy())
    assert gated.returncode == 4 and "quality gate failed: humaneval: verified fraction 0.0366" in gated.stderr
