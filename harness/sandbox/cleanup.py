"""Finding and removing containers the harness left behind.

Uses the engine's list call directly: the SDK's high-level list inspects each
container afterwards and fails when one disappears in between."""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
import requests.exceptions

from .labels import LABEL_MANAGED, LABEL_RUN, owner_is_gone
from .prereqs import docker_client

_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def list_managed(client: docker.DockerClient, *labels: str) -> list[dict[str, Any]]:
    """Harness containers (running or not) carrying every ``key=value`` label."""
    return list(client.api.containers(all=True, filters={"label": [LABEL_MANAGED, *labels]}))


def _remove(client: docker.DockerClient, entries: list[dict[str, Any]]) -> int:
    removed = 0
    for entry in entries:
        try:
            client.api.remove_container(entry["Id"], force=True)
            removed += 1
        except _ERRORS:
            pass  # already gone, or being removed by its own run
    return removed


def prune_containers(only_orphans: bool = False) -> int:
    """Removes harness containers; with ``only_orphans`` just those whose
    creating process is dead (what a new run does at start).  Returns how many."""
    client = docker_client()
    try:
        entries = list_managed(client)
        if only_orphans:
            entries = [e for e in entries if owner_is_gone(e.get("Labels") or {})]
        return _remove(client, entries)
    finally:
        client.close()


def remove_run_containers(run_id: str) -> int:
    """Removes every container of one run (the last line of defence)."""
    client = docker_client()
    try:
        return _remove(client, list_managed(client, f"{LABEL_RUN}={run_id}"))
    finally:
        client.close()


def count_containers(*labels: str) -> int:
    client = docker_client()
    try:
        return len(list_managed(client, *labels))
    finally:
        client.close()
