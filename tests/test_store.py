"""The result store: reruns skip finished work, changes re-execute only what
they touch, a killed run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.evaluate import evaluate
from harness.job import Candidate, make_job
from harness.limits import Limits
from harness.options import RunOptions
from harness.outcome import Outcome
from harness.problems import load_problems
from harness.run import Runner
from harness.sandbox.fake import FakeBackend
from harness.store import CachingBackend, ResultStore

NO_CALIBRATION = RunOptions(calibrate=False, retry_backoff_s=0)


def fake_samples(tmp_path: Path, n: int = 30) -> Path:
    path = tmp_path / "s.jsonl"
    directives = ["passed", "failed", "passed infra=9", "timeout", "error"]
    path.write_text("".join(json.dumps({"task_id": f"HumanEval/{i % 3}", "completion": f"# fake: {directives[i % 5]}"
                                        f"\n# {i}"}) + "\n" for i in range(n)))
    return path


def test_rerun_executes_nothing_and_writes_the_same_bytes(tmp_path: Path) -> None:
    problems, samples = load_problems("humaneval"), fake_samples(tmp_path)
    inner = FakeBackend()
    store = ResultStore(tmp_path / "store.sqlite3")
    first = evaluate(samples, problems, inner, tmp_path / "a.jsonl", NO_CALIBRATION, ks=[1], store=store)
    calls = dict(inner.calls)
    second = evaluate(samples, problems, CachingBackend(inner, store), tmp_path / "b.jsonl", NO_CALIBRATION, ks=[1])
    assert first.cached == 0 and first.executed == 24  # 6 infra errors are not verdicts
    assert second.cached == 24 and second.executed == 0
    # only the infra errors (never stored) were tried again
    assert {p: n - calls[p] for p, n in inner.calls.items() if n != calls[p]} == {
        p: 3 for p in calls if "infra" in p}
    def verdict_lines(name: str) -> list[str]:  # infra errors are no verdicts, and not reproducible
        return [line for line in (tmp_path / name).read_text().splitlines() if '"infra_error"' not in line]
    assert verdict_lines("a.jsonl") == verdict_lines("b.jsonl") and len(verdict_lines("a.jsonl")) == 24
    assert store.stats().outcomes == {"passed": 6, "failed": 6, "timeout": 6, "error": 6}


def test_keys_follow_tests_limits_and_sandbox(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "store.sqlite3")
    problems = load_problems("humaneval")
    jobs = [make_job(problems.get(f"HumanEval/{i}"), Limits(), [Candidate(i, "# fake: passed")]) for i in range(2)]
    inner = FakeBackend()
    runner = Runner(CachingBackend(inner, store), RunOptions(workers=1))
    assert len(list(runner.run(jobs))) == 2 and inner.calls["# fake: passed"] == 2  # different tests: two runs
    list(runner.run(jobs))
    assert inner.calls["# fake: passed"] == 2  # both remembered
    list(runner.run([make_job(problems.get("HumanEval/0"), Limits(cpu_time_s=7), [Candidate(0, "# fake: passed")])]))
    assert inner.calls["# fake: passed"] == 3  # other limits: a new verdict
    other = FakeBackend()
    other.identity = lambda: "another image"  # type: ignore[method-assign]
    list(Runner(CachingBackend(other, store), RunOptions(workers=1)).run(jobs[:1]))
    assert other.calls["# fake: passed"] == 1


def test_sandboxes_are_prepared_only_when_the_store_cannot_answer(tmp_path: Path) -> None:
    """A rerun the store answers starts no sandbox ahead; a first run does."""

    class Preparing(FakeBackend):
        prepared: list[int] = []

        def prepare(self, limits: Limits, sessions: int) -> None:
            self.prepared.append(sessions)

    samples, store = fake_samples(tmp_path, 6), ResultStore(tmp_path / "store.db")
    for expected in ([2], []):
        backend = Preparing()
        backend.prepared = []
        evaluate(samples, load_problems("humaneval"), backend, tmp_path / "r.jsonl", NO_CALIBRATION,
                 workers=2, store=store)
        assert backend.prepared == expected
    store.close()
    one = tmp_path / "one.jsonl"  # one problem, one chunk: one sandbox, not one a worker
    one.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "# fake: passed"}) + "\n")
    backend = Preparing()
    backend.prepared = []
    evaluate(one, load_problems("humaneval"), backend, tmp_path / "r1.jsonl", NO_CALIBRATION, workers=2)
    assert backend.prepared == [1]


def test_store_survives_reopening_and_prunes(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    store = ResultStore(path)
    list(Runner(CachingBackend(FakeBackend(), store), RunOptions(workers=1)).run(
        [make_job(load_problems("humaneval").get("HumanEval/0"), Limits(), [Candidate(0, "# fake: failed")])]))
    store.close()
    again = ResultStore(path)
    assert again.stats().results == 1
    assert again.prune(older_than_s=3600) == 0 and again.prune() == 1 and again.stats().results == 0


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_killed_run_resumes_without_redoing_or_duplicating(tmp_path: Path) -> None:
    slow = "import time\ndef f():\n    pass\ntime.sleep(0.15)\n"
    rows = [{"task_id": f"HumanEval/{i % 20}", "solution": slow + f"# {i}\n"} for i in range(60)]
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "harness", "evaluate", str(samples), "--out", str(tmp_path / "r.jsonl"),
               "--quiet", "--no-calibrate", "--k", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ResultStore(tmp_path / "cache" / "results.sqlite3")
    deadline = time.monotonic() + 120
    while store.stats().results < 15 and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = store.stats().results
    assert 15 <= done_before < 60
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout.splitlines()[-1])
    assert summary["cached"] >= done_before and summary["executed"] == 60 - summary["cached"]
    written = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(written) == 60 and [r["solution"] for r in written] == [r["solution"] for r in rows]
    assert {r["outcome"] for r in written} == {"error"}  # f() exists but the tests call another name


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_changing_one_problems_tests_reexecutes_only_it(tmp_path: Path, docker_backend) -> None:
    base = [json.loads(line) for line in __import__("gzip").open(
        Path(__file__).parents[1] / "problems" / "humaneval.jsonl.gz", "rt")][:5]
    problems_file = tmp_path / "p.jsonl"
    problems_file.write_text("".join(json.dumps(p) + "\n" for p in base))
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]}) + "\n"
                               for p in base for _ in range(3)))
    store = ResultStore(tmp_path / "store.sqlite3")
    backend = CachingBackend(docker_backend, store)
    first = evaluate(samples, load_problems(str(problems_file)), backend, tmp_path / "a.jsonl", NO_CALIBRATION, ks=[1])
    # three copies of each reference: each distinct program runs once
    assert first.executed == 5 and first.cached == 10 and first.outcomes[Outcome.PASSED.value] == 15
    base[2]["test"] += "\n\ndef extra():\n    pass\n"
    problems_file.write_text("".join(json.dumps(p) + "\n" for p in base))
    second = evaluate(samples, load_problems(str(problems_file)), backend, tmp_path / "b.jsonl", NO_CALIBRATION,
                      ks=[1])
    assert second.executed == 1 and second.cached == 14
