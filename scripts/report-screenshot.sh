#!/usr/bin/env bash
# The README's picture of the report: the bundled 1,640 GPT-3.5 HumanEval
# samples judged (the result store answers a rerun), reported, and drawn by
# headless Chromium into docs/report.png.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/harness-report-shot.XXXXXX)
trap 'rm -rf "$out"' EXIT
python3 -m harness evaluate --out "$out/results.jsonl" --quiet --report "$out/report.html" >/dev/null
mkdir -p docs
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1900 \
  --virtual-time-budget=15000 --screenshot=docs/report.png "file://$out/report.html" 2>/dev/null
echo docs/report.png
