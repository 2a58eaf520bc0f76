#!/usr/bin/env bash
# Everything a fresh Debian machine needs: the package, a Docker engine,
# mmdebstrap (to build the sandbox images without a registry), the images
# (Python; C and C++), and Chromium (headless: the report's browser test
# renders the HTML report).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install -q -e '.[test]'
bash scripts/docker-up.sh
ensure_mmdebstrap() {  # builds without a registry bootstrap their base with it
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq mmdebstrap >/dev/null
  fi
}
# Python, C and C++ (one image), Go, Rust, JavaScript and Java, each rebuilt
# only when its recipe changed
ensure_mmdebstrap
harness sandbox build --languages python,cpp,go,rust,javascript,java --if-stale
harness sandbox check
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (headless, for the report test) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
