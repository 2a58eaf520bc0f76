"""The runner: scheduling, retries and ordering, on the scripted fake backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import PrerequisiteError, SandboxError
from harness.evaluate import evaluate
from harness.job import Candidate, Job, make_job
from harness.limits import Limits
from harness.options import RunOptions
from harness.outcome import Outcome
from harness.problems import load_problems
from harness.run import Runner
from harness.sandbox import get_backend
from harness.sandbox.fake import FakeBackend


def job_of(directives: list[str]) -> Job:
    problem = load_problems("humaneval").get("HumanEval/0")
    assert problem is not None
    return make_job(problem, Limits(), [Candidate(i, f"# fake: {d}\n# {i}") for i, d in enumerate(directives)])


def run(runner: Runner, jobs: list[Job]) -> dict[int, Outcome]:
    return {index: execution.outcome for index, execution in runner.run(jobs)}


def test_every_candidate_gets_exactly_one_result() -> None:
    directives = ["passed", "failed", "error", "timeout", "syntax_error"] * 20
    got = run(Runner(FakeBackend(), RunOptions(workers=3)), [job_of(directives)])
    assert got == {i: Outcome(d) for i, d in enumerate(directives)}


def test_infra_errors_are_retried_and_never_scored() -> None:
    backend = FakeBackend()
    runner = Runner(backend, RunOptions(workers=2, retry_backoff_s=0))
    got = run(runner, [job_of(["passed infra=2", "failed infra=1", "passed"])])
    assert got == {0: Outcome.PASSED, 1: Outcome.FAILED, 2: Outcome.PASSED}
    assert runner.infra_retries == 3


def test_persistent_infra_error_is_its_own_outcome() -> None:
    runner = Runner(FakeBackend(), RunOptions(workers=1, retry_backoff_s=0, max_attempts=3))
    results = dict(runner.run([job_of(["passed infra=9", "passed"])]))
    assert results[0].outcome is Outcome.INFRA_ERROR and results[0].attempts == 3
    assert results[1].outcome is Outcome.PASSED


def test_a_dead_backend_stops_the_run_with_its_reason() -> None:
    class Dead(FakeBackend):
        def check(self) -> list[str]:
            return ["Docker engine not reachable at unix:///var/run/docker.sock"]

    runner = Runner(Dead(), RunOptions(workers=2, retry_backoff_s=0, backend_wait_s=0.5))
    with pytest.raises(PrerequisiteError, match="stayed unusable for 0 s: Docker engine not reachable") as caught:
        run(runner, [job_of(["passed infra=9"] * 30)])
    assert isinstance(caught.value, SandboxError)  # exit 3, sandbox unavailable


def test_an_engine_that_comes_back_costs_no_attempts() -> None:
    import time

    from harness.errors import InfraError
    from harness.outcome import Execution

    down_until = time.monotonic() + 1.5

    class Restarting(FakeBackend):
        def check(self) -> list[str]:
            return ["engine restarting"] if time.monotonic() < down_until else []

    def script(program: str, attempt: int) -> Execution:
        if time.monotonic() < down_until:
            raise InfraError("connection refused")
        return Execution(outcome=Outcome.PASSED)

    runner = Runner(Restarting(script=script), RunOptions(workers=2, retry_backoff_s=0, max_attempts=2,
                                                          backend_wait_s=10))
    results = dict(runner.run([job_of(["x"] * 12)]))
    assert {e.outcome for e in results.values()} == {Outcome.PASSED} and len(results) == 12
    # At most the failures that straddle the engine's return count as attempts.
    assert runner.infra_retries <= 2


def test_jobs_round_trip_through_json() -> None:
    job = job_of(["passed", "failed"])
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job


def test_registry_knows_backends() -> None:
    assert isinstance(get_backend("fake"), FakeBackend)
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_backend("nope")


def test_evaluate_writes_rows_in_input_order_and_excludes_infra_from_passk(tmp_path: Path) -> None:
    problems = load_problems("humaneval")
    rows = []
    for i in range(40):
        task = f"HumanEval/{i % 4}"
        directive = ["passed cpu=0.01", "failed", "passed infra=9", "timeout"][i % 4]
        rows.append({"task_id": task, "completion": f"# fake: {directive}\n# {i}", "i": i})
    samples = tmp_path / "s.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "r.jsonl"
    backend = FakeBackend()
    summary = evaluate(samples, problems, backend, out, RunOptions(workers=3, calibrate=False, retry_backoff_s=0),
                       ks=[1, 5, 20])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["i"] for r in written] == list(range(40))
    assert {r["outcome"] for r in written if r["task_id"] == "HumanEval/2"} == {"infra_error"}
    assert all(r["passed"] == (r["outcome"] == "passed") for r in written)
    assert all(r["code_length"] == len(rows[r["i"]]["completion"]) for r in written)
    assert summary.outcomes["infra_error"] == 10 and summary.n_candidates == 40
    # HumanEval/2 has n = 0 judged candidates and is left out; 0: 10/10, 1: 0/10, 3: 0/10
    assert summary.pass_at_k["1"] == pytest.approx(1 / 3)
    assert summary.pass_at_k["20"] is None


def test_interrupted_writer_keeps_rows_that_finished_early() -> None:
    import io

    from harness.evaluate import OrderedWriter
    handle = io.StringIO()
    writer = OrderedWriter(handle)
    for index in (2, 0, 4):
        writer.add(index, {"i": index})
    assert [json.loads(line)["i"] for line in handle.getvalue().splitlines()] == [0]
    writer.abandon()
    assert [json.loads(line)["i"] for line in handle.getvalue().splitlines()] == [0, 2, 4]
