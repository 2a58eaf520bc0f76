"""Shared fixtures.  Tests marked ``docker`` use the real engine and the real
sandbox image; where either is missing they are skipped with the reason, or,
with HARNESS_REQUIRE_DOCKER=1 (CI sets it), they fail instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from harness.limits import Limits
from harness.problems import CodeField, Problem
from harness.run import Execution
from harness.sandbox.prereqs import DEFAULT_IMAGE, check_docker

IMAGE = os.environ.get("HARNESS_IMAGE", DEFAULT_IMAGE)
_missing: list[str] | None = None


def docker_missing() -> list[str]:
    global _missing
    if _missing is None:
        _missing = check_docker(IMAGE)
    return _missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_items = [item for item in items if "docker" in item.keywords]
    if not docker_items or not docker_missing():
        return
    reason = "no Docker sandbox: " + "; ".join(docker_missing())
    if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
        pytest.exit(f"HARNESS_REQUIRE_DOCKER=1 but {reason}", returncode=3)
    for item in docker_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Calibration and the result store of this test session only (also for
    the harness processes the tests start)."""
    previous = os.environ.get("HARNESS_CACHE")
    os.environ["HARNESS_CACHE"] = str(tmp_path_factory.mktemp("harness-cache"))
    yield
    if previous is None:
        os.environ.pop("HARNESS_CACHE", None)
    else:
        os.environ["HARNESS_CACHE"] = previous


def language_image(name: str) -> str:
    """The sandbox image of a compiled language, or a skip (a failure with
    HARNESS_REQUIRE_DOCKER=1) when it was not built."""
    from harness.languages import language
    image = language(name).image
    missing = check_docker(image)
    if missing:
        reason = f"no {name} sandbox image ({'; '.join(missing)}): `harness sandbox build --languages {name}`"
        if os.environ.get("HARNESS_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return image


TEST_LIMITS = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_bytes=256 << 20, output_bytes=1 << 20)


def open_docker_session(limits: Limits, isolation: str = "process") -> Iterator[object]:
    """A session on a backend of its own, both closed (containers removed) after."""
    from harness.sandbox.docker import DockerBackend
    backend = DockerBackend(image=IMAGE, isolation=isolation, prefetch=2)
    session = backend.open_session(limits)
    try:
        yield session
    finally:
        session.close()
        backend.close()


@pytest.fixture(scope="session")
def docker_backend() -> Iterator[object]:
    from harness.sandbox.docker import DockerBackend
    backend = DockerBackend(image=IMAGE, isolation="process")
    yield backend
    backend.close()


def check_pack_sample(set_name: str, language: str, task_ids: tuple[str, ...]) -> None:
    """HumanEvalPack's canonical solution of each task passes and its buggy
    one neither passes nor is an infra_error, in one warm container of the
    language's image."""
    import gzip
    import json

    from harness.problems import CodeField, load_problems
    from harness.resources import data_dir
    from harness.sandbox.docker import DockerBackend
    problems = load_problems(set_name)
    path = data_dir("problems") / f"{set_name}.jsonl.gz"
    rows = {row["task_id"]: row for row in map(json.loads, gzip.open(path, "rt"))}
    limits = Limits(cpu_time_s=3.0, wall_time_s=10.0)
    backend = DockerBackend(image=language_image(language))
    try:
        with backend.open_session(limits) as session:
            for task_id in task_ids:
                problem = problems.get(task_id)
                assert problem is not None
                programs = [problem.program(rows[task_id][field], CodeField.COMPLETION)
                            for field in ("canonical_solution", "buggy_solution")]
                right, buggy = session.run(task_id, problem.test_spec(), programs, limits)
                assert right.outcome.value == "passed", (task_id, right.detail)
                assert buggy.outcome.value not in ("passed", "infra_error"), (task_id, buggy.detail)
    finally:
        backend.close()


def run_all(problem: Problem, programs: list[str], limits: Limits, session: object) -> list[Execution]:
    """Every program judged, across containers: a retired container leaves
    the rest of a batch to the next one."""
    done: list[Execution] = []
    while len(done) < len(programs):
        done += session.run(problem.id, problem.test_spec(), programs[len(done):], limits)  # type: ignore[attr-defined]
    return done


Layout = tuple[str, Problem, CodeField, dict[str, str]]  # name, problem, what the programs are, case -> program


def layout_verdicts(language: str, limits: Limits,
                    layouts: list[Layout]) -> Iterator[dict[tuple[str, str], tuple[str, str]]]:
    """(layout, case) -> (outcome, detail) for each layout's cases (name ->
    program or completion), all in one warm container of the language's
    image; afterwards, no container is left.  A generator, for fixtures."""
    from harness.sandbox.cleanup import count_containers
    from harness.sandbox.docker import DockerBackend
    from harness.sandbox.labels import LABEL_RUN
    backend = DockerBackend(image=language_image(language))
    found: dict[tuple[str, str], tuple[str, str]] = {}
    try:
        with backend.open_session(limits) as session:
            for layout, problem, field, cases in layouts:
                names = list(cases)
                programs = [problem.program(cases[name], field) for name in names]
                for name, ex in zip(names, run_all(problem, programs, limits, session), strict=True):
                    found[(layout, name)] = (ex.outcome.value, ex.detail)
        yield found
    finally:
        backend.close()
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0


SumPrograms = dict[str, tuple[str, str, list[str]]]  # name -> (program, outcome, per-case outcomes)


def check_stdin_programs(language: str, cases: list[dict[str, str]], programs: SumPrograms, limits: Limits,
                         isolation: str = "process") -> dict[str, Execution]:
    """Each stdin/stdout program gets its outcome and per-case outcomes, in
    the language's image; afterwards, no container is left.  Returns the
    executions by name, for checks of the details."""
    from harness.problems import parse_problem
    from harness.sandbox.cleanup import count_containers
    from harness.sandbox.docker import DockerBackend
    from harness.sandbox.labels import LABEL_RUN
    problem = parse_problem({"task_id": "sum-" + language, "language": language, "test_kind": "stdin_stdout",
                             "test_cases": cases, "compare": "tokens"}, f"{language} stdin cases")
    backend = DockerBackend(image=language_image(language), isolation=isolation)
    names = list(programs)
    try:
        with backend.open_session(limits) as session:
            done = run_all(problem, [programs[name][0] for name in names], limits, session)
    finally:
        backend.close()
    for name, execution in zip(names, done, strict=True):
        _, outcome, per_case = programs[name]
        assert (name, execution.outcome.value) == (name, outcome), execution.detail
        assert list(execution.test_outcomes) == per_case
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0
    return dict(zip(names, done, strict=True))
