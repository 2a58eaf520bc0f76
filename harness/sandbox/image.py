"""``harness sandbox build``: the sandbox image, with or without a registry.

With a registry the image builds on ``python:3.12-slim``.  Without one (no
``docker pull`` possible) it bootstraps a Debian base offline with
``mmdebstrap`` from this machine's own apt sources, ``docker import``s it and
builds the same Dockerfile on it with ``--network none``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from ..errors import ImageBuildError
from .prereqs import DEFAULT_IMAGE, docker_client

REGISTRY_BASE = "python:3.12-slim"
BOOTSTRAP_BASE = "harness-base:bookworm"
BOOTSTRAP_PACKAGES = "python3,python3-pytest,python3-pytest-timeout,ca-certificates"
APT_SOURCES = ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)

Log = Callable[[str], None]


def sandboxes_dir() -> Path:
    """The image definitions: ``$HARNESS_SANDBOXES`` or ``sandboxes/`` beside the package."""
    env = os.environ.get("HARNESS_SANDBOXES")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "sandboxes"
    if not (path / "python" / "Dockerfile").is_file():
        raise ImageBuildError(f"no sandbox definitions at {path}; set HARNESS_SANDBOXES to the sandboxes/ folder")
    return path


def _have(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def choose_base(client: docker.DockerClient, log: Log, offline: bool = False) -> tuple[str, bool]:
    """Returns (base image, built offline).  Prefers the registry image."""
    if not offline:
        if _have(client, REGISTRY_BASE):
            return REGISTRY_BASE, False
        try:
            log(f"pulling {REGISTRY_BASE} ...")
            client.images.pull(REGISTRY_BASE)
            return REGISTRY_BASE, False
        except DOCKER_ERRORS as exc:
            log(f"no registry ({str(exc).splitlines()[0][:120]}); bootstrapping a Debian base offline")
    if not _have(client, BOOTSTRAP_BASE):
        bootstrap_base(client, log)
    return BOOTSTRAP_BASE, True


def bootstrap_base(client: docker.DockerClient, log: Log) -> None:
    """mmdebstrap a minimal Debian with python3 + pytest and import it."""
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise ImageBuildError("no registry and no mmdebstrap: `apt-get install -y mmdebstrap`, then retry")
    sources = next((p for p in APT_SOURCES if Path(p).is_file() and Path(p).stat().st_size), None)
    if sources is None:
        raise ImageBuildError(f"no apt sources found at {' or '.join(APT_SOURCES)} for mmdebstrap")
    suite = _debian_suite()
    with tempfile.TemporaryDirectory(prefix="harness-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        log(f"mmdebstrap {suite} with {BOOTSTRAP_PACKAGES} (about a minute) ...")
        with open(sources, "rb") as stdin:
            proc = subprocess.run(
                [tool, "--variant=apt", f"--include={BOOTSTRAP_PACKAGES}", suite, str(tarball)],
                stdin=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ImageBuildError(f"mmdebstrap failed (exit {proc.returncode}): {' | '.join(tail)}")
        repository, tag = BOOTSTRAP_BASE.split(":")
        log(f"docker import -> {BOOTSTRAP_BASE}")
        try:
            client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
        except DOCKER_ERRORS as exc:
            raise ImageBuildError(f"docker import failed: {exc}") from exc


def _debian_suite() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("VERSION_CODENAME=") and line.split("=", 1)[1].strip():
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "bookworm"


def build_image(tag: str = DEFAULT_IMAGE, base: str | None = None, offline: bool = False,
                log: Log = print) -> str:
    """Builds the sandbox image and returns its id.

    Raises:
        PrerequisiteError: no Docker engine.
        ImageBuildError: the base or the build failed.
    """
    client = docker_client(timeout=600)
    try:
        isolated = False
        if base is None:
            base, isolated = choose_base(client, log, offline)
        context = sandboxes_dir() / "python"
        log(f"building {tag} on {base} ...")
        try:
            image, _ = client.images.build(
                path=str(context), tag=tag, buildargs={"BASE": base}, rm=True, pull=False,
                network_mode="none" if isolated else None)
        except docker.errors.BuildError as exc:
            lines = [str(item.get("stream", item.get("error", ""))).strip() for item in exc.build_log]
            tail = " | ".join(line for line in lines if line)[-400:]
            raise ImageBuildError(f"image build failed: {exc.msg}; last output: {tail}") from exc
        except DOCKER_ERRORS as exc:
            raise ImageBuildError(f"image build failed: {exc}") from exc
        log(f"built {tag} ({image.id[:19]})")
        return str(image.id)
    finally:
        client.close()


def remove_image(tag: str = DEFAULT_IMAGE) -> bool:
    client = docker_client()
    try:
        client.images.remove(tag, force=True)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
