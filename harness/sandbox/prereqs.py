"""Checks that the Docker backend can run, and says how to fix what is not."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from ..errors import PrerequisiteError
from ..protocol import COMPILERS, GO_TOOLS, JAVA_TOOLS, NODE, RUSTC, TYPESCRIPT

IMAGE_REPOSITORY = "harness-sandbox-python"
IMAGE_VERSION = "1"
DEFAULT_IMAGE = f"{IMAGE_REPOSITORY}:{IMAGE_VERSION}"
ENGINE_FIX = ("start it with `bash scripts/docker-up.sh` (installs docker.io if needed and runs "
              "`dockerd --bridge=none --iptables=false`), or point DOCKER_HOST at a running engine")
# The tool image (Dockerfile) sets HARNESS_TOOL_IMAGE: there the fix is a mount, not a daemon.
TOOL_IMAGE_FIX = ("in the tool image, mount the host's engine: "
                  "`docker run -v /var/run/docker.sock:/var/run/docker.sock ...`, "
                  "plus `--group-add $(stat -c %g /var/run/docker.sock)` with --user")
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
PROBES_FILE = "images.json"


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
        raise PrerequisiteError(f"Docker engine not reachable at {engine_address()} ({_why(exc)}); {_fix()}") from exc


def _why(exc: BaseException) -> str:
    """The root cause (a missing socket, a permission) rather than the SDK's wrapper."""
    address = engine_address()
    if address.startswith("unix://"):
        socket = Path(address.removeprefix("unix://"))
        if not socket.exists():
            return f"no socket at {socket}"
        if not os.access(socket, os.R_OK | os.W_OK):
            return f"uid {os.getuid()} may not open {socket}, which belongs to group {socket.stat().st_gid}"
    return type(exc).__name__


def _fix() -> str:
    return TOOL_IMAGE_FIX if os.environ.get("HARNESS_TOOL_IMAGE") else ENGINE_FIX


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


# What an image must hold to be a sandbox: any image with python3 will do
# (bring your own); pytest and pytest-timeout only for pytest problems.
MIN_PYTHON = (3, 9)
PYTEST_MODULES = ("pytest", "pytest_timeout")
# What the probe looks for; each language needs its own (``Language.tools``):
# programs it runs (executable) and TypeScript's compiler, a script node reads.
TOOLCHAIN_PATHS = COMPILERS + GO_TOOLS + (RUSTC, NODE, TYPESCRIPT) + JAVA_TOOLS
PROBE_TIMEOUT_S = 60

# Runs inside the image, on whatever Python it has: stdlib only, no f-strings.
PROBE = r"""
import glob, importlib.util, json, os, platform, subprocess, sys, sysconfig
paths = sysconfig.get_paths()
musl = ""
for loader in glob.glob("/lib/ld-musl-*.so.1"):
    try:
        out = subprocess.run([loader], stdout=subprocess.PIPE, stderr=subprocess.PIPE).stderr.decode()
        musl = [w for line in out.splitlines() if line.startswith("Version") for w in line.split()[1:2]][0]
    except Exception:
        musl = "1.1"
print(json.dumps({
    "version": ".".join(str(part) for part in sys.version_info[:3]),
    "implementation": sys.implementation.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "soabi": sysconfig.get_config_var("SOABI") or "",
    "machine": platform.machine(),
    "bits": 64 if sys.maxsize > 2 ** 32 else 32,
    "glibc": platform.libc_ver()[1] if platform.libc_ver()[0] == "glibc" else "",
    "musl": musl,
    "prefix": os.path.commonpath([paths[k] for k in ("purelib", "platlib", "scripts", "data")]),
    "modules": dict((m, importlib.util.find_spec(m) is not None) for m in MODULES),
    "tools": dict((t, os.access(t, os.R_OK if t.endswith(".js") else os.X_OK)) for t in TOOLS),
}))
""".replace("MODULES", repr(PYTEST_MODULES)).replace("TOOLS", repr(TOOLCHAIN_PATHS))
# A kept probe is trusted only if this very probe made it: an image id names
# the image's content, not what an older probe looked for or how.
PROBE_DIGEST = hashlib.sha256(PROBE.encode()).hexdigest()[:16]


def _tools_missing(image: str, lacking: list[str]) -> str:
    from ..languages import LANGUAGES
    needing = [lang for lang in LANGUAGES.values() if set(lacking) & set(lang.tools)]
    titles = " and ".join(sorted(lang.title for lang in needing)) or "compiled"
    folders = ",".join(dict.fromkeys(lang.folder for lang in needing)) or "all"
    images = ", ".join(dict.fromkeys(lang.image for lang in needing))
    return (f"image {image} has no {', '.join(lacking)}, which {titles} problems need; use the image "
            f"`harness sandbox build --languages {folders}` makes ({images}), or add them")


@dataclass(frozen=True)
class ImageProbe:
    """What an image holds, as far as the sandbox cares."""

    image: str
    image_id: str
    python: str | None = None  # "3.11.2"; None: no python3 on the image's PATH
    entrypoint: tuple[str, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)  # the probe's JSON (empty without python3)
    failure: str = ""  # why the probe could not run at all

    @property
    def modules(self) -> Mapping[str, bool]:
        modules: Mapping[str, bool] = self.facts.get("modules", {})
        return modules

    @property
    def has_pytest(self) -> bool:
        return all(self.modules.get(name, False) for name in PYTEST_MODULES)

    def problems(self, needs_pytest: bool = False, needs_tools: tuple[str, ...] = ()) -> list[str]:
        """One line per thing the sandbox needs and this image lacks, each with its fix;
        ``needs_tools``: the compilers the problems' languages use."""
        if self.failure:
            return [f"cannot run a container of image {self.image}: {self.failure}"]
        found: list[str] = []
        if self.python is None:
            found.append(f"image {self.image} has no python3 on its PATH (the sandbox runs `python3 -s -c "
                         f"<supervisor>`); install Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ in it (`FROM {self.image}` "
                         f"+ `RUN apt-get install -y python3`), or use the image `harness sandbox build` makes")
        elif tuple(int(part) for part in self.python.split(".")[:2]) < MIN_PYTHON:
            found.append(f"image {self.image} has Python {self.python}; the sandbox supervisor needs "
                         f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer")
        elif needs_pytest and not self.has_pytest:
            found.append(self.pytest_missing())
        lacking = [tool for tool in needs_tools if not self.facts.get("tools", {}).get(tool)]
        if self.python is not None and lacking:
            found.append(_tools_missing(self.image, lacking))
        return found

    def pytest_missing(self) -> str:
        lacking = ", ".join(name.replace("_", "-") for name in PYTEST_MODULES if not self.modules.get(name))
        return (f"image {self.image} has no {lacking}, which pytest problems need; add them: `harness sandbox build "
                f"--base {self.image} --pip pytest,pytest-timeout --tag TAG`, then use --image TAG")


def probe_image(image: str, client: docker.DockerClient | None = None) -> ImageProbe:
    """Runs a short stdlib script on the image's ``python3`` (no network) and
    reports what it found.

    Raises:
        PrerequisiteError: no engine, or no such image.
    """
    own = client is None
    client = client or docker_client(timeout=PROBE_TIMEOUT_S)
    try:
        try:
            found = client.images.get(image)
        except docker.errors.ImageNotFound:
            raise PrerequisiteError(f"image {image} not found; build it with `harness sandbox build`") from None
        except DOCKER_ERRORS as exc:
            raise PrerequisiteError(f"cannot inspect image {image}: {_first_line(exc)}") from exc
        config = found.attrs.get("Config") or {}
        probe = ImageProbe(image, str(found.id), entrypoint=tuple(config.get("Entrypoint") or ()))
        return _run_probe(client, probe)
    finally:
        if own:
            client.close()


def _run_probe(client: docker.DockerClient, probe: ImageProbe) -> ImageProbe:
    from .labels import run_labels  # the container is found and removed by prune if this process dies
    container = None
    try:
        container = client.containers.create(
            probe.image_id, command=["-s", "-c", PROBE], entrypoint=["python3"], network_mode="none",
            user="0:0", labels=run_labels("probe-" + uuid.uuid4().hex[:8]), detach=True,
            mem_limit=256 << 20, pids_limit=64, security_opt=["no-new-privileges"], cap_drop=["ALL"])
        try:
            container.start()
        except docker.errors.APIError as exc:
            text = str(exc)
            if "executable file not found" in text or "no such file or directory" in text:
                return replace(probe, python=None)
            return replace(probe, failure=_first_line(exc))
        status = container.wait(timeout=PROBE_TIMEOUT_S)
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace").strip()
        err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip()
        if status.get("StatusCode") == 127 or "python3: not found" in err:
            return replace(probe, python=None)
        try:
            facts: dict[str, Any] = json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            tail = (err or out).splitlines()[-1:] or ["no output"]
            return replace(probe, failure=f"python3 failed to run a probe script: {tail[0][:200]}")
        return replace(probe, python=str(facts.get("version")), facts=facts)
    except DOCKER_ERRORS as exc:
        return replace(probe, failure=_first_line(exc))
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except DOCKER_ERRORS:
                pass


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


def require_image(image: str, needs_pytest: bool = False, cache_dir: Path | None = None,
                  needs_tools: tuple[str, ...] = ()) -> ImageProbe:
    """The checks a run makes before it starts: the image has what the
    sandbox needs.  Probes are kept per image id in ``cache_dir/images.json``
    (an image id names its content; a probe kept by another version of
    the probe is made again).

    Raises:
        PrerequisiteError: one line per missing thing, each with its fix.
    """
    client = docker_client(timeout=PROBE_TIMEOUT_S)
    try:
        try:
            image_id = str(client.images.get(image).id)
        except docker.errors.ImageNotFound:
            raise PrerequisiteError(f"sandbox image {image} not found; build it with `harness sandbox build`") from None
        except DOCKER_ERRORS as exc:
            raise PrerequisiteError(f"cannot inspect sandbox image {image}: {_first_line(exc)}") from exc
        known = _load_probes(cache_dir)
        entry = known.get(image_id)
        if isinstance(entry, dict) and isinstance(entry.get("facts"), dict) and entry.get("probe") == PROBE_DIGEST:
            probe = ImageProbe(image, image_id, python=entry.get("python"),
                               entrypoint=tuple(entry.get("entrypoint") or ()), facts=entry["facts"])
        else:
            probe = probe_image(image, client)
            if not probe.failure:
                known[image_id] = {"python": probe.python, "entrypoint": list(probe.entrypoint),
                                   "facts": dict(probe.facts), "probe": PROBE_DIGEST}
                _save_probes(cache_dir, known)
    finally:
        client.close()
    problems = probe.problems(needs_pytest, needs_tools)
    if problems:
        raise PrerequisiteError("; ".join(problems))
    return probe


def _load_probes(cache_dir: Path | None) -> dict[str, Any]:
    if cache_dir is None:
        return {}
    try:
        data = json.loads((cache_dir / PROBES_FILE).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_probes(cache_dir: Path | None, probes: Mapping[str, Any]) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{PROBES_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(probes, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, cache_dir / PROBES_FILE)
    except OSError:
        pass  # a cache: the next run probes again


@dataclass(frozen=True)
class ImageCheck:
    """What ``harness sandbox check`` found: ``missing`` stops every run,
    ``notes`` matter to some problems only."""

    missing: list[str]
    notes: list[str]
    python: str | None = None


def check_image(image: str = DEFAULT_IMAGE, needs_tools: tuple[str, ...] = ()) -> ImageCheck:
    """The engine, the image, what the image holds (python3, pytest, the
    compilers in ``needs_tools``), and whether the real supervisor starts in
    a hardened container of it."""
    missing = check_docker(image)
    if missing:
        return ImageCheck(missing, [])
    try:
        probe = probe_image(image)
    except PrerequisiteError as exc:
        return ImageCheck([str(exc)], [])
    missing = probe.problems(needs_tools=needs_tools)
    if missing:
        return ImageCheck(missing, [], probe.python)
    notes = [] if probe.has_pytest else [probe.pytest_missing()]
    failure = _supervisor_fails(image)
    if failure:
        missing.append(f"the sandbox supervisor does not start in image {image}: {failure}")
    return ImageCheck(missing, notes, probe.python)


def _supervisor_fails(image: str) -> str:
    from ..errors import InfraError
    from ..limits import Limits
    from .docker import Container
    from .labels import run_labels
    client = docker_client()
    try:
        Container(client, image, Limits(), run_labels("check-" + uuid.uuid4().hex[:8]), warm=False).destroy()
        return ""
    except InfraError as exc:
        return str(exc)
    finally:
        client.close()
