#!/usr/bin/env bash
# A Slurm job array: 8 tasks each judge 1/8 of the samples, then one job merges.
#   sbatch examples/slurm-array.sh            # the shards
#   sbatch --dependency=afterok:<jobid> --wrap \
#     'harness merge shards/*/results.jsonl --out results.jsonl --stores shards/*/store.sqlite3 \
#        --cache merged.sqlite3 --summary-json summary.json'
# Every node needs a Docker engine and the sandbox image (`harness sandbox build`).
#SBATCH --job-name=harness-shard
#SBATCH --array=0-7
#SBATCH --cpus-per-task=8
#SBATCH --time=02:00:00
set -euo pipefail
N=8
I=${SLURM_ARRAY_TASK_ID}
mkdir -p "shards/$I"
# each shard its own store: SQLite is not for a shared network file system
harness evaluate samples.jsonl --problems humaneval --shard "$I/$N" --workers "${SLURM_CPUS_PER_TASK}" \
  --out "shards/$I/results.jsonl" --cache "shards/$I/store.sqlite3" --quiet
