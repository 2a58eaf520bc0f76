"""The tool as users install it: the sdist and wheel from `python -m build`,
a fresh venv outside the checkout, and the tool image of
scripts/tool-image.sh rebuilding examples/corpus.toml against the host's
engine, exactly as the README's CI section and examples/ run it."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.sandbox.prereqs import DEFAULT_IMAGE

from .conftest import IMAGE

ROOT = Path(__file__).resolve().parents[1]
TOOL_IMAGE = "harness:latest"  # the script's default, as the README runs it
SOCKET = "/var/run/docker.sock"
UID = 1234  # not root, not the invoking user: ownership of what the image writes is checked
SAMPLES = "problems/samples/humaneval_gpt35_n10.jsonl.gz"


def run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv[:4]} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def test_sdist_and_wheel_carry_the_bundled_files_and_pass_twine(dist: Path) -> None:
    (wheel,) = dist.glob("harness-*.whl")
    (sdist,) = dist.glob("harness-*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in [*ROOT.glob("problems/*.gz"), *ROOT.glob("problems/*.json*"), *ROOT.glob("problems/samples/*"),
                   *ROOT.glob("sandboxes/*/*")]:
        assert f"harness/data/{source.relative_to(ROOT)}" in names, source
    assert {"harness/sandbox/agent/judge.py", "harness/report_assets/vendor/chart.umd.min.js"} <= names
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert {"problems/humaneval.jsonl.gz", "sandboxes/python/Dockerfile", "pyproject.toml"} <= members
    check = run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    assert check.stdout.count("PASSED") == 2, check.stdout


def ci_commands() -> list[str]:
    """The GitLab example's script: the tool image, then `docker run` commands."""
    import yaml  # a dependency of datasets
    doc = yaml.safe_load((ROOT / "examples" / "rebuild-corpus.gitlab-ci.yml").read_text())
    return [str(line) for line in doc["rebuild-corpus"]["script"]]


def test_ci_examples_and_readme_show_the_commands_the_tests_run() -> None:
    import yaml
    commands = ci_commands()
    assert commands[0] == "scripts/tool-image.sh" and len(commands) == 3
    assert commands[1].endswith(f"{TOOL_IMAGE} sandbox build")
    assert commands[2].endswith(f"{TOOL_IMAGE} rebuild examples/corpus.toml")
    workflow = yaml.safe_load((ROOT / "examples" / "rebuild-corpus.yml").read_text())
    steps = [step["run"].strip() for step in workflow["jobs"]["rebuild"]["steps"] if "run" in step]
    assert steps == commands
    readme = (ROOT / "README.md").read_text()
    assert all(command in readme for command in commands)


@pytest.fixture(scope="module")
def tool_image() -> str:
    """Built as CI builds it: the examples' first command, from the checkout."""
    proc = run("bash", "-c", ci_commands()[0], cwd=ROOT)
    assert proc.stdout.strip() == TOOL_IMAGE
    return TOOL_IMAGE


def _clean_env() -> dict[str, str]:
    """No checkout on the path, no data-folder overrides: what a user's shell has."""
    drop = ("PYTHONPATH", "HARNESS_PROBLEMS", "HARNESS_SANDBOXES", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _small_samples(path: Path, n: int) -> Path:
    with gzip.open(ROOT / SAMPLES, "rt") as f:
        path.write_text("".join(line for _, line in zip(range(n), f, strict=False)))
    return path


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_wheel_in_a_fresh_venv_outside_the_checkout(dist: Path, tmp_path: Path) -> None:
    """The wheel alone: bundled sets found, the sandbox image built and a run judged
    from a venv that has never seen the checkout."""
    (wheel,) = dist.glob("harness-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel)
    env = _clean_env()
    work = tmp_path / "work"
    work.mkdir()
    where = run(venv / "bin" / "python", "-c", "import harness.resources as r; print(r.data_dir('problems'))",
                cwd=work, env=env).stdout.strip()
    assert where.startswith(str(venv)), where
    listing = run(venv / "bin" / "harness", "problems", "list", cwd=work, env=env).stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in listing.splitlines()}
    assert counts["humaneval"] == 164 and counts["mbpp"] == 427 and all(counts.values()), listing
    run(venv / "bin" / "harness", "sandbox", "build", "--image", IMAGE, cwd=work, env=env)
    samples = _small_samples(work / "samples.jsonl", 20)
    run(venv / "bin" / "harness", "evaluate", samples, "--no-cache", "--image", IMAGE, "--out", "results.jsonl",
        "--summary-json", "summary.json", "--quiet", cwd=work, env=env)
    rows = [json.loads(line) for line in (work / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and {row["outcome"] for row in rows} <= {"passed", "failed"}
    assert json.loads((work / "summary.json").read_text())["pass_at_k"]["1"] > 0


def _docker_run(folder: Path, command: str, *, socket: bool = True,
                sandbox_image: bool = True) -> subprocess.CompletedProcess[str]:
    """A `docker run` line of the examples, run by bash in `folder` as an unprivileged
    user in the socket's group (as a CI runner's user is), so `$(id -u)` is not root."""
    if sandbox_image and "HARNESS_IMAGE" in os.environ:  # a non-default sandbox image under test
        command = command.replace("docker run --rm", f"docker run --rm -e HARNESS_IMAGE={IMAGE}", 1)
    if not socket:
        command = command.replace(f"-v {SOCKET}:{SOCKET} ", "")
    group = os.stat(SOCKET).st_gid
    return run("setpriv", f"--reuid={UID}", f"--regid={UID}", f"--groups={group}", "bash", "-c", command,
               cwd=folder, env={**_clean_env(), "HOME": "/tmp"}, check=False)


def _with_args(command: str, args: str) -> str:
    """The examples' `docker run` line with other harness arguments."""
    return command[:command.index(TOOL_IMAGE) + len(TOOL_IMAGE)] + " " + args


def _containers() -> set[str]:
    return set(run("docker", "ps", "-aq", "--no-trunc").stdout.split())


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "run.json"}


@pytest.fixture
def ci_folder(tmp_path: Path) -> Path:
    """A repository as CI checks it out: the corpus file and the samples it names."""
    folder = tmp_path / "repo"
    for relative in ("examples/corpus.toml", SAMPLES):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, folder / relative)
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, UID, UID)
    return folder


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_tool_image_rebuilds_the_example_corpus_against_the_host_engine(tool_image: str, ci_folder: Path) -> None:
    rebuild = ci_commands()[2]
    before = _containers()

    first = _docker_run(ci_folder, rebuild)
    assert first.returncode == 0, first.stderr[-3000:]
    corpus = ci_folder / "corpus"
    run_json = json.loads((corpus / "run.json").read_text())
    assert run_json["executed"] > 0 and run_json["failed_gates"] == []
    humaneval = run_json["sets"]["humaneval"]
    assert humaneval["kept"] > 100 and humaneval["pass_at_1"] > 0.6, run_json
    rows = (corpus / "humaneval" / "train.jsonl").read_text().splitlines()
    assert len(rows) == humaneval["kept"] and json.loads(rows[0])["messages"]
    written = [*corpus.rglob("*"), *(ci_folder / ".harness").rglob("*")]
    assert written and all(p.stat().st_uid == UID for p in written), "files written as root"
    assert (ci_folder / ".harness" / "results.sqlite3").is_file()
    assert b"Chart.js" in (corpus / "report.html").read_bytes()  # the report CI keeps with the corpus

    digest = _digest(corpus)
    second = _docker_run(ci_folder, rebuild)
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads((corpus / "run.json").read_text())
    assert again["executed"] == 0 and again["cached"] == run_json["executed"] + run_json["cached"]
    assert _digest(corpus) == digest

    strict = ci_folder / "examples" / "strict.toml"
    strict.write_text((ci_folder / "examples" / "corpus.toml").read_text()
                      .replace("min_pass_at_1 = 0.6", "min_pass_at_1 = 0.99"))
    os.chown(strict, UID, UID)
    failed = _docker_run(ci_folder, rebuild.replace("examples/corpus.toml", "examples/strict.toml"))
    assert failed.returncode == 4, (failed.returncode, failed.stderr[-2000:])
    assert "pass@1" in failed.stderr

    unreachable = _docker_run(ci_folder, rebuild, socket=False)
    assert unreachable.returncode == 3
    (line,) = unreachable.stderr.strip().splitlines()
    assert "not reachable" in line and "/var/run/docker.sock" in line, line

    assert _containers() == before, "containers left behind"


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_tool_image_builds_the_sandbox_evaluates_and_curates(tool_image: str, ci_folder: Path) -> None:
    before = _containers()
    image_id = run("docker", "image", "inspect", "--format", "{{.Id}}", DEFAULT_IMAGE).stdout.strip()
    # no registry here: the offline path, on the base the tool image was built from
    built = _docker_run(ci_folder, ci_commands()[1], sandbox_image=False)
    assert built.returncode == 0, built.stderr[-2000:]
    # the recipe inside the wheel is the checkout's: the same layers, the same image
    assert run("docker", "image", "inspect", "--format", "{{.Id}}", DEFAULT_IMAGE).stdout.strip() == image_id

    samples = _small_samples(ci_folder / "small.jsonl", 30)
    os.chown(samples, UID, UID)
    evaluate = "evaluate small.jsonl --no-cache --out results.jsonl --quiet"
    evaluated = _docker_run(ci_folder, _with_args(ci_commands()[2], evaluate))
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    rows = [json.loads(line) for line in (ci_folder / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and sum(row["outcome"] == "passed" for row in rows) > 10

    curated = _docker_run(ci_folder, _with_args(ci_commands()[2], "curate --samples small.jsonl --out curated "
                                                "--cache .harness/curate.sqlite3 --remeasure 1 --quiet"))
    assert curated.returncode == 0, curated.stderr[-2000:]
    assert (ci_folder / "curated" / "train.jsonl").read_text().count("\n") >= 1
    assert (ci_folder / "curated" / "report.html").is_file()
    assert (ci_folder / "curated").stat().st_uid == UID
    assert _containers() == before, "containers left behind"
