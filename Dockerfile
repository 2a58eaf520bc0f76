# The harness itself, packaged for CI jobs.  It drives the host's Docker engine
# through the mounted socket; sandboxes are sibling containers, and nothing is
# bind-mounted into them (the supervisor travels on their command line), so
# this works from inside a container.
#
#   docker build -t harness .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#       -v "$PWD:/data" -w /data harness sandbox build
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#       -v "$PWD:/data" -w /data harness evaluate samples.jsonl --out results.jsonl
ARG BASE=python:3.12-slim
FROM ${BASE}
WORKDIR /opt/harness
COPY pyproject.toml README.md ./
COPY harness ./harness
COPY sandboxes ./sandboxes
COPY problems ./problems
RUN python3 -m pip install --no-cache-dir .
ENV HARNESS_SANDBOXES=/opt/harness/sandboxes HARNESS_PROBLEMS=/opt/harness/problems
ENTRYPOINT ["harness"]
