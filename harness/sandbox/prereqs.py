"""Checks that the Docker backend can run, and says how to fix what is not."""

from __future__ import annotations

import os

import docker
import docker.errors
import requests.exceptions

from ..errors import PrerequisiteError

IMAGE_REPOSITORY = "harness-sandbox-python"
IMAGE_VERSION = "1"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{IMAGE_VERSION}"
ENGINE_FIX = ("start it with `bash scripts/docker-up.sh` (installs docker.io if needed and runs "
              "`dockerd --bridge=none --iptables=false`), or point DOCKER_HOST at a running engine")


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_client(timeout: int = 120) -> docker.DockerClient:
    """A client for the engine in DOCKER_HOST (or the default socket).

    Raises:
        PrerequisiteError: no engine answers there.
    """
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise PrerequisiteError(
            f"Docker engine not reachable at {engine_address()} ({type(exc).__name__}); {ENGINE_FIX}"
        ) from exc


def check_docker(image: str = DEFAULT_IMAGE) -> list[str]:
    """Returns one line per missing prerequisite (empty when all is ready)."""
    try:
        client = docker_client(timeout=10)
    except PrerequisiteError as exc:
        return [str(exc)]
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return [f"sandbox image {image} not found; build it with `harness sandbox build`"]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        return [f"cannot inspect sandbox image {image}: {exc}"]
    finally:
        client.close()
    return []


def require_docker(image: str = DEFAULT_IMAGE) -> None:
    """Raises PrerequisiteError with every problem found, each with its fix."""
    problems = check_docker(image)
    if problems:
        raise PrerequisiteError("; ".join(problems))
