#!/usr/bin/env bash
# Makes a Docker engine available, idempotently: reuses a running one, else
# installs docker.io (Debian) if needed and starts dockerd without a bridge
# network (sandboxes never need one).  Log: /var/log/harness-dockerd.log
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "starting dockerd ..." >&2
  setsid dockerd --bridge=none --iptables=false --ip6tables=false \
    >/var/log/harness-dockerd.log 2>&1 < /dev/null &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not come up; see /var/log/harness-dockerd.log" >&2
tail -n 20 /var/log/harness-dockerd.log >&2 || true
exit 1
