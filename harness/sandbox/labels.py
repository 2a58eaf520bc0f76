"""Labels that tie every container to the run and process that made it, so
that leftovers of a crashed or killed run can be found and removed."""

from __future__ import annotations

import os
import socket

import psutil

LABEL_MANAGED = "org.harness.managed"
LABEL_RUN = "org.harness.run"
LABEL_OWNER = "org.harness.owner-pid"
LABEL_OWNER_START = "org.harness.owner-start"
LABEL_HOST = "org.harness.host"


def run_labels(run_id: str) -> dict[str, str]:
    me = psutil.Process()
    return {
        LABEL_MANAGED: "1",
        LABEL_RUN: run_id,
        LABEL_OWNER: str(me.pid),
        LABEL_OWNER_START: f"{me.create_time():.3f}",
        LABEL_HOST: socket.gethostname(),
    }


def owner_is_gone(labels: dict[str, str]) -> bool:
    """True when the process that created a container on this host is dead
    (a pid reused by another process counts as dead)."""
    if labels.get(LABEL_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(LABEL_OWNER, ""))
        started = float(labels.get(LABEL_OWNER_START, ""))
    except ValueError:
        return True
    if pid == os.getpid():
        return False
    try:
        created: float = psutil.Process(pid).create_time()
        return abs(created - started) > 1.0
    except psutil.Error:
        return True
