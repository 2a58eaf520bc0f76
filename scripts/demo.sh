#!/usr/bin/env bash
# The main job on bundled defaults: 1,640 GPT-3.5 HumanEval completions judged
# in the sandbox, with results.jsonl and summary.json in the current folder.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/setup.sh"
harness evaluate --problems humaneval --out results.jsonl --summary-json summary.json --k 1,10 "$@"
