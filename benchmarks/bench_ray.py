"""Ray scale-out overhead, side by side in one run: the bundled GPT-3.5
samples judged by the local Docker backend (2 workers) and by a Ray cluster
on this same machine (a head with no CPUs, two 1-CPU worker nodes, one node
agent each on the local engine), store off.  On one 2-core machine Ray can
only cost: the ratio is its overhead.  Across machines the cluster adds each
node's cores.

    python benchmarks/bench_ray.py [--candidates 1640]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.evaluate import evaluate  # noqa: E402
from harness.options import RunOptions  # noqa: E402
from harness.problems import load_problems, problems_dir  # noqa: E402
from harness.sandbox.docker import DockerBackend  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=1640)
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    from harness.sandbox.ray import RayBackend
    problems = load_problems("humaneval")
    with tempfile.TemporaryDirectory() as tmp, \
            gzip.open(problems_dir() / "samples" / "humaneval_gpt35_n10.jsonl.gz", "rt") as handle:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(line for _, line in zip(range(args.candidates), handle, strict=False)))
        run = RunOptions(workers=2, calibrate=False)
        local = DockerBackend()
        started = time.monotonic()
        here = evaluate(samples, problems, local, Path(tmp) / "local.jsonl", run, ks=[1])
        local_s = time.monotonic() - started
        local.close()

        started = time.monotonic()
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        backend = RayBackend(address=cluster.address)
        setup_s = time.monotonic() - started
        started = time.monotonic()
        there = evaluate(samples, problems, backend, Path(tmp) / "ray.jsonl", RunOptions(workers=0, calibrate=False),
                         ks=[1])
        ray_s = time.monotonic() - started
        rates = backend.throughput()
        backend.close()
        cluster.shutdown()
        same = [json.loads(a)["outcome"] for a in (Path(tmp) / "local.jsonl").read_text().splitlines()] == \
               [json.loads(b)["outcome"] for b in (Path(tmp) / "ray.jsonl").read_text().splitlines()]
    print(f"local docker, 2 workers : {args.candidates} candidates in {local_s:6.1f} s "
          f"({args.candidates / local_s:6.1f}/s), pass@1 {here.pass_at_k['1']:.4f}")
    print(f"ray, 2 worker nodes     : {args.candidates} candidates in {ray_s:6.1f} s "
          f"({args.candidates / ray_s:6.1f}/s), pass@1 {there.pass_at_k['1']:.4f}; "
          f"per node {rates}; cluster + agents up in {setup_s:.1f} s")
    print(f"ray / local throughput: {local_s / ray_s:.2f}x; same verdicts: {same}")


if __name__ == "__main__":
    main()
