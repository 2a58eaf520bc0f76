"""Selection and export, on the scripted backend (fast, exact) and once in
the real sandbox through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.curate import curate
from harness.errors import ConfigError, HubError, InputError, OutputError
from harness.options import RunOptions
from harness.outcome import Execution, Outcome
from harness.problems import load_problems
from harness.sandbox.fake import FakeBackend, directive_script
from harness.select import Selection, code_length, normalized, parse_rank_by


def test_normalisation_ignores_comments_docstrings_and_layout() -> None:
    a = "def f(x):\n    '''Doc.'''\n    # comment\n    return x+1\n"
    b = "def f(x):\n    return (x + 1)  # other comment\n"
    c = "def f(x):\n    return x + 2\n"
    assert normalized(a) == normalized(b) != normalized(c)
    assert normalized("def broken(:\n") == "def broken(:"


def test_rank_by_parsing() -> None:
    assert parse_rank_by("length, cpu") == ("length", "cpu")
    with pytest.raises(InputError, match="--rank-by"):
        parse_rank_by("speed")


def write_samples(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"task_id": t, "solution": code, "model": "m1",
                                        "sampling": {"temperature": 0.8}}) + "\n" for t, code in rows))
    return path


def flaky_aware(program: str, attempt: int) -> Execution:
    if "FLAKY" in program:  # passes on odd attempts only
        return Execution(outcome=Outcome.PASSED if attempt % 2 else Outcome.FAILED, cpu_time_s=0.001)
    return directive_script(program, attempt)


def test_selection_dedup_ranking_top_k_and_flakes(tmp_path: Path) -> None:
    import datasets
    t0, t1, t2 = "HumanEval/0", "HumanEval/1", "HumanEval/2"
    rows = [
        (t0, "# fake: passed cpu=0.30\nx = 1\n"),
        (t0, "# fake: passed cpu=0.10\nx = 22\n"),           # fastest
        (t0, "# fake: passed cpu=0.10\nx = 333\n"),          # as fast, longer
        (t0, "# fake: passed cpu=0.10\nx = 22  # again\n"),  # a duplicate of the fastest
        (t0, "# fake: failed cpu=0.01\n"),
        (t1, "# fake: passed cpu=0.2\n# FLAKY\n"),            # flaky: excluded
        (t1, "# fake: passed cpu=0.5\ny = 1\n"),
        (t2, "# fake: failed\n"),
    ]
    samples = write_samples(tmp_path / "s.jsonl", rows)
    out = tmp_path / "verified"
    result = curate(samples, load_problems("humaneval"), FakeBackend(script=flaky_aware), out,
                    Selection(top_k=2, remeasure=3), ks=[1, 2])
    assert (result.passed, result.unique, result.flaky, result.kept) == (6, 5, 1, 3)
    kept = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    again = datasets.load_dataset("parquet", data_files=str(out / "train.parquet"), split="train")
    assert kept.to_list() == again.to_list()
    assert [(r["task_id"], r["rank"]) for r in kept] == [(t0, 1), (t0, 2), (t1, 1)]
    assert "x = 22" in kept[0]["messages"][1]["content"] and "x = 333" in kept[1]["messages"][1]["content"]
    assert kept[0]["messages"][0] == {"role": "user", "content": load_problems("humaneval").get(t0).prompt}
    assert kept[0]["cpu_time_s"] == pytest.approx(0.10) and kept[0]["model"] == "m1"
    assert json.loads(kept[0]["sampling"]) == {"temperature": 0.8}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["kept"] == 3 and manifest["flaky"][0]["task_id"] == t1
    # pass@k by hand: t0 4/5 passed, t1 2/2, t2 0/1 -> pass@1 = (0.8 + 1 + 0) / 3; pass@2 is n/a (t2 has n=1)
    assert manifest["pass_at_k"]["1"] == pytest.approx((0.8 + 1.0 + 0.0) / 3)
    assert manifest["pass_at_k"]["2"] is None


def test_rank_by_length_first(tmp_path: Path) -> None:
    rows = [("HumanEval/0", "# fake: passed cpu=0.10\nx = 22222\n"), ("HumanEval/0", "# fake: passed cpu=0.90\n")]
    out = tmp_path / "v"
    curate(write_samples(tmp_path / "s.jsonl", rows), load_problems("humaneval"), FakeBackend(), out,
           Selection(rank_by=("length", "cpu"), shortlist=1))  # the shortlist follows the ranking key too
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert "cpu=0.90" in first["messages"][1]["content"]


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_curate_command_on_bundled_defaults(tmp_path: Path) -> None:
    out = tmp_path / "verified"
    proc = subprocess.run([sys.executable, "-m", "harness", "curate", "--top-k", "2", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["candidates"] == 1640 and summary["passed"] == 1078
    assert 100 <= summary["kept"] <= 2 * 164 and summary["flaky"] == 0
    import datasets
    kept = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train")
    assert len(kept) == summary["kept"] and set(kept["rank"]) <= {1, 2}
    assert all(row["sandbox"].startswith("docker:sha256:") for row in kept)
    # the report beside the dataset marks exactly the kept rows
    from harness.report_data import load_run
    run = load_run(out)
    assert sum(p.kept for p in run.problems) == summary["kept"] == sum(point[2] for point in run.scatter)
    assert sorted(kept["sample_index"]) == sorted(c.index for cs in run.candidates.values() for c in cs if c.kept)


def test_push_to_hub_fails_at_once_when_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.export import push_to_hub
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(HubError, match=r"push to me/verified: the Hugging Face hub \(127\.0\.0\.1\) is not reachable"):
        push_to_hub(tmp_path, "me/verified")


def test_length_in_tokens_ignores_layout_and_comments() -> None:
    tight = "def f(x):\n    return x+1\n"
    loose = "def f( x ):\n\n    # add one\n    return x   +   1\n"
    assert code_length(tight, "tokens") == code_length(loose, "tokens") == 10
    assert code_length(tight) < code_length(loose)


@pytest.mark.parametrize("options, message", [
    ({"top_k": 0}, "top_k must be a whole number >= 1"),
    ({"remeasure": 0}, "remeasure must be a whole number >= 1"),
    ({"shortlist": 0}, "shortlist must be a whole number >= 1"),
    ({"rank_by": ("cpu", "speed")}, "--rank-by takes"),
    ({"length_unit": "lines"}, "length unit must be one of chars, tokens"),
])
def test_bad_selection_is_refused_when_made(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        Selection(**options)  # type: ignore[arg-type]
    assert isinstance(caught.value, InputError)  # exit 2


def test_curate_checks_its_arguments_before_running_anything(tmp_path: Path) -> None:
    samples = write_samples(tmp_path / "s.jsonl", [("HumanEval/0", "# fake: passed\n")])
    backend = FakeBackend()
    with pytest.raises(ConfigError, match="pass@k values"):
        curate(samples, load_problems("humaneval"), backend, tmp_path / "v", ks=[0])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="a-file/v: cannot write into the output folder"):
        curate(samples, load_problems("humaneval"), backend, blocker / "v", run=RunOptions(calibrate=False))
    assert backend.calls == {}  # nothing ran
