"""The sandbox conformance suite: every backend mode must give these verdicts,
resist these forgeries, allow these legitimate programs, and clean up."""

from __future__ import annotations

import importlib.util
import os
import uuid
from dataclasses import replace

import pytest

from harness.limits import Limits
from harness.outcome import Outcome
from harness.sandbox import docker as docker_backend_module
from harness.sandbox.agent import boot_payload
from harness.sandbox.cleanup import count_containers, remove_run_containers
from harness.sandbox.docker import DockerBackend
from harness.sandbox.labels import LABEL_RUN, run_labels
from harness.sandbox.prereqs import docker_client

from .conftest import IMAGE, TEST_LIMITS, open_docker_session
from .sandbox_cases import ADD_SPEC, BASIC, FORGERIES, LEGIT, RIGHT

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def run_one(session, program: str, limits: Limits = TEST_LIMITS):  # type: ignore[no-untyped-def]
    results = session.run("add@test", ADD_SPEC, [program], limits)
    assert len(results) == 1
    return results[0]


@pytest.fixture(scope="module", params=["process", "container"])
def session(request):  # type: ignore[no-untyped-def]
    yield from open_docker_session(TEST_LIMITS, request.param)


@pytest.mark.parametrize("name", sorted(BASIC))
def test_basic_outcomes(session, name: str) -> None:
    program, expected = BASIC[name]
    execution = run_one(session, program)
    assert execution.outcome.value == expected, execution.detail
    assert run_one(session, RIGHT).outcome is Outcome.PASSED  # the next candidate is unaffected


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgeries_never_pass(session, name: str) -> None:
    program, expected = FORGERIES[name]
    execution = run_one(session, program)
    assert execution.outcome is not Outcome.PASSED
    assert execution.outcome.value == expected, execution.detail
    assert run_one(session, RIGHT).outcome is Outcome.PASSED


@pytest.mark.parametrize("name", sorted(LEGIT))
def test_legitimate_programs_pass(session, name: str) -> None:
    program, expected = LEGIT[name]
    execution = run_one(session, program)
    assert execution.outcome.value == expected, execution.detail


def test_measurements(session) -> None:
    fast = run_one(session, RIGHT)
    assert 0 < fast.cpu_time_s < 0.5
    assert fast.wall_time_s > 0
    assert fast.peak_memory_bytes > 1 << 20
    slow = run_one(session, "def add(a, b):\n    s = 0\n    for i in range(3_000_000):\n        s += i\n"
                            "    return a + b\n")
    assert slow.outcome is Outcome.PASSED
    assert slow.cpu_time_s > fast.cpu_time_s * 5
    big = run_one(session, "def add(a, b):\n    x = bytearray(64 << 20)\n    return a + b\n")
    assert big.peak_memory_bytes > 64 << 20


def test_cpu_limit_is_cpu_time_not_wall_time(session) -> None:
    timeout = run_one(session, BASIC["cpu_loop"][0])
    assert timeout.outcome is Outcome.TIMEOUT
    assert TEST_LIMITS.cpu_time_s <= timeout.cpu_time_s < TEST_LIMITS.cpu_time_s + 0.5
    assert "CPU" in timeout.detail
    sleeper = run_one(session, BASIC["sleeps"][0])
    assert sleeper.outcome is Outcome.TIMEOUT and "wall" in sleeper.detail
    assert sleeper.cpu_time_s < 0.5


def test_orphaned_daemon_is_killed(session) -> None:
    daemon = ("import os, time\n"
              "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(600)\n    os._exit(0)\n"
              + RIGHT)
    assert run_one(session, daemon).outcome is Outcome.PASSED
    lonely = ("import os\n"
              "others = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()\n"
              "          and os.stat('/proc/' + p).st_uid == os.getuid()]\n"
              "def add(a, b):\n    return a + b if not others else others\n")
    assert run_one(session, lonely).outcome is Outcome.PASSED


def test_batch_runs_in_order(session) -> None:
    programs = [RIGHT, BASIC["wrong"][0], BASIC["syntax"][0], RIGHT]
    outcomes = [e.outcome.value for e in session.run("add@test", ADD_SPEC, programs, TEST_LIMITS)]
    assert outcomes == ["passed", "failed", "syntax_error", "passed"]


def test_no_container_left_after_close() -> None:
    backend = DockerBackend(image=IMAGE)
    session = backend.open_session(TEST_LIMITS)
    assert run_one(session, RIGHT).passed
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 1
    session.close()
    backend.close()
    assert count_containers(f"{LABEL_RUN}={backend.run_id}") == 0


def test_prepared_containers_are_the_sessions_and_none_is_left() -> None:
    """``prepare`` boots containers while the host reads its inputs: the
    sessions take them (no third is started) and close removes all, also
    one that no session took."""
    backend = DockerBackend(image=IMAGE)
    label = f"{LABEL_RUN}={backend.run_id}"
    try:
        backend.prepare(TEST_LIMITS, 2)
        session = backend.open_session(TEST_LIMITS)
        assert run_one(session, RIGHT).passed
        assert count_containers(label) == 2
        session.close()
        assert count_containers(label) == 1  # the one nobody took
    finally:
        backend.close()
    assert count_containers(label) == 0


def test_candidate_cannot_read_the_tests_from_its_memory(session) -> None:
    from .sandbox_cases import MEMORY_THIEF, SECRET_SPEC
    honest = session.run("secret@test", SECRET_SPEC, ["def answer():\n    return 'SECRET-4f1c9a'\n"], TEST_LIMITS)
    assert honest[0].outcome is Outcome.PASSED
    thief = session.run("secret@test", SECRET_SPEC, [MEMORY_THIEF], TEST_LIMITS)
    assert thief[0].outcome is Outcome.FAILED, thief[0].detail


def test_control_flow_exceptions_cannot_end_a_test_loop(session) -> None:
    spec = dict(ADD_SPEC, test="def check(candidate):\n"
                               "    cases = [((1, 2), 3), ((2, 2), 4)]\n"
                               "    assert all(map(lambda c: candidate(*c[0]) == c[1], cases))\n")
    stopper = "def add(a, b):\n    raise StopIteration\n"
    assert session.run("add@stop", spec, [stopper], TEST_LIMITS)[0].outcome is Outcome.ERROR


def test_odd_deaths_are_the_candidates_own_errors(session) -> None:
    realtime = "import os\ndef add(a, b):\n    os.kill(os.getpid(), 40)\n"
    assert run_one(session, realtime).outcome is Outcome.ERROR
    surrogate = "def add(a, b):\n    raise ValueError('\\ud800')\n"
    assert run_one(session, surrogate).outcome is Outcome.ERROR


def test_sysv_ipc_cannot_hold_memory_across_candidates(session) -> None:
    hog = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
           "shmid = libc.shmget(0, 200 << 20, 0o1000 | 0o600)\n"
           "def add(a, b):\n    return a + b if shmid == -1 else 'segment created'\n")
    assert run_one(session, hog).outcome is Outcome.PASSED  # creating the segment failed
    assert run_one(session, "def add(a, b):\n    x = bytearray(120 << 20)\n    return a + b\n").passed


def test_killed_candidates_do_not_cost_the_container() -> None:
    """A timeout, a memory kill or a fork bomb is killed and swept, and the
    warm container serves the next candidate; only a sandbox that could not
    be verified clean is retired."""
    backend = DockerBackend(image=IMAGE)
    session = backend.open_session(TEST_LIMITS)
    try:
        assert run_one(session, RIGHT).passed
        container = session.current.container.id  # type: ignore[attr-defined]
        for name in ("cpu_loop", "sleeps", "memory_bomb", "fork_bomb"):
            program, expected = BASIC.get(name) or FORGERIES[name]
            assert run_one(session, program).outcome.value == expected
            after = run_one(session, RIGHT)
            assert after.passed, (name, after.detail)
            assert session.current.container.id == container, name  # type: ignore[attr-defined]
    finally:
        session.close()
        backend.close()



@pytest.mark.parametrize("python", ["same as the host's", "another"])
def test_agent_boots_from_bytecode_or_from_source(python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's bytecode runs where the sandbox's Python has the host's
    magic; any other Python (a bring-your-own image) compiles the source."""
    magic = b"\0\0\0\0" if python == "another" else importlib.util.MAGIC_NUMBER  # no Python has 0000
    monkeypatch.setattr(docker_backend_module, "boot_payload", lambda: boot_payload(magic))
    backend = DockerBackend(image=IMAGE)
    session = backend.open_session(TEST_LIMITS)
    try:
        assert run_one(session, RIGHT).passed
        assert run_one(session, "def add(a, b):\n    return a - b\n").outcome is Outcome.FAILED
    finally:
        session.close()
        backend.close()


SPIN_ONCE = ("import time\n_spun = []\n"
             "def add(a, b):\n"
             "    if not _spun:  # 0.8 s of CPU, once\n"
             "        _spun.append(time.process_time())\n"
             "        while time.process_time() - _spun[0] < 0.8:\n"
             "            pass\n"
             "    return a + b\n")
# Two spinning processes a container, for at most 60 s whatever happens to the test.
HOG = "import os, time\nos.fork()\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"


def test_the_wall_limit_does_not_count_time_a_loaded_machine_took(session) -> None:  # type: ignore[no-untyped-def]
    """With the machine's cores shared by busy containers, a candidate
    that computes for 0.8 s of CPU needs well over its 1.5 s wall limit:
    the time it waited for a CPU is not held against it.  A sleeper under
    the same load is still cut, within 3x the limit."""
    cores = os.cpu_count() or 2
    if cores > 8:
        pytest.skip(f"{cores} cores: loading them all would take {2 * cores + 1} busy containers")
    limits = replace(TEST_LIMITS, cpu_time_s=3.0, wall_time_s=1.5)
    run_id = uuid.uuid4().hex[:12]
    client = docker_client()
    try:
        for _ in range(2 * cores + 1):  # the sandbox's share of the cores: under half of one
            client.containers.run(IMAGE, ["python3", "-c", HOG], detach=True, network_mode="none",
                                  labels=run_labels(run_id), auto_remove=True)
        computes = run_one(session, SPIN_ONCE, limits)
        sleeps = run_one(session, BASIC["sleeps"][0], limits)
    finally:
        remove_run_containers(run_id)
        client.close()
    assert computes.passed, computes.detail
    assert computes.wall_time_s > limits.wall_time_s  # it was starved: a plain wall limit would have cut it
    assert sleeps.outcome is Outcome.TIMEOUT and "wall-clock" in sleeps.detail
    assert sleeps.wall_time_s < 3 * limits.wall_time_s + 1.5
