# Extra PyPI packages on top of a sandbox image, installed with no network and
# no index: `harness sandbox build --pip ...` downloads wheels that match the
# image's Python on the host, puts them in the build context (harness-build/:
# wheels/, install.txt naming them, and pip.whl, a pip to run from its own
# wheel) and builds this file with --network none.  The image gets no pip.
ARG BASE=harness-sandbox-python:1
ARG BUILD=""
FROM ${BASE} AS install
# Every layer of this build carries its id, so that what the first stage
# leaves behind (and a failed build's layers) can be found and removed.
ARG BUILD
LABEL org.harness.build=${BUILD}
COPY harness-build/ /tmp/harness-build/
RUN ["python3", "/tmp/harness-build/pip.whl/pip", "install", "--no-index", "--find-links", "/tmp/harness-build/wheels", \
     "--no-cache-dir", "--disable-pip-version-check", "--root-user-action=ignore", "--break-system-packages", \
     "--no-warn-script-location", "--progress-bar", "off", "-r", "/tmp/harness-build/install.txt"]

# Only what pip installed (under the interpreter's install prefix, e.g.
# /usr/local) is copied: the wheels and pip itself stay in the first stage.
FROM ${BASE}
ARG BUILD
LABEL org.harness.build=${BUILD}
ARG PREFIX=/usr/local
ARG DISTRIBUTIONS=""
COPY --from=install ${PREFIX} ${PREFIX}
RUN ["python3", "-c", "import os, importlib.metadata as m; [m.version(d) for d in os.environ['DISTRIBUTIONS'].split()]"]
