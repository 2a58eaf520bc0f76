"""``harness sandbox build``: the sandbox image, with or without a registry,
and images with a suite's PyPI packages on top of it.

With a registry the image builds on ``python:3.12-slim``.  Without one (no
``docker pull`` possible) it bootstraps a Debian base offline with
``mmdebstrap`` from this machine's own apt sources, ``docker import``s it and
builds the same Dockerfile on it with ``--network none``.

``--pip``/``--requirements`` images never need the network inside the build
either: the host's pip downloads wheels for the image's own Python (its
version, ABI and platform tags, probed by running it), they go into the build
context with a pip wheel, and ``packages.Dockerfile`` installs them with no
index (``--network none``), copying only the installed files into the image.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from ..errors import ConfigError, ImageBuildError, PrerequisiteError
from ..languages import folder_packages
from ..resources import data_dir
from .prereqs import DEFAULT_IMAGE, docker_client, probe_image

REGISTRY_BASE = "python:3.12-slim"
BOOTSTRAP_BASE = "harness-base:bookworm"
BOOTSTRAP_PACKAGES = "python3,python3-pytest,python3-pytest-timeout,ca-certificates"
APT_SOURCES = ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")
DOCKER_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)
PACKAGES_DOCKERFILE = "packages.Dockerfile"  # beside the sandbox's Dockerfile
PIP_TIMEOUT_S = 900

# Image labels: every image `harness sandbox build` makes carries them, so
# `harness sandbox list` finds them (the sandbox Dockerfile sets the first).
LABEL_SANDBOX = "org.harness.sandbox"
LABEL_IMAGE = "org.harness.image"
LABEL_PACKAGES = "org.harness.packages"  # what was asked for: --pip specs, -r FILE
LABEL_WHEELS = "org.harness.wheels"  # what was installed: name==version ...
LABEL_BASE = "org.harness.base"  # the image the packages went on, tag@id
LABEL_PYTHON = "org.harness.python"
LABEL_RECIPE = "org.harness.recipe"  # a hash of what built it: `build --if-stale` keeps a current image
LABEL_BUILD = "org.harness.build"  # on every layer of a packages build, to remove what it leaves behind

Log = Callable[[str], None]


def sandboxes_dir() -> Path:
    """The image definitions (see harness.resources)."""
    path = data_dir("sandboxes")
    if not (path / "python" / "Dockerfile").is_file():
        raise ImageBuildError(f"no sandbox definitions at {path}; set HARNESS_SANDBOXES to the sandboxes/ folder")
    return path


def _have(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def choose_base(client: docker.DockerClient, log: Log, offline: bool = False,
                packages: Sequence[str] = ()) -> tuple[str, bool]:
    """Returns (base image, built offline).  Prefers the registry image.
    ``packages``: Debian packages (a toolchain) the offline base also gets."""
    if not offline:
        if _have(client, REGISTRY_BASE):
            return REGISTRY_BASE, False
        try:
            log(f"pulling {REGISTRY_BASE} ...")
            client.images.pull(REGISTRY_BASE)
            return REGISTRY_BASE, False
        except DOCKER_ERRORS as exc:
            log(f"no registry ({str(exc).splitlines()[0][:120]}); bootstrapping a Debian base offline")
    tag = bootstrap_tag(packages)
    if not _have(client, tag):
        bootstrap_base(client, log, tag, packages)
    return tag, True


def bootstrap_tag(packages: Sequence[str]) -> str:
    """``harness-base:bookworm``, or one named by a hash of the extra packages."""
    if not packages:
        return BOOTSTRAP_BASE
    digest = hashlib.sha256(",".join(sorted(packages)).encode()).hexdigest()[:10]
    repository, tag = BOOTSTRAP_BASE.split(":")
    return f"{repository}-{digest}:{tag}"


def bootstrap_base(client: docker.DockerClient, log: Log, tag: str = BOOTSTRAP_BASE,
                   packages: Sequence[str] = ()) -> None:
    """mmdebstrap a minimal Debian with python3 + pytest (+ ``packages``) and import it."""
    tool = shutil.which("mmdebstrap")
    if tool is None:
        raise ImageBuildError("no registry and no mmdebstrap: `apt-get install -y mmdebstrap`, then retry")
    sources = next((p for p in APT_SOURCES if Path(p).is_file() and Path(p).stat().st_size), None)
    if sources is None:
        raise ImageBuildError(f"no apt sources found at {' or '.join(APT_SOURCES)} for mmdebstrap")
    suite = _debian_suite()
    with tempfile.TemporaryDirectory(prefix="harness-base-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        include = ",".join([BOOTSTRAP_PACKAGES, *packages])
        log(f"mmdebstrap {suite} with {include} (a minute or two) ...")
        with open(sources, "rb") as stdin:
            proc = subprocess.run(
                [tool, "--variant=apt", f"--include={include}", suite, str(tarball)],
                stdin=stdin, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ImageBuildError(f"mmdebstrap failed (exit {proc.returncode}): {' | '.join(tail)}")
        repository, version = tag.split(":")
        log(f"docker import -> {tag}")
        try:
            client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
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


def recipe_hash(folder: str) -> str:
    """What an image of ``folder`` is built from: its Dockerfiles and packages."""
    digest = hashlib.sha256(BOOTSTRAP_PACKAGES.encode() + ",".join(folder_packages(folder)).encode())
    for name in sorted({"python", folder}):
        digest.update((sandboxes_dir() / name / "Dockerfile").read_bytes())
    return digest.hexdigest()[:16]


def build_image(tag: str = DEFAULT_IMAGE, base: str | None = None, offline: bool = False,
                log: Log = print, folder: str = "python", if_stale: bool = False) -> str:
    """Builds the sandbox image of ``folder`` (``sandboxes/<folder>/``) and
    returns its id.  Another language's image is the Python sandbox's
    recipe built on a base with its toolchain, then its own Dockerfile.
    ``if_stale``: keep an image built from the same recipe.

    Raises:
        PrerequisiteError: no Docker engine.
        ImageBuildError: the base or the build failed.
    """
    client = docker_client(timeout=600)
    recipe = recipe_hash(folder)
    try:
        if if_stale and _have(client, tag) and client.images.get(tag).labels.get(LABEL_RECIPE) == recipe:
            log(f"{tag} is current (recipe {recipe})")
            return str(client.images.get(tag).id)
        isolated = False
        if base is None:
            base, isolated = choose_base(client, log, offline, folder_packages(folder))
        network = "none" if isolated else None
        stage = tag if folder == "python" else f"{tag}-python"
        log(f"building {stage} on {base} ...")
        labels = {LABEL_IMAGE: "1", LABEL_RECIPE: recipe}
        image_id = _docker_build(client, path=str(sandboxes_dir() / "python"), tag=stage, buildargs={"BASE": base},
                                 network_mode=network, labels=labels)
        if folder != "python":
            log(f"building {tag} on {stage} ...")
            image_id = _docker_build(client, path=str(sandboxes_dir() / folder), tag=tag,
                                     buildargs={"BASE": stage}, network_mode=network, labels=labels)
        log(f"built {tag} ({image_id[:19]})")
        return image_id
    finally:
        client.close()


def _docker_build(client: docker.DockerClient, **options: Any) -> str:
    """``docker build`` (the classic builder); returns the image id.

    Raises:
        ImageBuildError: with the tail of the build's output.
    """
    try:
        image, _ = client.images.build(rm=True, forcerm=True, pull=False, **options)
    except docker.errors.BuildError as exc:
        lines = [str(item.get("stream", item.get("error", ""))).strip() for item in exc.build_log]
        tail = " | ".join(line for line in lines if line)[-400:]
        raise ImageBuildError(f"image build failed: {exc.msg}; last output: {tail}") from exc
    except DOCKER_ERRORS as exc:
        raise ImageBuildError(f"image build failed: {exc}") from exc
    return str(image.id)


def remove_image(tag: str = DEFAULT_IMAGE) -> bool:
    client = docker_client()
    try:
        client.images.remove(tag, force=True)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


# ---- images with extra PyPI packages -------------------------------------------------------------

_CONTINUES_SPEC = re.compile(r"\s*(<|>|=|!|~)")  # "numpy>=1.2,<2": the part after the comma is a specifier


def split_packages(values: Iterable[str]) -> list[str]:
    """``--pip`` values as requirement specs: comma-separated, where a comma
    inside ``[extras]`` or before another version clause does not split
    (``pandas[excel,html]``, ``numpy>=1.24,<2``)."""
    specs: list[str] = []
    for value in values:
        parts: list[str] = []
        depth, current = 0, ""
        for char in value:
            depth += {"[": 1, "]": -1}.get(char, 0)
            if char == "," and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += char
        parts.append(current)
        own: list[str] = []
        for part in parts:
            if not part.strip():
                continue
            if own and _CONTINUES_SPEC.match(part):
                own[-1] += "," + part.strip()
            else:
                own.append(part.strip())
        specs += own
    for spec in specs:
        if spec.startswith("-") or not re.match(r"[A-Za-z0-9]", spec):
            raise ConfigError(f"--pip takes package specs such as numpy or 'numpy>=1.24,<2', not {spec!r}")
    return specs


def canonical_name(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_platforms(machine: str, bits: int = 64, glibc: str = "", musl: str = "") -> list[str]:
    """Wheel platform tags an interpreter on this libc and CPU accepts, best
    first (what ``packaging.tags`` computes, without running on the image)."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())
    if bits == 32 and arch == "x86_64":
        arch = "i686"
    platforms: list[str] = []
    version = re.match(r"(\d+)\.(\d+)", glibc)
    if version and version[1] == "2":
        lowest = 5 if arch in ("x86_64", "i686") else 17
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
        for minor in range(int(version[2]), lowest - 1, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            if minor in legacy and (minor == 17 or arch in ("x86_64", "i686")):
                platforms.append(f"{legacy[minor]}_{arch}")
    version = re.match(r"(\d+)\.(\d+)", musl)
    if version and version[1] == "1":
        platforms += [f"musllinux_1_{minor}_{arch}" for minor in range(int(version[2]), 0, -1)]
    return platforms + [f"linux_{arch}"]


@dataclass(frozen=True)
class PythonTarget:
    """The interpreter of an image, as ``pip download`` needs to know it to
    pick wheels for it from another machine."""

    version: str  # "3.11.2"
    implementation: str  # pip's short form: cp, pp, ...
    abis: tuple[str, ...]
    platforms: tuple[str, ...]
    prefix: str  # where pip installs (site-packages and scripts live under it)

    @classmethod
    def from_probe(cls, facts: Mapping[str, Any]) -> PythonTarget:
        version = str(facts["version"])
        major, minor = version.split(".")[:2]
        name = str(facts.get("implementation", "cpython"))
        implementation = {"cpython": "cp", "pypy": "pp"}.get(name, name[:2])
        if implementation == "cp":
            flags = str(facts.get("abiflags", ""))
            abis = [f"cp{major}{minor}{flags}"] + ([] if "t" in flags or "d" in flags else ["abi3"])
        else:  # e.g. SOABI pypy310-pp73-x86_64-linux-gnu -> pypy310_pp73
            abis = ["_".join(str(facts.get("soabi", "")).split("-")[:2])] if facts.get("soabi") else []
        platforms = wheel_platforms(str(facts.get("machine", "x86_64")), int(facts.get("bits", 64)),
                                    str(facts.get("glibc", "")), str(facts.get("musl", "")))
        return cls(version, implementation, tuple(abis + ["none"]), tuple(platforms),
                   str(facts.get("prefix") or "/usr/local"))

    def pip_args(self) -> list[str]:
        args = ["--python-version", self.version, "--implementation", self.implementation]
        for abi in self.abis:
            args += ["--abi", abi]
        for platform in self.platforms:
            args += ["--platform", platform]
        return args

    def describe(self) -> str:
        return f"Python {self.version}, {self.abis[0]}, {self.platforms[0]}"


def _pip(args: Sequence[str], what: str) -> subprocess.CompletedProcess[str]:
    """The host's pip (the one of the interpreter running harness)."""
    command = [sys.executable, "-m", "pip", *args]
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_PROGRESS_BAR="off")
    try:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ImageBuildError(f"pip took more than {PIP_TIMEOUT_S} s to {what}") from None


def _require_pip() -> None:
    if _pip(["--version"], "start").returncode != 0:
        raise ImageBuildError(f"no pip for {sys.executable}, which downloads the wheels: "
                              f"`{sys.executable} -m ensurepip` (or install python3-pip), then retry")


_SKIPPED = re.compile(r"Skipping link: (?P<reason>.*): (?P<url>\S+)")
_NO_MATCH = re.compile(r"No matching distribution found for (?P<spec>\S+)")
_VERSIONS = re.compile(r"Could not find a version that satisfies the requirement (?P<spec>\S+) "
                       r"\(from versions: (?P<versions>[^)]*)\)")
_SDIST = re.compile(r"\.(tar\.gz|tar\.bz2|tar\.xz|tgz|zip)$")


def _link_project(url: str) -> tuple[str, str]:
    """(canonical project name, kind: wheel|sdist|other) of a file link."""
    filename = url.split("#")[0].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    if filename.endswith(".whl"):
        return canonical_name(filename.split("-")[0]), "wheel"
    if _SDIST.search(filename):
        return canonical_name(_SDIST.sub("", filename).rsplit("-", 1)[0]), "sdist"
    return "", "other"


def explain_download_failure(output: str, target: PythonTarget, requested: Sequence[str]) -> str:
    """One line from a failed ``pip download -vv``: which package has no wheel
    for the image's Python, and why (sdist only, other platforms, another
    Python, not on the index, no matching version)."""
    failed = _NO_MATCH.search(output)
    if failed is None:
        errors = [line.strip() for line in output.splitlines() if line.strip().startswith("ERROR:")]
        return "pip download failed: " + (" | ".join(errors[-3:]) or output.strip()[-300:])
    spec = failed["spec"]
    name = canonical_name(re.split(r"[\[<>=!~;@ ]", spec, maxsplit=1)[0])
    asked = {canonical_name(re.split(r"[\[<>=!~;@ ]", r, maxsplit=1)[0]) for r in requested}
    what = spec if name in asked else f"{spec} (a dependency of what was asked for)"
    wheels: list[str] = []
    sdists = 0
    pythons: set[str] = set()
    for match in _SKIPPED.finditer(output):
        project, kind = _link_project(match["url"])
        if project != name:
            continue
        if "Requires-Python" in match["reason"]:
            pythons.add(match["reason"].split("Requires-Python", 1)[1].strip())
        elif kind == "wheel":
            tags = re.search(r"tags \((?P<tags>[^)]*)\)", match["reason"])
            wheels.append(tags["tags"] if tags else match["reason"])
        elif kind == "sdist":
            sdists += 1
    versions = _VERSIONS.search(output)
    available = versions["versions"].strip() if versions else "none"
    fix = (f"build a wheel yourself (`pip wheel --no-deps '{spec}' -w DIR`; a pure-Python wheel suits any image) "
           f"and pass --find-links DIR")
    unreachable = re.search(r"Could not fetch URL \S+: (.*)|Max retries exceeded.*", output)
    shown_versions = [v for v in available.split(", ") if v and v != "none"]
    if shown_versions:
        why = (f"no version matching {spec} has a wheel for the image's {target.describe()} (versions with one: "
               f"{', '.join(shown_versions[-5:])})")
    elif wheels:
        shown = ", ".join(sorted(set(wheels))[:4]) + (", ..." if len(set(wheels)) > 4 else "")
        why = f"its wheels are for other platforms or Pythons ({shown}), none for the image's {target.describe()}"
        if sdists:
            why += f", and its sdist cannot be built offline: {fix}"
    elif sdists:
        why = (f"it has only a source distribution (sdist) on the index, no wheel, and the image is built "
               f"offline with no compiler, so nothing can build it there: {fix}")
    elif pythons:
        why = f"every release needs another Python than the image's {target.version} " \
              f"(Requires-Python {', '.join(sorted(pythons)[:3])})"
    elif unreachable:
        why = f"the package index could not be reached ({unreachable[0].strip()[:160]})"
    else:
        why = "the package index has no such project"
    return f"cannot install {what}: {why}"


def download_wheels(target: PythonTarget, specs: Sequence[str], requirements: Sequence[Path],
                    find_links: Sequence[Path], dest: Path) -> list[Path]:
    """Wheels (only wheels) for ``target`` of every requested package and its
    dependencies, into ``dest``.

    Raises:
        ImageBuildError: one line naming the package without a usable wheel and why.
    """
    args = ["download", "-vv", "--only-binary=:all:", "--dest", str(dest), *target.pip_args()]
    for folder in find_links:
        args += ["--find-links", str(folder)]
    for path in requirements:
        args += ["--requirement", str(path)]
    proc = _pip([*args, *specs], "download the wheels")
    if proc.returncode != 0:
        requested = list(specs) + [line.strip() for path in requirements for line in _requirement_lines(path)]
        raise ImageBuildError(explain_download_failure(proc.stdout + "\n" + proc.stderr, target, requested))
    return sorted(dest.glob("*.whl"))


def _requirement_lines(path: Path) -> list[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [line.split("#")[0] for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))]


def _pip_wheel(target: PythonTarget, dest: Path) -> Path:
    """A pip for the image's Python, to run from its own wheel (``python3 pip.whl/pip``)."""
    dest.mkdir()
    proc = _pip(["download", "--only-binary=:all:", "--no-deps", "--dest", str(dest), "--python-version",
                 target.version, "--implementation", "py", "--abi", "none", "--platform", "any", "pip"],
                "download pip")
    found = sorted(dest.glob("pip-*.whl"))
    if proc.returncode != 0 or not found:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
        raise ImageBuildError(f"cannot download a pip wheel for Python {target.version}: {tail[0]}")
    return found[-1]


def _wheel_name_version(path: Path) -> tuple[str, str]:
    name, version = path.name.split("-")[:2]
    return canonical_name(name), version


def build_packages_image(tag: str, packages: Sequence[str] = (), requirements: Sequence[str | Path] = (),
                         find_links: Sequence[str | Path] = (), base: str = DEFAULT_IMAGE,
                         build_base: bool = False, offline: bool = False, log: Log = print) -> str:
    """Builds ``tag``: ``base`` plus the PyPI packages ``packages`` (specs)
    and those of ``requirements`` files, with no registry and no network in
    the build.  ``build_base``: build the sandbox image ``base`` first if it
    is missing (``offline`` as for ``build_image``).  Returns the image id.

    Raises:
        ConfigError: nothing to install, a bad spec, a missing file, a tag that is the base.
        PrerequisiteError: no engine; the base lacks python3.
        ImageBuildError: a package has no wheel for the image's Python (the line says which and why),
            or the build failed.
    """
    specs = split_packages(packages)
    files = [Path(p) for p in requirements]
    links = [Path(p) for p in find_links]
    if not specs and not files:
        raise ConfigError("--tag builds an image with packages: give --pip PKG[,PKG...] or --requirements FILE")
    if tag == base:
        raise ConfigError(f"--tag {tag} is the image the packages go on; name the new image differently")
    for path, flag in [(p, "--requirements") for p in files] + [(p, "--find-links") for p in links]:
        if not path.exists():
            raise ConfigError(f"{flag} {path}: no such file or directory")
    started = time.monotonic()
    client = docker_client(timeout=600)
    try:
        if build_base and not _have(client, base):
            build_image(base, offline=offline, log=log)
        try:
            probe = probe_image(base, client)
        except PrerequisiteError as exc:
            raise PrerequisiteError(f"{exc} (the image the packages go on)") from None
        problems = probe.problems()
        if problems:
            raise PrerequisiteError("; ".join(problems))
        target = PythonTarget.from_probe(probe.facts)
        _require_pip()
        with tempfile.TemporaryDirectory(prefix="harness-packages-") as tmp:
            context = Path(tmp)
            build = context / "harness-build"
            wheels_dir = build / "wheels"
            wheels_dir.mkdir(parents=True)
            asked = " ".join(specs + [f"-r {p}" for p in files])
            log(f"downloading wheels for {target.describe()}: {asked} ...")
            wheels = download_wheels(target, specs, files, links, wheels_dir)
            shutil.move(_pip_wheel(target, context / "pip"), build / "pip.whl")
            size = sum(w.stat().st_size for w in wheels)
            log(f"{len(wheels)} wheel(s), {size / 1e6:.1f} MB, in {time.monotonic() - started:.1f} s")
            (build / "install.txt").write_text("".join(f"/tmp/harness-build/wheels/{w.name}\n" for w in wheels))
            shutil.copy(sandboxes_dir() / "python" / PACKAGES_DOCKERFILE, context / "Dockerfile")
            installed = sorted(_wheel_name_version(w) for w in wheels)
            labels = {LABEL_IMAGE: "1", LABEL_PACKAGES: ", ".join(specs + [f"-r {p.name}" for p in files]),
                      LABEL_WHEELS: " ".join(f"{name}=={version}" for name, version in installed),
                      LABEL_BASE: f"{base}@{probe.image_id}", LABEL_PYTHON: target.version}
            log(f"building {tag} on {base} (no network) ...")
            build_id, image_id = uuid.uuid4().hex[:16], ""
            try:
                image_id = _docker_build(
                    client, path=str(context), tag=tag, network_mode="none", labels=labels,
                    buildargs={"BASE": probe.image_id, "PREFIX": target.prefix, "BUILD": build_id,
                               "DISTRIBUTIONS": " ".join(name for name, _ in installed)})
            finally:
                _remove_build_leftovers(client, build_id, keep=image_id)
        log(f"built {tag} ({image_id[:19]}) in {time.monotonic() - started:.1f} s")
        return image_id
    finally:
        client.close()


def _remove_build_leftovers(client: docker.DockerClient, build_id: str, keep: str) -> None:
    """Removes the install stage (and a failed build's layers): every image
    of build ``build_id`` but ``keep`` and its parents.  Removing one removes
    its untagged parents too."""
    try:
        entries = client.api.images(all=True, filters={"label": f"{LABEL_BUILD}={build_id}"})
    except DOCKER_ERRORS:
        return
    for entry in sorted(entries, key=lambda e: -int(e.get("Created") or 0)):
        if entry["Id"] != keep:
            try:
                client.api.remove_image(entry["Id"])
            except DOCKER_ERRORS:
                pass  # a parent of the image kept, or gone with a child already


@dataclass(frozen=True)
class SandboxImage:
    """An image ``harness sandbox build`` made, as ``harness sandbox list`` shows it."""

    tag: str  # "<none>" for an image whose tag moved on
    id: str
    size: int  # bytes
    created: float  # epoch seconds
    packages: str  # what was asked for ("" for the plain sandbox)
    wheels: str
    python: str
    base: str

    def summary(self) -> str:
        """The packages asked for, each with the version installed: ``sortedcontainers==2.4.0, -r req.txt``."""
        if not self.packages:
            return "-"
        versions = dict(item.split("==", 1) for item in self.wheels.split() if "==" in item)
        shown = []
        for spec in self.packages.split(", "):
            name = canonical_name(re.split(r"[\[<>=!~;@ ]", spec, maxsplit=1)[0])
            shown.append(f"{name}=={versions[name]}" if name in versions and not spec.startswith("-") else spec)
        return ", ".join(shown)

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "id": self.id, "size": self.size, "created": self.created,
                "packages": self.packages, "wheels": self.wheels, "python": self.python, "base": self.base}


def list_images() -> list[SandboxImage]:
    """Every image this tool built (by their labels), newest first, one row per tag.

    Raises:
        PrerequisiteError: no engine.
    """
    client = docker_client()
    try:
        entries: dict[str, dict[str, Any]] = {}
        for label in (LABEL_IMAGE, LABEL_SANDBOX):
            for entry in client.api.images(filters={"label": label}):
                entries[entry["Id"]] = entry
    except DOCKER_ERRORS as exc:
        raise PrerequisiteError(f"cannot list images: {exc}") from exc
    finally:
        client.close()
    images = []
    for entry in entries.values():
        labels = entry.get("Labels") or {}
        tags = [t for t in entry.get("RepoTags") or [] if t != "<none>:<none>"] or ["<none>"]
        for tag in tags:
            images.append(SandboxImage(tag, str(entry["Id"]), int(entry.get("Size") or 0),
                                       float(entry.get("Created") or 0), labels.get(LABEL_PACKAGES, ""),
                                       labels.get(LABEL_WHEELS, ""), labels.get(LABEL_PYTHON, ""),
                                       labels.get(LABEL_BASE, "")))
    return sorted(images, key=lambda image: (-image.created, image.tag))
