"""Issue 14, the red-team findings, each reproduced against the real Docker
engine through the public Session API: forged passes, cross-candidate
channels in a warm container, lenient comparisons, wrong answers that turn
into ``infra_error``, and false fails of correct programs.

A ``Session.run`` that raises ``InfraError`` is read here as an execution
with outcome ``infra_error`` (what the engine records after its retries), so
that every test can assert on one outcome value."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Mapping

import pytest

from harness.errors import InfraError
from harness.limits import Limits
from harness.outcome import Execution, Outcome
from harness.problems import CodeField, load_problems, parse_problem
from harness.sandbox import docker as docker_backend

from .conftest import open_docker_session
from .sandbox_cases import ADD_SPEC, LEGIT_FUNCTIONS, LEGIT_SCRIPTS, RIGHT, SECRET_SPEC, SUM_SPEC

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]
LIMITS = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_bytes=256 << 20, output_bytes=1 << 20)
VERDICTS_OF_A_WRONG_ANSWER = ("failed", "error")


def key_of(name: str, spec: Mapping[str, Any]) -> str:
    """A problem key per distinct spec: a warm container caches specs by key."""
    return "%s@%s" % (name, hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10])


def run(session, spec: Mapping[str, Any], program: str,  # type: ignore[no-untyped-def]
        limits: Limits = LIMITS, name: str = "p") -> Execution:
    return run_batch(session, spec, [program], limits, name)[0]


def run_batch(session, spec: Mapping[str, Any], programs: list[str],  # type: ignore[no-untyped-def]
              limits: Limits = LIMITS, name: str = "p") -> list[Execution]:
    """Runs programs in order.  When the session raises InfraError, the
    program it was running gets an ``infra_error`` execution and the rest run
    on (the session has replaced its sandbox)."""
    done: list[Execution] = []
    while len(done) < len(programs):
        try:
            done += session.run(key_of(name, spec), dict(spec), programs[len(done):], limits)
        except InfraError as exc:
            done += exc.completed
            done.append(Execution.infra(str(exc)))
    return done


@pytest.fixture(scope="module", params=["process", "container"])
def session(request):  # type: ignore[no-untyped-def]
    yield from open_docker_session(LIMITS, request.param)


@pytest.fixture
def fresh_warm_session():  # type: ignore[no-untyped-def]
    """A warm container of this test's own: nothing else has run in it."""
    yield from open_docker_session(LIMITS, "process")


def show(execution: Execution) -> str:
    return "%s: %s %s" % (execution.outcome.value, execution.detail, list(execution.test_outcomes))


# ------------------------------------------------------------ forged passes ---

# Prints the first case's answer and leaves a directory its own uid cannot
# empty: the cleaner fails, the batch stops, the other cases are "skipped".
UNCLEANABLE = "import os\nos.makedirs('t/x')\nos.chmod('t', 0o500)\n"


# Issue 14 (red on 2163e6c): after a cleanup anomaly the remaining cases are skipped and the verdict is still passed
def test_stdin_cutoff_by_uncleanable_dir_is_not_a_pass(session) -> None:
    execution = run(session, SUM_SPEC, "input()\nprint(3)\n" + UNCLEANABLE, name="sum")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# Issue 14 (red on 2163e6c): after a cleanup anomaly the remaining cases are skipped and the verdict is still passed
def test_stdin_cutoff_on_apps_2287_is_not_a_pass(session) -> None:
    problem = load_problems("apps_train5").get("2287")
    assert problem is not None and len(problem.cases) == 3
    reference = run(session, problem.test_spec(), problem.program(problem.reference_solution, CodeField.SOLUTION),
                    name="apps2287")
    assert reference.outcome is Outcome.PASSED, show(reference)
    forger = problem.program("print('Yes\\n5\\n6\\n6\\n5\\n7')\n" + UNCLEANABLE, CodeField.SOLUTION)
    execution = run(session, problem.test_spec(), forger, name="apps2287")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# An earlier candidate's program, found in the memory every candidate
# inherits from the process that forks them, and run.  ctypes reads the
# candidate's own anonymous and [heap] mappings (no /proc/self/mem needed);
# the program may be there as decoded text or still JSON-escaped.
PEER = "# peer-solution-7d2e\ndef answer():\n    return 'SECRET-' + format(0x4f1c9a, 'x')\n"
HEAP_THIEF = r'''
import ctypes, json, re
MARK = "".join(["# peer", "-solution", "-7d2e"])
FORMS = [(re.compile(re.escape((MARK + "\n").encode()) + rb"[^\0]{0,8192}"), bytes.decode),
         (re.compile(re.escape((MARK + "\\n").encode()) + rb'(?:[^"\\\0]|\\.){0,8192}'),
          lambda text: json.loads(b'"' + text + b'"'))]

def steal():
    with open("/proc/self/maps") as maps:
        lines = maps.read().splitlines()
    for line in lines:
        parts = line.split()
        start, end = (int(x, 16) for x in parts[0].split("-"))
        path = parts[5] if len(parts) > 5 else ""
        if not parts[1].startswith("rw") or path not in ("", "[heap]") or end - start > 256 << 20:
            continue
        view = (ctypes.c_char * (end - start)).from_address(start)
        for pattern, decode in FORMS:
            for match in pattern.finditer(view):
                try:
                    namespace = {}
                    exec(compile(decode(match.group(0)), "stolen", "exec"), namespace)
                except BaseException:
                    continue
                if callable(namespace.get("answer")):
                    return namespace["answer"]
    return None

STOLEN = steal()

def answer():
    return STOLEN() if STOLEN else "nothing found"
'''


# Issue 14 (red on 2163e6c): the zygote's heap keeps earlier candidates' programs; a later candidate finds and runs one
def test_candidate_cannot_steal_an_earlier_program_from_its_heap(fresh_warm_session) -> None:
    alone = run(fresh_warm_session, SECRET_SPEC, HEAP_THIEF, name="secret")
    assert alone.outcome is Outcome.FAILED, show(alone)  # nothing to steal yet: it cannot compute the answer
    assert run(fresh_warm_session, SECRET_SPEC, PEER, name="secret").outcome is Outcome.PASSED
    after_peer = run(fresh_warm_session, SECRET_SPEC, HEAP_THIEF, name="secret")
    assert after_peer.outcome is Outcome.FAILED, show(after_peer)


DOUBLE_SPEC = {
    "kind": "check_function",
    "setup": "def double(x):\n    \"\"\"Return 2 * x; raise ValueError when x is negative.\"\"\"\n",
    "test": (
        "def check(candidate):\n"
        "    assert candidate(1) == 2\n"
        "    assert candidate(21) == 42\n"
        "    try:\n"
        "        candidate(-1)\n"
        "    except Exception:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError('a negative input must raise')\n"
    ),
    "entry_point": "double",
    "check_function": "check",
}


# Issue 14 (red on 2163e6c): CandidateGone is an Exception: `except Exception:` in the tests
# swallows the candidate's exit
def test_exit_inside_a_call_cannot_be_swallowed_by_the_tests(session) -> None:
    right = "def double(x):\n    if x < 0:\n        raise ValueError(x)\n    return 2 * x\n"
    assert run(session, DOUBLE_SPEC, right, name="double").outcome is Outcome.PASSED
    exits = "import os\ndef double(x):\n    if x < 0:\n        os._exit(0)\n    return 2 * x\n"
    execution = run(session, DOUBLE_SPEC, exits, name="double")
    assert execution.outcome is Outcome.ERROR, show(execution)


# --------------------------------------- cross-candidate channels (process) ---

def value_spec(value: Any) -> dict[str, Any]:
    """A problem whose answer, ``leak() == value``, no program can know: a
    deterministic program passes it for at most one value, unless an earlier
    candidate told it."""
    return {"kind": "check_function", "setup": "def leak():\n    \"\"\"?\"\"\"\n",
            "test": "def check(candidate):\n    assert candidate() == %r\n" % (value,),
            "entry_point": "leak", "check_function": "check"}


# Candidate A moves the pid counter (short-lived threads) until its last TID
# is 32 * value (mod 512); candidate B, next, reads value off its own pid.
PID_SENDER = ("import threading\n"
              "def steer(target):\n"
              "    for _ in range(2048):\n"
              "        t = threading.Thread(target=int)\n"
              "        t.start()\n"
              "        tid = t.native_id\n"
              "        t.join()\n"
              "        if tid % 512 == target:\n"
              "            return\n"
              "steer(32 * {value})\n"
              "def leak():\n    return None\n")
PID_RECEIVER = "import os\ndef leak():\n    return os.getpid() % 512 // 32\n"

# Candidate A makes the judge hold a big result (its VmHWM rises); candidate B
# reads the judge's /proc/<pid>/status.
HWM_SENDER = "def leak():\n    return bytes({size})\n"
HWM_RECEIVER = ("import os\n"
                "def leak():\n"
                "    peak = 0\n"
                "    for pid in os.listdir('/proc'):\n"
                "        try:\n"
                "            if not pid.isdigit() or os.stat('/proc/' + pid).st_uid in (0, os.getuid()):\n"
                "                continue\n"
                "            for line in open('/proc/%s/status' % pid):\n"
                "                if line.startswith('VmHWM:'):\n"
                "                    peak = max(peak, int(line.split()[1]))\n"
                "        except (OSError, ValueError):\n"
                "            pass\n"
                "    return peak > 50 * 1024\n")

CHANNELS = {
    # name -> ((value, sender), (value, sender)): the same receiver must not
    # pass both problems
    "pid_counter": ((5, PID_SENDER.format(value=5)), (11, PID_SENDER.format(value=11))),
    "judge_vmhwm": ((True, HWM_SENDER.format(size=32 << 20)), (False, HWM_SENDER.format(size=16))),
}
RECEIVERS = {"pid_counter": PID_RECEIVER, "judge_vmhwm": HWM_RECEIVER}


# A warm container shares kernel counters between its candidates: pid
# namespaces and a private /proc need CAP_SYS_ADMIN, which the container
# will not get.  Two colluding candidates can therefore signal each other in
# ``--isolation process``; a container per candidate closes the channels, and
# the store keeps the two isolation levels' verdicts apart (README: trust model).
WARM_CHANNELS = pytest.mark.xfail(strict=True, reason="documented: covert channels between colluding candidates "
                                  "in one warm container; --isolation container closes them")


@pytest.fixture(params=[pytest.param("process", marks=WARM_CHANNELS), "container"])
def own_session(request):  # type: ignore[no-untyped-def]
    """A session of this test's own: nothing else has run in its sandboxes."""
    yield from open_docker_session(LIMITS, request.param)


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_no_channel_between_consecutive_candidates(own_session, channel: str) -> None:
    receiver = RECEIVERS[channel]
    verdicts = []
    for value, sender in CHANNELS[channel]:
        sent, received = run_batch(own_session, value_spec(value), [sender, receiver], name=channel)
        assert sent.outcome is Outcome.FAILED, show(sent)
        verdicts.append(received.outcome.value)
    # One program, two problems with different answers: it can be right about at most one.
    assert verdicts.count("passed") <= 1, verdicts


PROC_SNOOP = ("import os\n"
              "def visible():\n"
              "    seen = set()\n"
              "    for pid in os.listdir('/proc'):\n"
              "        if not pid.isdigit():\n"
              "            continue\n"
              "        try:\n"
              "            if os.stat('/proc/' + pid).st_uid == os.getuid():\n"
              "                continue\n"
              "        except OSError:\n"
              "            continue\n"
              "        for entry in ('environ', 'mem', 'maps', 'fd', 'cwd/.', 'root/.', 'stack', 'syscall'):\n"
              "            try:\n"
              "                path = '/proc/%s/%s' % (pid, entry)\n"
              "                os.listdir(path) if entry in ('fd', 'cwd/.', 'root/.') else open(path, 'rb').read(1)\n"
              "                seen.add(entry)\n"
              "            except OSError:\n"
              "                pass\n"
              "    return sorted(seen)\n")


def test_other_processes_memory_files_and_environment_are_closed(session) -> None:
    """What other uids' /proc entries could leak (tests, programs, fds) is
    closed to the candidate in both modes; their counters (status) are not:
    that is the documented warm-container channel above."""
    spec = {"kind": "io_pairs", "cases": [{"input": [], "output": []}], "entry_point": "visible",
            "compare": "exact", "tolerance": 1e-6, "unwrap_expected": False}
    execution = run(session, spec, PROC_SNOOP, name="proc")
    assert execution.outcome is Outcome.PASSED, show(execution)


# ---------------------------------------------------- lenient comparisons ---

def pairs_spec(expected: Any, unwrap: bool = False) -> dict[str, Any]:
    return {"kind": "io_pairs", "cases": [{"input": [], "output": expected}], "entry_point": "f",
            "compare": "exact", "tolerance": 1e-6, "unwrap_expected": unwrap}


def float_stdin_spec(expected: str) -> dict[str, Any]:
    return {"kind": "stdin_stdout", "cases": [{"input": "", "output": expected}], "entry_point": "",
            "compare": "float", "tolerance": 1e-6, "unwrap_expected": False}


LENIENT = {
    # name -> (spec, wrong program)
    "io_pairs_float_for_int": (pairs_spec(1000000007), "def f():\n    return 1000000000.0\n"),
    "stdin_float_mode_on_integer_tokens": (float_stdin_spec("1000000007\n"), "print(1000000006)\n"),
    "io_pairs_unwrap_first_of_many": (pairs_spec([1, 2, 3], unwrap=True), "def f():\n    return 1\n"),
}


# Issue 14 (red on 2163e6c): comparisons accept wrong answers (float tolerance on ints, expected[0] of any list)
@pytest.mark.parametrize("name", sorted(LENIENT))
def test_comparisons_are_strict_by_default(session, name: str) -> None:
    spec, program = LENIENT[name]
    execution = run(session, spec, program, name=name)
    assert execution.outcome is Outcome.FAILED, show(execution)


@pytest.mark.parametrize("name", sorted(LENIENT))
def test_apps_quirks_only_when_named(warm, name: str) -> None:
    """``--compat apps`` reproduces the APPS checker, quirks included."""
    spec, program = LENIENT[name]
    execution = run(warm, dict(spec, compat="apps"), program, name=name + "-apps")
    assert execution.outcome is Outcome.PASSED, show(execution)


# ------------------------------------------- wrong answers, not infra errors ---

PYTEST_ADD = {"kind": "pytest", "module": "solution", "entry_point": "",
              "test": "from solution import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"}
FUNCTION_SPECS = {
    "check_function": ADD_SPEC,
    "io_pairs": {"kind": "io_pairs", "cases": [{"input": [1, 2], "output": 3}], "entry_point": "add",
                 "compare": "exact", "tolerance": 1e-6, "unwrap_expected": False},
    "pytest": PYTEST_ADD,
}

# Writes one raw frame on its reply pipe (its only write-only pipe above fd 2)
# before the real first frame, then exits.
RAW_FRAME = ("import fcntl, marshal, os, stat, struct\n"
             "payload = {payload}\n"
             "for fd in range(3, 256):\n"
             "    try:\n"
             "        mode = os.fstat(fd).st_mode\n"
             "    except OSError:\n"
             "        continue\n"
             "    if stat.S_ISFIFO(mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY:\n"
             "        os.write(fd, struct.pack('>I', len(payload)) + payload)\n"
             "os._exit(0)\n")
FRAMES = {
    "set_containing_a_list": "b'<' + struct.pack('<i', 1) + b'[' + struct.pack('<i', 0)",
    "raise_with_huge_int": "marshal.dumps(('raise', 10 ** 5000, 'x'))",
}


# Issue 14 (red on 2163e6c): a malformed first reply frame crashes the judge: judge_crash -> infra_error
@pytest.mark.parametrize("kind", sorted(FUNCTION_SPECS))
@pytest.mark.parametrize("frame", sorted(FRAMES))
def test_malformed_first_frame_is_the_candidates_error(session, frame: str, kind: str) -> None:
    spec = FUNCTION_SPECS[kind]
    execution = run(session, spec, RAW_FRAME.format(payload=FRAMES[frame]), name=kind)
    assert execution.outcome is Outcome.ERROR, show(execution)
    assert run(session, spec, RIGHT, name=kind).outcome is Outcome.PASSED


UNPRINTABLE = {
    # name -> (expected, returned expression)
    "huge_int_for_int": (3, "10 ** 5000"),
    "int_too_big_for_float": (0.5, "10 ** 400"),
}


# Issue 14 (red on 2163e6c): judge_pairs prints/compares candidate values outside any try: judge_crash -> infra_error
@pytest.mark.parametrize("name", sorted(UNPRINTABLE))
def test_unprintable_io_pairs_results_are_wrong_answers(session, name: str) -> None:
    expected, returned = UNPRINTABLE[name]
    execution = run(session, pairs_spec(expected), "def f():\n    return %s\n" % returned, name=name)
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


FILLS_WORK = ("n = 0\n"
              "try:\n"
              "    while True:\n"
              "        with open('fill%d' % n, 'wb') as handle:\n"
              "            for _ in range(8):\n"
              "                handle.write(b'x' * (1 << 20))\n"
              "        n += 1\n"
              "except OSError:\n"
              "    pass\n"
              "def add(a, b):\n    return a - b\n")


# Issue 14 (red on 2163e6c): a candidate that fills /work leaves the judge no room for the pytest module: infra_error
def test_filling_the_scratch_space_is_a_verdict(session) -> None:
    execution = run(session, PYTEST_ADD, FILLS_WORK, name="pytest")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)
    assert run(session, PYTEST_ADD, RIGHT, name="pytest").outcome is Outcome.PASSED


CALLS_AT_IMPORT = {"kind": "pytest", "module": "solution", "entry_point": "",
                   "test": ("from solution import add\n\nTABLE = [add(i, i) for i in range(3)]\n\n\n"
                            "def test_table():\n    assert TABLE == [0, 2, 4]\n\n\n"
                            "def test_add():\n    assert add(2, 3) == 5\n")}


# Issue 14 (red on 2163e6c): a pytest module that calls a raising candidate at import reads as
# 'pytest ran no test': infra_error
def test_candidate_raising_during_test_module_import_is_a_verdict(session) -> None:
    assert run(session, CALLS_AT_IMPORT, RIGHT, name="import").outcome is Outcome.PASSED
    execution = run(session, CALLS_AT_IMPORT, "def add(a, b):\n    raise ValueError('no')\n", name="import")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# Many cases, each well within its limits, that together outlast the host's
# reply deadline (wall_time_s + REPLY_MARGIN_S, cut from 30 s to 8 s here so the
# test takes seconds; the supervisor's heartbeat comes every 2 s): 24 x ~0.65 s > 9 s.
SLOW_CASES = 24
SLOW_LIMITS = Limits(cpu_time_s=1.0, wall_time_s=1.0, memory_bytes=256 << 20, output_bytes=1 << 20)
SLOW_SPEC = {"kind": "stdin_stdout", "cases": [{"input": "%d\n" % i, "output": "%d\n" % i} for i in range(SLOW_CASES)],
             "entry_point": "", "compare": "exact", "tolerance": 1e-6, "unwrap_expected": False}
SLOW_RIGHT = "import time\nn = int(input())\ntime.sleep(0.6)\nprint(n)\n"


# Issue 14 (red on 2163e6c): the host waits wall_time_s + 30 s for a whole batch, however many cases: infra_error
def test_many_cases_within_limits_outlast_no_host_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_backend, "REPLY_MARGIN_S", 8.0)
    # Both isolation modes at once (the program sleeps: no CPU contention).
    results: dict[str, Execution] = {}

    def one(isolation: str) -> None:
        for session in open_docker_session(SLOW_LIMITS, isolation):
            results[isolation] = run(session, SLOW_SPEC, SLOW_RIGHT, SLOW_LIMITS, name="slow")

    threads = [threading.Thread(target=one, args=(mode,)) for mode in ("process", "container")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {mode: e.outcome.value for mode, e in results.items()} == {"process": "passed", "container": "passed"}, \
        {mode: show(e) for mode, e in results.items()}


# ------------------------------------------ false fails of correct programs ---

@pytest.fixture(scope="module")
def warm():  # type: ignore[no-untyped-def]
    yield from open_docker_session(LIMITS, "process")


# Why each failed on 2163e6c (issue 14).
SCRIPT_REASONS = {
    "thread_without_join": "script mode calls os._exit right after exec: a running thread's output is lost",
    "output_flushed_at_exit": "script mode calls os._exit right after exec: atexit handlers never run",
    "closes_stdout": "flushing a closed sys.stdout after exec gives exit status 1",
    "uses_dunder_file": "__file__ is undefined",
    "pickles_top_level_objects": "the exec namespace is not a module: pickle cannot find top-level names",
    "multiprocessing_pool": "the exec namespace is not a module: Pool cannot pickle top-level functions",
}


@pytest.mark.parametrize("name", sorted(LEGIT_SCRIPTS))
def test_correct_scripts_pass(warm, name: str) -> None:
    assert name in SCRIPT_REASONS
    execution = run(warm, SUM_SPEC, LEGIT_SCRIPTS[name], name="sum")
    assert execution.outcome is Outcome.PASSED, show(execution)
    assert list(execution.test_outcomes) == ["passed"] * 3


# Why each failed on 2163e6c (issue 14).
FUNCTION_REASONS = {
    "uses_dunder_file": "__file__ is undefined",
    "pickles_top_level_objects": "the exec namespace is not a module: pickle cannot find top-level names",
    "multiprocessing_pool": "the exec namespace is not a module: Pool cannot pickle top-level functions",
}


@pytest.mark.parametrize("name", sorted(LEGIT_FUNCTIONS))
def test_correct_functions_pass(warm, name: str) -> None:
    assert name in FUNCTION_REASONS
    execution = run(warm, ADD_SPEC, LEGIT_FUNCTIONS[name], name="add")
    assert execution.outcome is Outcome.PASSED, show(execution)


EXCEPTION_SUBCLASSES = {
    # name -> (spec, correct program)
    "json_decode_error_is_a_value_error": (
        {"kind": "check_function", "setup": "def parse(text):\n    \"\"\"json.loads\"\"\"\n",
         "test": ("def check(candidate):\n    assert candidate('[1, 2]') == [1, 2]\n"
                  "    try:\n        candidate('{bad')\n    except ValueError:\n        pass\n"
                  "    else:\n        raise AssertionError('bad JSON must raise ValueError')\n"),
         "entry_point": "parse", "check_function": "check"},
        "import json\ndef parse(text):\n    return json.loads(text)\n"),
    "unicode_decode_error": (
        {"kind": "check_function", "setup": "def decode(data):\n    \"\"\"UTF-8\"\"\"\n",
         "test": ("def check(candidate):\n    assert candidate(b'ok') == 'ok'\n"
                  "    try:\n        candidate(b'\\xff')\n    except UnicodeDecodeError:\n        pass\n"
                  "    else:\n        raise AssertionError('invalid UTF-8 must raise UnicodeDecodeError')\n"),
         "entry_point": "decode", "check_function": "check"},
        "def decode(data):\n    return data.decode('utf-8')\n"),
    "user_subclass_in_pytest_raises": (
        {"kind": "pytest", "module": "solution", "entry_point": "",
         "test": ("import pytest\nfrom solution import check_positive\n\n\n"
                  "def test_positive():\n    assert check_positive(3) == 3\n\n\n"
                  "def test_negative():\n    with pytest.raises(ValueError):\n        check_positive(-1)\n")},
        "class NegativeError(ValueError):\n    pass\n"
        "def check_positive(x):\n    if x < 0:\n        raise NegativeError(x)\n    return x\n"),
}


# Issue 14 (red on 2163e6c): a candidate's exception reaches the tests as RuntimeError unless it
# is a builtin with one argument
@pytest.mark.parametrize("name", sorted(EXCEPTION_SUBCLASSES))
def test_exception_subclasses_keep_their_bases(warm, name: str) -> None:
    spec, program = EXCEPTION_SUBCLASSES[name]
    execution = run(warm, spec, program, name=name)
    assert execution.outcome is Outcome.PASSED, show(execution)


# Issue 14 (red on 2163e6c): the pytest timeout comes from the problem's limits, not the run's wall limit
def test_pytest_timeout_follows_the_wall_limit(warm) -> None:
    problem = parse_problem({"task_id": "slowpy", "test_kind": "pytest", "limits": {"wall_time_s": 2},
                             "test": "from solution import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"},
                            "slowpy")
    limits = Limits(cpu_time_s=1.0, wall_time_s=8.0, memory_bytes=256 << 20, output_bytes=1 << 20)
    program = "import time\ndef add(a, b):\n    time.sleep(3)\n    return a + b\n"
    execution = run(warm, problem.test_spec(), program, limits, name="slowpy")
    assert execution.outcome is Outcome.PASSED, show(execution)


TMP_PATH_SPEC = {"kind": "pytest", "module": "solution", "entry_point": "",
                 "test": ("from solution import total\n\n\ndef test_files(tmp_path):\n"
                          "    numbers, result = tmp_path / 'numbers.txt', tmp_path / 'total.txt'\n"
                          "    numbers.write_text('1 2 3')\n"
                          "    total(str(numbers), str(result))\n"
                          "    assert result.read_text() == '6'\n")}


# Issue 14 (red at 8a0da23): a pytest tmp_path lay in the judge's 0700 directory
def test_pytest_tmp_path_is_usable_by_the_candidate(warm) -> None:
    program = ("def total(source, target):\n"
               "    with open(source) as handle:\n        numbers = map(int, handle.read().split())\n"
               "    with open(target, 'w') as handle:\n        handle.write(str(sum(numbers)))\n")
    execution = run(warm, TMP_PATH_SPEC, program, name="tmppath")
    assert execution.outcome is Outcome.PASSED, show(execution)


def test_correct_output_over_the_cap_is_told_apart(warm) -> None:
    limits = Limits(cpu_time_s=1.0, wall_time_s=4.0, memory_bytes=256 << 20, output_bytes=64 << 10)
    spec = {"kind": "stdin_stdout", "cases": [{"input": "", "output": "x" * 200_000 + "\n"}], "entry_point": "",
            "compare": "exact", "tolerance": 1e-6, "unwrap_expected": False}
    execution = run(warm, spec, "print('x' * 200_000)\n", limits, name="big")
    assert execution.outcome not in (Outcome.PASSED, Outcome.INFRA_ERROR), show(execution)
    assert "output limit" in execution.detail, show(execution)


# Found after issue 14: pytest tests run with the candidate's work dir as cwd, and the agent
# starts with `python3 -c`, whose sys.path[0] is '' (the cwd): a module the tests import late
# (here `colorsys`, never loaded before) came from a file the candidate planted there, and ran
# in the judge.
PLANTS_A_MODULE = (
    "with open('colorsys.py', 'w') as f:\n"
    "    f.write('def rgb_to_hsv(*a):\\n    return \"forged\"\\n')\n"
    "def hue(r, g, b):\n"
    "    return 'forged'\n"
)
LATE_IMPORT_SPEC = {"kind": "pytest", "module": "solution", "entry_point": "",
                    "test": "from solution import hue\n\n\ndef test_hue():\n    import colorsys\n"
                            "    assert hue(1, 0, 0) == colorsys.rgb_to_hsv(1, 0, 0)\n"}


def test_a_module_planted_in_the_work_dir_never_loads_in_the_judge(session) -> None:
    right = "import colorsys\ndef hue(r, g, b):\n    return colorsys.rgb_to_hsv(r, g, b)\n"
    assert run(session, LATE_IMPORT_SPEC, right, name="hue").outcome is Outcome.PASSED
    execution = run(session, LATE_IMPORT_SPEC, PLANTS_A_MODULE, name="hue")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# The same hole, through pytest's plugin autoload: with '' on sys.path, a dist-info planted in
# the cwd declares a pytest11 entry point that pytest loads (in a plain pytest run this plugin
# turns `assert 1 == 2` into a pass; the judge's own record did not trust the report's outcome,
# so this stayed green before the fix too: it guards the second line of defence).
PLANTS_A_PLUGIN = (
    "import os\n"
    "os.makedirs('forge-1.0.dist-info', exist_ok=True)\n"
    "open('forge-1.0.dist-info/METADATA', 'w').write('Metadata-Version: 2.1\\nName: forge\\nVersion: 1.0\\n')\n"
    "open('forge-1.0.dist-info/entry_points.txt', 'w').write('[pytest11]\\nforge = forgeplug\\n')\n"
    "open('forgeplug.py', 'w').write('import pytest\\n'\n"
    "    '@pytest.hookimpl(hookwrapper=True)\\n'\n"
    "    'def pytest_runtest_makereport(item, call):\\n'\n"
    "    '    outcome = yield\\n'\n"
    "    '    outcome.get_result().outcome = \"passed\"\\n')\n"
    "def hue(r, g, b):\n"
    "    return 'wrong'\n"
)


def test_a_pytest_plugin_planted_in_the_work_dir_never_loads_in_the_judge(session) -> None:
    execution = run(session, LATE_IMPORT_SPEC, PLANTS_A_PLUGIN, name="hue")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# Review of the watched attributes (issue 9 work), red before its fixes: the candidate process
# is the candidate's, so it may rewrite its own end of the protocol (the agent's Server class).
PATCHES_ITS_SERVER = (
    "import sys\n"
    "Server = sys.modules['__main__'].Server\n"
    "{patch}\n"
    "class Box:\n"
    "    def __init__(self):\n"
    "        self.items = []\n"
    "    def keep(self, f):\n"
    "        self.items.append(f)\n"
    "    def good(self, x):\n"
    "        return False\n"
)
STOP_ON_ASSIGN = ("seen = []\n"
                  "def assign(self, hid, name, tree):\n"
                  "    seen.append(name)  # the first update (reading b.good) answers ok, the next (inside map) stops\n"
                  "    return ('stop',) if len(seen) > 1 else ('ok', ('p', None), [])\n"
                  "Server.assign = assign")
FORGED_OBJECT = ("plain = Server.encode\n"
                 "def encode(self, value):\n"
                 "    if type(value) is list and value:\n"
                 "        return ('g', [('Unknown', [])], ('l', [('r', 0)]))\n"
                 "    return plain(self, value)\n"
                 "Server.encode = encode")
BOX_SPEC = {"kind": "pytest", "module": "solution", "entry_point": "",
            "test": "from solution import Box\n\n\ndef test_box():\n    b = Box()\n    b.keep(lambda: 0)\n"
                    "    assert len(b.items) == 1\n    assert all(map(b.good, [1, 2]))\n"}


@pytest.mark.parametrize("patch", [STOP_ON_ASSIGN, FORGED_OBJECT], ids=["stop_on_assign", "forged_object"])
def test_a_rewritten_protocol_end_cannot_pass_or_void_a_watched_attribute(session, patch: str) -> None:
    """A StopIteration from the candidate's end of an attribute update once
    ended the tests' ``all(map(...))`` early (a pass); an object of a class
    only the candidate names once turned its failure into problem_error."""
    execution = run(session, BOX_SPEC, PATCHES_ITS_SERVER.format(patch=patch), name="box")
    assert execution.outcome.value in VERDICTS_OF_A_WRONG_ANSWER, show(execution)


# The same review: tests write files by name in the shared work dir, where the candidate may
# plant a symlink into the judge's own directory (/judge is traversable, so it can find which
# judge-N exists). A conftest.py written there by the tests, with the candidate's text, was
# loaded by the judge's next pytest run (here it kills the judge: a wrong candidate turned into
# infra_error, left out of pass@k). The judge now runs pytest with --noconftest and its own ini.
PLANTS_A_CONFTEST = (
    "import os\n"
    "taken = [n for n in range(1, 200) if os.path.isdir('/judge/judge-%d' % n)]\n"
    "if taken:\n"
    "    os.symlink('/judge/judge-%d/conftest.py' % taken[-1], 'report.txt')\n"
    "def report():\n"
    "    return 'import os\\nos._exit(0)\\n'\n"
    "def answer():\n"
    "    return 41\n"
)
REPORT_SPEC = {"kind": "pytest", "module": "solution", "entry_point": "",
               "test": "from solution import answer, report\n\n\ndef test_answer():\n"
                       "    with open('report.txt', 'w') as f:\n        f.write(report())\n"
                       "    assert answer() == 42\n"}


def test_a_conftest_written_through_a_planted_symlink_never_loads(session) -> None:
    first, second = run_batch(session, REPORT_SPEC, [PLANTS_A_CONFTEST, PLANTS_A_CONFTEST], name="report")
    assert first.outcome is Outcome.FAILED, show(first)
    assert second.outcome is Outcome.FAILED, show(second)
