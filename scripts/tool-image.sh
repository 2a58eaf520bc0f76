#!/usr/bin/env bash
# Builds the tool image (default harness:latest) from the top-level Dockerfile
# with no network inside the build:
#   1. the base: the Dockerfile's (python:3.12-slim) where a registry
#      answers, else the offline Debian base `harness sandbox build`
#      bootstraps with mmdebstrap (`harness sandbox base --offline`);
#   2. on the host, the project's wheel and its dependencies' wheels, for the
#      base's Python and machine, into a wheelhouse;
#   3. `docker build --network none` from that wheelhouse.
#
#   scripts/tool-image.sh [--tag TAG] [--base IMAGE] [--offline] [--wheelhouse DIR]
#
# --wheelhouse keeps the wheels in DIR (reused when they are already there).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
TAG=harness:latest BASE="" OFFLINE="" WHEELHOUSE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --offline) OFFLINE=--offline; shift ;;
    --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "tool-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

CONTEXT=$(mktemp -d /tmp/harness-tool-image.XXXXXX)
LOG=$CONTEXT/log
# the install stage (wheelhouse and all) is left untagged, built or not
cleanup() {
  docker image prune -f --filter label=org.harness.build=tool-install >/dev/null 2>&1 || true
  rm -rf "$CONTEXT"
}
trap cleanup EXIT
# a step's output is shown only when it fails
quiet() { "$@" >"$LOG" 2>&1 || { tail -n 25 "$LOG" >&2; echo "tool-image.sh: failed: $*" >&2; exit 1; }; }
[ -n "$WHEELHOUSE" ] || WHEELHOUSE=$CONTEXT/wheelhouse
mkdir -p "$WHEELHOUSE"

if [ -z "$BASE" ]; then
  BASE=$(sed -n 's/^ARG BASE=//p' "$ROOT/Dockerfile")
  if [ -n "$OFFLINE" ] || ! { docker image inspect "$BASE" >/dev/null 2>&1 || docker pull -q "$BASE" >/dev/null 2>&1; }
  then
    # the checkout's own code (and its dependencies, e.g. `pip install -e .`) bootstraps it
    BASE=$(PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m harness sandbox base --offline)
  fi
fi
read -r PYVER ARCH < <(docker run --rm --network none --entrypoint python3 "$BASE" \
  -c 'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.machine())')
echo "tool image $TAG on $BASE (Python $PYVER, $ARCH)" >&2

# The project's wheel, always rebuilt (the checkout may have changed), from a
# copy: an in-tree build/ would leave stale modules for the next wheel ...
rm -f "$WHEELHOUSE"/harness-*.whl
mkdir "$CONTEXT/src"
cp -r "$ROOT"/{pyproject.toml,README.md,LICENSE,harness,problems,sandboxes} "$CONTEXT/src/"
quiet "$PY" -m pip wheel --no-deps --wheel-dir "$WHEELHOUSE" "$CONTEXT/src"
# ... and every dependency as a wheel for the base's interpreter, not the host's.
quiet "$PY" -m pip download --disable-pip-version-check --dest "$WHEELHOUSE" --only-binary=:all: \
  --python-version "$PYVER" --implementation cp \
  --platform "manylinux_2_28_$ARCH" --platform "manylinux2014_$ARCH" --platform any \
  "$WHEELHOUSE"/harness-*.whl pip
mkdir "$CONTEXT/image"
cp -r "$WHEELHOUSE" "$CONTEXT/image/wheels"
cp "$ROOT/Dockerfile" "$CONTEXT/image/Dockerfile"

previous=$(docker image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
quiet docker build --force-rm --network none --build-arg "BASE=$BASE" --tag "$TAG" "$CONTEXT/image"
# the image this one replaces would stay behind untagged, half a GB each time
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$TAG")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
echo "$TAG"
