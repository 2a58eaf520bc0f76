"""Sandbox images with a suite's PyPI packages (``harness sandbox build --pip``),
bring-your-own images (``--image``), ``sandbox check`` and ``sandbox list``.

The Docker tests build one small image per module (one pure-Python wheel,
fetched on the host, installed with no network) and remove it at the end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.limits import Limits
from harness.sandbox.image import (
    PythonTarget,
    SandboxImage,
    explain_download_failure,
    split_packages,
    wheel_platforms,
)
from harness.sandbox.prereqs import ImageProbe
from harness.store import result_key

from .conftest import IMAGE

IMPORTS_PACKAGE = "from sortedcontainers import SortedSet\n\ndef sorted_unique(xs):\n    return list(SortedSet(xs))\n"
IMPORTS_LOCAL = ("import harness_local_demo\n\ndef sorted_unique(xs):\n"
                 "    return sorted(set(xs)) * (harness_local_demo.VALUE == 42)\n")
PROBLEM = {"task_id": "sc/0", "prompt": "def sorted_unique(xs):\n", "entry_point": "sorted_unique",
           "test": "def check(candidate):\n    assert candidate([3, 1, 3, 2]) == [1, 2, 3]\n",
           "canonical_solution": "    return sorted(set(xs))\n"}
PYTEST_PROBLEM = {"task_id": "pt/0", "prompt": "Write add(a, b).", "test_kind": "pytest",
                  "test": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
                  "reference_solution": "def add(a, b):\n    return a + b\n"}


def harness(*args: str, **kw) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=dict(os.environ), **kw)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def remove_image(tag: str) -> None:
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


# ---- no Docker -----------------------------------------------------------------------------------

def test_pip_values_split_on_commas_but_not_inside_specs_or_extras() -> None:
    assert split_packages(["numpy>=1.24,<2,sortedcontainers", "pandas[excel,html]", " six "]) == [
        "numpy>=1.24,<2", "sortedcontainers", "pandas[excel,html]", "six"]
    with pytest.raises(ConfigError, match="--pip takes package specs"):
        split_packages(["--index-url=http://example.com"])


def test_wheel_tags_for_the_image_python() -> None:
    platforms = wheel_platforms("x86_64", 64, glibc="2.36")
    assert platforms[0] == "manylinux_2_36_x86_64" and platforms[-1] == "linux_x86_64"
    assert {"manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "manylinux_2_5_x86_64"} <= set(
        platforms)
    assert "manylinux1_aarch64" not in wheel_platforms("aarch64", 64, glibc="2.31")
    assert wheel_platforms("x86_64", 64, musl="1.2.4")[:2] == ["musllinux_1_2_x86_64", "musllinux_1_1_x86_64"]
    target = PythonTarget.from_probe({"version": "3.11.2", "implementation": "cpython", "abiflags": "",
                                      "machine": "x86_64", "bits": 64, "glibc": "2.36", "prefix": "/usr/local"})
    args = target.pip_args()
    assert args[:4] == ["--python-version", "3.11.2", "--implementation", "cp"]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--abi"] == ["cp311", "abi3", "none"]
    assert target.describe() == "Python 3.11.2, cp311, manylinux_2_36_x86_64"
    free_threaded = PythonTarget.from_probe({"version": "3.13.1", "implementation": "cpython", "abiflags": "t",
                                             "machine": "x86_64", "glibc": "2.36"})
    assert free_threaded.abis == ("cp313t", "none")


TARGET = PythonTarget("3.11.2", "cp", ("cp311", "abi3", "none"), ("manylinux_2_36_x86_64",), "/usr/local")
FILES = "https://files.pythonhosted.org/packages/ab/cd"


def pip_failure(spec: str, skipped: list[str], versions: str = "none") -> str:
    lines = [f"  Skipping link: {line} (from https://pypi.org/simple/x/)" for line in skipped]
    return "\n".join(lines + [f"ERROR: Could not find a version that satisfies the requirement {spec} "
                              f"(from versions: {versions})", f"ERROR: No matching distribution found for {spec}"])


def test_a_package_without_a_usable_wheel_is_named_with_the_reason() -> None:
    sdist_only = pip_failure("docopt", [f"No sources permitted for docopt: {FILES}/docopt-0.6.2.tar.gz"])
    message = explain_download_failure(sdist_only, TARGET, ["docopt"])
    assert message.startswith("cannot install docopt: it has only a source distribution (sdist)")
    assert "--find-links DIR" in message and "\n" not in message
    other_platforms = pip_failure("pywin32", [
        f"none of the wheel's tags (cp311-cp311-win_amd64) are compatible (run pip debug --verbose to show "
        f"compatible tags): {FILES}/pywin32-306-cp311-cp311-win_amd64.whl"])
    message = explain_download_failure(other_platforms, TARGET, ["pywin32"])
    assert "cp311-cp311-win_amd64" in message and "none for the image's Python 3.11.2" in message
    newer_python = pip_failure("newpkg", [f"1.0 Requires-Python >=3.12: {FILES}/newpkg-1.0-py3-none-any.whl"])
    assert "Requires-Python >=3.12" in explain_download_failure(newer_python, TARGET, ["newpkg"])
    assert "no such project" in explain_download_failure(pip_failure("nothing-here", []), TARGET, ["nothing-here"])
    pinned = pip_failure("six==99", [], versions="1.15.0, 1.16.0")
    assert "versions with one: 1.15.0, 1.16.0" in explain_download_failure(pinned, TARGET, ["six==99"])
    dependency = explain_download_failure(sdist_only, TARGET, ["some-cli"])
    assert "docopt (a dependency of what was asked for)" in dependency


def test_probe_says_what_is_missing_and_how_to_fix_it() -> None:
    no_python = ImageProbe("mine:1", "sha256:1")
    assert "has no python3 on its PATH" in no_python.problems()[0]
    old = ImageProbe("mine:1", "sha256:1", python="3.8.10", facts={"version": "3.8.10"})
    assert "needs 3.9 or newer" in old.problems()[0]
    no_pytest = ImageProbe("mine:1", "sha256:1", python="3.12.1",
                           facts={"modules": {"pytest": True, "pytest_timeout": False}})
    assert no_pytest.problems() == []
    (line,) = no_pytest.problems(needs_pytest=True)
    assert "no pytest-timeout" in line and "--base mine:1 --pip pytest,pytest-timeout" in line
    wrapped = ImageProbe("mine:1", "sha256:1", python="3.12.1", entrypoint=("/entry.sh",))
    assert wrapped.problems() == []  # the sandbox sets its own entrypoint


def test_list_summary_pins_what_was_asked_for() -> None:
    image = SandboxImage("t:1", "sha256:x", 1, 0.0, "sortedcontainers, Numpy>=1.24, -r req.txt",
                         "numpy==1.26.4 six==1.16.0 sortedcontainers==2.4.0", "3.11.2", "")
    assert image.summary() == "sortedcontainers==2.4.0, numpy==1.26.4, -r req.txt"


# ---- Docker --------------------------------------------------------------------------------------

def local_wheel(folder: Path) -> Path:
    """A pure-Python wheel on no index (as one built for an sdist-only package would be)."""
    import zipfile
    info = "harness_local_demo-1.0.dist-info"
    files = {"harness_local_demo.py": "VALUE = 42\n",
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: harness-local-demo\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / "harness_local_demo-1.0-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return folder


@pytest.fixture(scope="module")
def packaged_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """IMAGE plus sortedcontainers (--pip), six (--requirements) and a local
    wheel (--find-links); removed afterwards."""
    tag = f"harness-test-packages:{uuid.uuid4().hex[:8]}"
    folder = tmp_path_factory.mktemp("req")
    requirements = folder / "requirements.txt"
    requirements.write_text("# a comment\nsix\n")
    started = time.monotonic()
    proc = harness("sandbox", "build", "--image", IMAGE, "--pip", "sortedcontainers,harness-local-demo",
                   "--requirements", str(requirements), "--find-links", str(local_wheel(folder / "wheels")),
                   "--tag", tag, timeout=300)
    seconds = time.monotonic() - started
    try:
        assert proc.returncode == 0, proc.stderr
        yield tag, seconds
    finally:
        remove_image(tag)


@pytest.fixture(scope="module")
def lacking_images() -> Iterator[dict[str, str]]:
    """Images built on IMAGE without python3, and without pytest-timeout."""
    import docker
    client = docker.from_env()
    suffix = uuid.uuid4().hex[:8]
    recipes = {"no-python": "RUN rm -f /usr/bin/python3* /usr/local/bin/python3*",
               "no-pytest": 'RUN python3 -c "import os, pytest_timeout as m; os.remove(m.__file__)"'}
    tags = {}
    try:
        for name, step in recipes.items():
            tags[name] = f"harness-test-{name}:{suffix}"
            dockerfile = f"FROM {IMAGE}\n{step}\n".encode()
            client.images.build(fileobj=io.BytesIO(dockerfile), tag=tags[name], rm=True, network_mode="none")
        yield tags
    finally:
        for tag in tags.values():
            remove_image(tag)
        client.close()


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_a_candidate_importing_the_package_passes_only_on_the_packaged_image(
        packaged_image: tuple[str, float], tmp_path: Path) -> None:
    tag, build_s = packaged_image
    print(f"built {tag} in {build_s:.1f} s")
    problems = write_jsonl(tmp_path / "problems.jsonl", [PROBLEM])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "sc/0", "solution": IMPORTS_PACKAGE},
                                                        {"task_id": "sc/0", "solution": IMPORTS_LOCAL}])
    outcomes = {}
    for image in (tag, IMAGE):
        out = tmp_path / f"{image.replace(':', '_')}.jsonl"
        proc = harness("evaluate", str(samples), "--problems", str(problems), "--image", image, "--out", str(out),
                       "--quiet", "--no-calibrate", "--workers", "1")
        assert proc.returncode == 0, proc.stderr
        outcomes[image] = [json.loads(line) for line in out.read_text().splitlines()]
        # The image is part of every store key: the second image's run is executed, not answered from the store.
        assert json.loads(proc.stdout.splitlines()[-1])["executed"] == 2
    assert [row["outcome"] for row in outcomes[tag]] == ["passed", "passed"]
    assert [row["outcome"] for row in outcomes[IMAGE]] == ["error", "error"]
    assert "ModuleNotFoundError: No module named 'sortedcontainers'" in outcomes[IMAGE][0]["detail"]
    assert "ModuleNotFoundError: No module named 'harness_local_demo'" in outcomes[IMAGE][1]["detail"]


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_validate_and_curate_run_on_the_packaged_image(packaged_image: tuple[str, float], tmp_path: Path) -> None:
    tag, _ = packaged_image
    reference = dict(PROBLEM, canonical_solution="    from sortedcontainers import SortedSet\n"
                                                 "    return list(SortedSet(xs))\n")
    problems = write_jsonl(tmp_path / "problems.jsonl", [reference])
    assert harness("problems", "validate", str(problems), "--image", tag, "--repeats", "1").returncode == 0
    broken = harness("problems", "validate", str(problems), "--image", IMAGE, "--repeats", "1")
    assert broken.returncode == 1 and "ModuleNotFoundError" in broken.stdout + broken.stderr
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "sc/0", "solution": IMPORTS_PACKAGE}])
    curated = harness("curate", "--samples", str(samples), "--problems", str(problems), "--image", tag,
                      "--out", str(tmp_path / "verified"), "--remeasure", "1", "--quiet")
    assert curated.returncode == 0, curated.stderr
    assert json.loads(curated.stdout.splitlines()[-1])["kept"] == 1
    corpus = tmp_path / "corpus.toml"
    corpus.write_text(f'[corpus]\nout = "built"\n\n[[set]]\nname = "sc"\nproblems = "{problems}"\n'
                      f'samples = "{samples}"\nremeasure = 1\n')
    rebuilt = harness("rebuild", str(corpus), "--image", tag)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads((tmp_path / "built" / "sc" / "train.jsonl").read_text().splitlines()[0])["task_id"] == "sc/0"


@pytest.mark.docker
def test_two_images_give_different_store_keys(packaged_image: tuple[str, float]) -> None:
    from harness.sandbox.docker import DockerBackend
    tag, _ = packaged_image
    identities = [DockerBackend(image=image).identity() for image in (tag, IMAGE)]
    assert identities[0] != identities[1] and all(i.startswith("docker:sha256:") for i in identities)
    spec = {"kind": "check_function", "test": PROBLEM["test"], "entry_point": "sorted_unique"}
    keys = {result_key(IMPORTS_PACKAGE, spec, Limits(), identity) for identity in identities}
    assert len(keys) == 2


@pytest.mark.docker
def test_sandbox_list_shows_the_built_image(packaged_image: tuple[str, float]) -> None:
    tag, _ = packaged_image
    listing = harness("sandbox", "list")
    assert listing.returncode == 0, listing.stderr
    (line,) = [line for line in listing.stdout.splitlines() if line.startswith(tag + " ")]
    assert "sortedcontainers==2.4.0" in line and "-r requirements.txt" in line and " MB " in line
    rows = [json.loads(line) for line in harness("sandbox", "list", "--json").stdout.splitlines()]
    (row,) = [row for row in rows if row["tag"] == tag]
    assert "six==" in row["wheels"] and "harness-local-demo==1.0" in row["wheels"]
    assert row["python"] and row["base"].startswith(IMAGE + "@sha256:")
    assert row["id"].startswith("sha256:") and row["size"] > 0 and row["created"] > 0
    # The install stage is gone: of this build's images, only the image itself is left at the top.
    label = '{{index .Config.Labels "org.harness.build"}}'
    build = subprocess.run(["docker", "image", "inspect", tag, "--format", label],
                           capture_output=True, text=True).stdout.strip()
    top = subprocess.run(["docker", "images", "-q", "--no-trunc", "--filter", f"label=org.harness.build={build}"],
                         capture_output=True, text=True).stdout.split()
    assert build and top == [row["id"]]


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_check_and_runs_say_what_an_image_lacks(lacking_images: dict[str, str], tmp_path: Path) -> None:
    no_python, no_pytest = lacking_images["no-python"], lacking_images["no-pytest"]
    check = harness("sandbox", "check", "--image", no_python)
    assert check.returncode == 3 and "MISSING: image" in check.stdout and "no python3 on its PATH" in check.stdout
    problems = write_jsonl(tmp_path / "problems.jsonl", [PROBLEM])
    samples = write_jsonl(tmp_path / "samples.jsonl", [{"task_id": "sc/0", "solution": PROBLEM["prompt"] +
                                                        PROBLEM["canonical_solution"]}])
    started = time.monotonic()
    run = harness("evaluate", str(samples), "--problems", str(problems), "--image", no_python,
                  "--out", str(tmp_path / "r.jsonl"), "--quiet", timeout=60)
    assert run.returncode == 3 and "no python3" in run.stderr and time.monotonic() - started < 30
    assert len(run.stderr.strip().splitlines()) == 1
    # No pytest-timeout: fine for function problems (bring your own image), said before pytest problems run.
    check = harness("sandbox", "check", "--image", no_pytest)
    assert check.returncode == 0 and "NOTE: image" in check.stdout and "no pytest-timeout" in check.stdout
    assert "runs the sandbox supervisor" in check.stdout
    run = harness("evaluate", str(samples), "--problems", str(problems), "--image", no_pytest,
                  "--out", str(tmp_path / "r.jsonl"), "--quiet", "--no-calibrate")
    assert run.returncode == 0 and json.loads(run.stdout.splitlines()[-1])["outcomes"]["passed"] == 1
    pytest_problems = write_jsonl(tmp_path / "pytest.jsonl", [PYTEST_PROBLEM])
    pytest_samples = write_jsonl(tmp_path / "pt.jsonl", [{"task_id": "pt/0",
                                                          "solution": PYTEST_PROBLEM["reference_solution"]}])
    run = harness("evaluate", str(pytest_samples), "--problems", str(pytest_problems), "--image", no_pytest,
                  "--out", str(tmp_path / "r2.jsonl"), "--quiet")
    assert run.returncode == 3 and "pytest problems need" in run.stderr and "--pip pytest,pytest-timeout" in run.stderr


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_sdist_only_package_fails_in_one_line_naming_it(tmp_path: Path) -> None:
    tag = f"harness-test-sdist:{uuid.uuid4().hex[:8]}"
    proc = harness("sandbox", "build", "--image", IMAGE, "--pip", "docopt", "--tag", tag)
    remove_image(tag)
    assert proc.returncode == 3
    error = [line for line in proc.stderr.splitlines() if line.startswith("harness: error:")]
    assert len(error) == 1 and "cannot install docopt" in error[0] and "source distribution (sdist)" in error[0]
    missing_tag = harness("sandbox", "build", "--pip", "sortedcontainers")
    assert missing_tag.returncode == 2 and "need --tag TAG" in missing_tag.stderr
