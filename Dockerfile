# The harness itself, packaged for CI jobs.  Build it with
#
#   scripts/tool-image.sh            # -> harness:latest
#
# which picks BASE (python:3.12-slim where a registry answers, else the
# Debian base `harness sandbox build` bootstraps offline), fetches the
# project's wheel and its dependencies' wheels on the host into wheels/, and
# builds this file with --network none.  Nothing here needs a network.
#
# The image drives the host's engine through the mounted socket: sandboxes are
# sibling containers and nothing is bind-mounted into them (the supervisor
# travels on their command line), so it works from inside a container.
#
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#       --user "$(id -u):$(id -g)" --group-add "$(stat -c %g /var/run/docker.sock)" \
#       -v "$PWD:/data" -w /data harness:latest rebuild examples/corpus.toml
ARG BASE=python:3.12-slim

FROM ${BASE} AS install
LABEL org.harness.build="tool-install"
COPY wheels /wheels
# pip runs from its own wheel: the offline base has no pip (and no ensurepip)
RUN python3 -m venv --without-pip /opt/harness \
 && pip_wheel=$(ls /wheels/pip-*.whl) \
 && /opt/harness/bin/python3 "$pip_wheel/pip" install --no-index --no-cache-dir --no-compile \
        --disable-pip-version-check --find-links /wheels harness \
 && /opt/harness/bin/harness --version

# The venv alone, without the wheelhouse layer
FROM ${BASE}
COPY --from=install /opt/harness /opt/harness
# HOME=/tmp: `--user` gives an arbitrary uid with no home, and caches
# (Hugging Face's, calibrations) need somewhere writable.
# HARNESS_TOOL_IMAGE: an unreachable engine's error then says to mount the socket.
ENV PATH=/opt/harness/bin:$PATH HOME=/tmp PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 HARNESS_TOOL_IMAGE=1
LABEL org.harness.tool="harness"
WORKDIR /data
ENTRYPOINT ["harness"]
