"""Finding and removing containers the harness left behind."""

from __future__ import annotations

import docker.errors
import requests.exceptions

from .labels import LABEL_MANAGED, owner_is_gone
from .prereqs import docker_client

_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def prune_containers(only_orphans: bool = False) -> int:
    """Removes harness containers; with ``only_orphans`` just those whose
    creating process is dead (what a new run does at start).  Returns how many."""
    client = docker_client()
    removed = 0
    try:
        for container in client.containers.list(all=True, filters={"label": LABEL_MANAGED}):
            if only_orphans and not owner_is_gone(container.labels):
                continue
            try:
                container.remove(force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except _ERRORS:
                pass
        return removed
    finally:
        client.close()


def count_containers() -> int:
    client = docker_client()
    try:
        return len(client.containers.list(all=True, filters={"label": LABEL_MANAGED}))
    finally:
        client.close()
