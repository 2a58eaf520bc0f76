#!/usr/bin/env bash
# Makes a Docker engine available, idempotently: reuses a running one, else
# installs docker.io (Debian) if needed and starts dockerd without a bridge
# network (sandboxes never need one).  Log: /var/log/harness-dockerd.log
set -euo pipefail
LOG=/var/log/harness-dockerd.log

engine_up() { docker info >/dev/null 2>&1; }

engine_up && exit 0
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
# A dockerd that is still starting (or dying) gets a few seconds first.
for _ in $(seq 1 20); do
  engine_up && exit 0
  pgrep -x dockerd >/dev/null 2>&1 || break
  sleep 0.5
done
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "starting dockerd ..." >&2
  setsid dockerd --bridge=none --iptables=false --ip6tables=false >"$LOG" 2>&1 < /dev/null &
fi
for _ in $(seq 1 120); do
  engine_up && exit 0
  sleep 0.5
done
echo "dockerd did not come up; see $LOG" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
