"""The Docker engine going away mid-run, for real.  These tests stop the
engine, so they only run where that is allowed (HARNESS_ALLOW_ENGINE_RESTART=1,
which scripts/test.sh sets) and always leave an engine running."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.docker,
    pytest.mark.timeout(300),
    pytest.mark.skipif(os.environ.get("HARNESS_ALLOW_ENGINE_RESTART") != "1",
                       reason="stops the Docker engine; set HARNESS_ALLOW_ENGINE_RESTART=1 to allow"),
]


def engine_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def stop_engine() -> None:
    subprocess.run(["pkill", "-x", "dockerd"], check=False)
    deadline = time.monotonic() + 60
    while engine_up() and time.monotonic() < deadline:
        time.sleep(0.2)
    while subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0:
        time.sleep(0.2)


def start_engine() -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "docker-up.sh")], check=True)


def slow_references(tmp_path: Path, n: int) -> Path:
    with gzip.open(ROOT / "problems" / "humaneval.jsonl.gz", "rt") as handle:
        problems = [json.loads(line) for line in handle][:n]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"task_id": p["task_id"], "solution": "import time\ntime.sleep(0.3)\n"
                                        + p["prompt"] + p["canonical_solution"]}) + "\n" for p in problems))
    return path


def start_run(tmp_path: Path, samples: Path, *extra: str) -> tuple[subprocess.Popen, ResultStore]:
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "evaluate", str(samples), "--out",
                             str(tmp_path / "r.jsonl"), "--quiet", "--k", "1", "--no-calibrate", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = ResultStore(tmp_path / "cache" / "results.sqlite3")
    deadline = time.monotonic() + 60
    while store.stats().results < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.stats().results >= 6, "the run did not get going"
    return proc, store


def test_engine_restart_mid_run_loses_nothing(tmp_path: Path) -> None:
    proc, _ = start_run(tmp_path, slow_references(tmp_path, 40))
    try:
        stop_engine()
        time.sleep(2)
    finally:
        start_engine()
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["outcomes"]["passed"] == 40 and summary["outcomes"]["infra_error"] == 0
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and all(r["passed"] for r in rows)


def test_engine_that_stays_down_stops_the_run_and_keeps_what_was_done(tmp_path: Path) -> None:
    proc, store = start_run(tmp_path, slow_references(tmp_path, 40), "--engine-wait", "3")
    try:
        stop_engine()
        out, err = proc.communicate(timeout=120)
    finally:
        start_engine()
    assert proc.returncode == 3
    assert "stayed unusable for 3 s" in err and "Docker engine not reachable" in err
    kept = store.stats().results
    assert kept >= 6
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert 6 <= len(rows) <= kept and all(r["passed"] for r in rows)
