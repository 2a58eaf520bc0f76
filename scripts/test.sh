#!/usr/bin/env bash
# The whole gate: lint, types, then every test, including every Docker and
# browser test (they must not be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check harness tests
python3 -m mypy
HARNESS_REQUIRE_DOCKER=1 HARNESS_REQUIRE_BROWSER=1 HARNESS_ALLOW_ENGINE_RESTART=1 python3 -m pytest "$@"
