"""The command line as a user runs it, against the real engine."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.problems import problems_dir
from harness.sandbox.cleanup import count_containers, prune_containers
from harness.sandbox.labels import LABEL_OWNER

from .sandbox_cases import RIGHT

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


def harness(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)


def containers_of(pid: int) -> int:
    return count_containers(f"{LABEL_OWNER}={pid}")


def bundled_head(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "samples.jsonl"
    with gzip.open(problems_dir() / "samples" / "humaneval_gpt35_n10.jsonl.gz", "rt") as handle:
        path.write_text("".join(line for _, line in zip(range(n), handle, strict=False)))
    return path


def test_evaluate_writes_results_and_summary(tmp_path: Path) -> None:
    samples = bundled_head(tmp_path, 40)
    out, summary = tmp_path / "results.jsonl", tmp_path / "summary.json"
    proc = harness("evaluate", str(samples), "--problems", "humaneval", "--out", str(out),
                   "--summary-json", str(summary), "--k", "1,10,100", "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40
    for row in rows:
        assert {"task_id", "completion", "result", "outcome", "passed", "cpu_time_s", "wall_time_s",
                "peak_memory_bytes", "code_length", "detail"} <= set(row)
        assert row["passed"] == (row["outcome"] == "passed") == row["result"].startswith("passed")
    data = json.loads(summary.read_text())
    assert data["n_candidates"] == 40 and sum(data["outcomes"].values()) == 40
    assert data["pass_at_k"]["100"] is None and 0 < data["pass_at_k"]["1"] <= 1
    assert data["elapsed_s"] > 0 and data["sandbox"].startswith("docker:sha256:")
    assert json.loads(proc.stdout.splitlines()[-1])["n_candidates"] == 40


def test_bad_samples_line_fails_before_running(tmp_path: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return 1\n"}) + "\n{broken\n")
    out = tmp_path / "r.jsonl"
    proc = harness("evaluate", str(samples), "--out", str(out))
    assert proc.returncode == 2
    assert f"{samples}:2: malformed JSON" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()
    proc = harness("evaluate", str(samples), "--out", str(out), "--on-bad-line", "skip", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == 1


def test_stopped_engine_gives_one_clear_line(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    proc = harness("evaluate", "--out", str(tmp_path / "r.jsonl"), env=env)
    assert proc.returncode == 3
    assert "Docker engine not reachable" in proc.stderr and "no-engine.sock" in proc.stderr
    check = harness("sandbox", "check", env=env)
    assert check.returncode == 3 and "MISSING" in check.stdout


def test_sandbox_check_and_problems_list() -> None:
    assert harness("sandbox", "check").returncode == 0
    listing = harness("problems", "list")
    assert listing.returncode == 0 and "humaneval" in listing.stdout and "164" in listing.stdout


def slow_samples(tmp_path: Path, n: int = 40) -> Path:
    sleeper = "import time\ntime.sleep(30)\n" + RIGHT
    path = tmp_path / "slow.jsonl"
    path.write_text("".join(json.dumps({"task_id": "HumanEval/0", "solution": sleeper}) + "\n" for _ in range(n)))
    return path


def wait_for_containers(pid: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = containers_of(pid)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("the run started no container")


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_leaves_no_container(tmp_path: Path, stop: signal.Signals, status: int) -> None:
    """Ctrl-C, and SIGTERM (a cancelled CI job, ``timeout``, ``docker stop``)."""
    proc = subprocess.Popen([sys.executable, "-m", "harness", "evaluate", str(slow_samples(tmp_path)),
                             "--out", str(tmp_path / "r.jsonl"), "--quiet", "--no-calibrate"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_containers(proc.pid)
    time.sleep(1)
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert containers_of(proc.pid) == 0


def test_containers_of_a_killed_run_are_pruned(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "evaluate", str(slow_samples(tmp_path)),
                             "--out", str(tmp_path / "r.jsonl"), "--quiet", "--no-calibrate"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_containers(proc.pid)
    proc.kill()
    proc.wait(timeout=30)
    assert containers_of(proc.pid) > 0  # SIGKILL gives no chance to clean up...
    assert prune_containers(only_orphans=True) >= 1  # ...so the next run (or `sandbox prune`) does
    assert containers_of(proc.pid) == 0


def test_validate_command(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = harness("problems", "validate", "humaneval", "--repeats", "1", "--report-json", str(report))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    data = json.loads(report.read_text())
    assert len(data) == 164 and {d["status"] for d in data} == {"ok"}


def test_validate_flags_broken_problems(tmp_path: Path) -> None:
    problems = tmp_path / "p.jsonl"
    base = {"prompt": "def f(x):\n    \"\"\"doc\"\"\"\n", "entry_point": "f",
            "test": "def check(candidate):\n    assert candidate(2) == 4\n"}
    rows = [dict(base, task_id="good", canonical_solution="    return x * 2\n"),
            dict(base, task_id="broken", canonical_solution="    return x + 3\n"),
            dict(base, task_id="flaky", canonical_solution="    import os\n    return 4 if os.getpid() % 2 else 5\n")]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "report.json"
    proc = harness("problems", "validate", str(problems), "--repeats", "12", "--report-json", str(report))
    assert proc.returncode == 1
    status = {d["problem_id"]: d["status"] for d in json.loads(report.read_text())}
    assert status == {"good": "ok", "broken": "broken", "flaky": "flaky"}


def test_full_disk_is_one_line_and_the_store_keeps_the_verdicts(tmp_path: Path) -> None:
    samples = bundled_head(tmp_path, 20)
    env = {"HARNESS_CACHE": str(tmp_path / "cache")}
    proc = harness("evaluate", str(samples), "--out", "/dev/full", "--quiet", "--no-calibrate", env=env)
    assert proc.returncode == 6  # cannot write output; not "sandbox unavailable"
    assert proc.stderr.strip().startswith("harness: error: /dev/full: cannot write results (No space left on device)")
    assert len(proc.stderr.strip().splitlines()) == 1
    rerun = harness("evaluate", str(samples), "--out", str(tmp_path / "r.jsonl"), "--quiet", "--no-calibrate",
                    env=env)
    summary = json.loads(rerun.stdout.splitlines()[-1])
    assert rerun.returncode == 0 and summary["cached"] >= 1 and summary["executed"] + summary["cached"] == 20
