"""The in-container supervisor: the only harness code that runs inside a sandbox.

It is stdlib-only and self-contained because the host sends its source as the
container's command (``python3 -s -c SOURCE``); nothing is mounted or copied in.

Trust model, per candidate (three processes, three uids):

* the supervisor (this process, root with only SETUID/SETGID/KILL) forks
* a *candidate* (uid ``SANDBOX_UID``, no capabilities, its own session, an
  empty work dir, CPU/file/fd rlimits) that runs the untrusted program and
  then answers calls to the entry point over a pipe, and hands its pipe ends to
* the problem's *judge* (uid ``JUDGE_UID``, one process per problem, a fresh
  namespace and seed per candidate) that runs the trusted test code.

Arguments and return values cross the pipe with ``marshal``, which only builds
plain builtin values, so an object whose ``__eq__`` always says yes, a patched
builtin, ``sys.exit(0)``/``os._exit(0)`` or a printed marker never reaches the
judge's comparisons.  The candidate cannot signal, ptrace or read the judge or
the supervisor (other uids, no capabilities) and never sees the judge's socket.
The verdict is what the judge sends on that socket; the supervisor overrides
it with ``timeout``/``memory_exceeded`` when it killed the candidate, or the
kernel's OOM killer did, and kills every ``SANDBOX_UID`` process afterwards.

Host protocol: frames of a 4-byte big-endian length and UTF-8 JSON, requests
on stdin, replies on stdout.  Requests: ``problem`` (compile and cache a test
spec by key), ``run`` (a batch of candidates of one problem; results come back
in groups, and the batch stops early after an anomaly), ``ping``.  The first
frame is ``hello``.
"""

import builtins
import ctypes
import gc
import json
import marshal
import math
import os
import resource
import select
import signal
import socket
import struct
import sys
import time
import traceback

PROTOCOL_VERSION = 1
JUDGE_UID = 1001
SANDBOX_UID = 1002
WORK_ROOT = os.environ.get("HARNESS_WORK_ROOT", "/work")  # overridable for agent unit tests
MAX_REPLY_BYTES = 64 << 20
MAX_REQUEST_BYTES = 1 << 30
OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"
OOM_EVENTS_V2 = "/sys/fs/cgroup/memory.events"
DETAIL_CHARS = 600
TAIL_BYTES = 2048
ZYGOTE_TIMEOUT_S = 10.0
JUDGE_MAX_USES = 256  # a judge serves one problem, at most this many candidates
FLUSH_S = 0.25  # results wait at most this long before going to the host

# Modules imported once here so that every forked candidate finds them warm.
# Kept small on purpose: fork time grows with the supervisor's memory.
WARM_MODULES = (
    "typing", "math", "re", "collections", "itertools", "functools", "heapq",
    "bisect", "string", "random", "copy", "operator", "tempfile",
)


# ----------------------------------------------------------------- framing ---

def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send_frame(fd, payload):
    write_all(fd, struct.pack(">I", len(payload)) + payload)


def recv_frame(fd, limit=MAX_REPLY_BYTES):
    (size,) = struct.unpack(">I", read_exact(fd, 4))
    if size > limit:
        raise ValueError("frame of %d bytes exceeds the %d byte limit" % (size, limit))
    return read_exact(fd, size)


def send_json(fd, obj):
    send_frame(fd, json.dumps(obj).encode())


# ------------------------------------------------------- candidate process ---

SCALARS = (bool, int, float, complex, str, bytes)
CONTAINERS = (list, tuple, set, frozenset)


def to_plain(value, depth=0):
    """Makes ``value`` marshal-able where that keeps its meaning: subclasses
    of builtins (Counter, defaultdict, namedtuple, an int subclass) become the
    builtin, numpy-like scalars their Python value.  Security does not rest
    on this (it runs in the candidate): the judge only ever unmarshals plain
    values, so an overridden ``__eq__`` never reaches it."""
    if depth > 50:
        raise TypeError("result nested too deeply")
    kind = type(value)
    if kind in SCALARS or value is None:
        return value
    for base in CONTAINERS:
        if isinstance(value, base):
            return base(to_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {to_plain(k, depth + 1): to_plain(v, depth + 1) for k, v in value.items()}
    for base in SCALARS:
        if isinstance(value, base):
            return base(value)
    if kind.__module__.startswith("numpy") and getattr(value, "ndim", None) == 0:
        return to_plain(value.item(), depth + 1)
    raise TypeError("cannot return a %s to the tests" % kind.__name__)


def lookup(namespace, name):
    """The function the tests call; LeetCode-style programs put it in a class."""
    if name not in namespace and isinstance(namespace.get("Solution"), type):
        return getattr(namespace["Solution"](), name)
    return namespace[name]


def candidate_main(program, req_fd, rep_fd):
    """Runs the untrusted program, then serves the judge's calls until EOF."""
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        code = compile(program, "<candidate>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        send_frame(rep_fd, marshal.dumps(("syntax", "%s: %s" % (type(exc).__name__, exc))))
        return
    try:
        exec(code, namespace)
    except BaseException as exc:  # the candidate's own failure, reported as such
        send_frame(rep_fd, marshal.dumps(("raise", type(exc).__name__, str(exc)[:DETAIL_CHARS])))
        return
    send_frame(rep_fd, marshal.dumps(("ready",)))
    while True:
        try:
            name, args, kwargs = marshal.loads(recv_frame(req_fd))
        except EOFError:
            return
        try:
            value = lookup(namespace, name)(*args, **kwargs)
            try:
                result = ("ok", to_plain(value))
            except TypeError:  # e.g. a re.Match: only its truth value travels
                result = ("opaque", type(value).__name__, bool(value), repr(value)[:200])
        except BaseException as exc:
            result = ("raise", type(exc).__name__, str(exc)[:DETAIL_CHARS])
        try:
            payload = marshal.dumps(result)
        except ValueError as exc:
            payload = marshal.dumps(("raise", "TypeError", str(exc)))
        send_frame(rep_fd, payload)


SYNTAX_EXIT = 97  # exit status of a script that does not compile


def candidate_script_main(program):
    """A stdin/stdout program: runs as ``__main__`` on the given stdin."""
    try:
        code = compile(program, "<candidate>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        sys.stderr.write("%s: %s\n" % (type(exc).__name__, exc))
        sys.stderr.flush()
        os._exit(SYNTAX_EXIT)
    status = 0
    try:
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
    except SystemExit as exc:
        if isinstance(exc.code, int):
            status = exc.code
        elif exc.code is not None:
            sys.stderr.write("%s\n" % (exc.code,))
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        status = status or 1
    os._exit(status & 0xFF)


# ------------------------------------------------------------- comparisons ---

def _lines(text):
    return [line.rstrip() for line in text.rstrip().splitlines()]


def _number(token):
    try:
        return float(token)
    except ValueError:
        return None


def outputs_match(actual, expected, mode="exact", tolerance=1e-6):
    """stdin/stdout: ``exact`` ignores trailing whitespace on lines and at
    the end; ``tokens`` compares whitespace-separated tokens; ``float``
    also lets numeric tokens differ by ``tolerance`` (relative or absolute)."""
    if mode == "exact":
        return _lines(actual) == _lines(expected)
    got, want = actual.split(), expected.split()
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        x, y = (_number(a), _number(b)) if mode == "float" else (None, None)
        if x is None or y is None or not math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance):
            return False
    return True


def values_match(actual, expected, tolerance=1e-6):
    """Call-based results: type-strict (True is not 1, "1" is not 1), tuples
    and lists alike, floats within ``tolerance``."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        if isinstance(actual, float) or isinstance(expected, float):
            return math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance)
        return actual == expected
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(
            values_match(a, b, tolerance) for a, b in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            values_match(actual[k], expected[k], tolerance) for k in actual)
    return type(actual) is type(expected) and actual == expected


def short(value, limit=80):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ----------------------------------------------------------- judge process ---

class CandidateGone(Exception):
    """The candidate process closed its pipe: it exited or was killed."""


# Exceptions that steer control flow in the tests (StopIteration ends a map()
# or all() early) must not be raisable by the candidate under their own name.
CONTROL_FLOW = ("StopIteration", "StopAsyncIteration", "GeneratorExit", "SystemExit", "KeyboardInterrupt")


def _raised(type_name, message):
    cls = getattr(builtins, type_name, None)
    if type_name in CONTROL_FLOW or not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = RuntimeError
        message = "%s: %s" % (type_name, message)
    try:
        exc = cls(message)
    except Exception:
        exc = RuntimeError("%s: %s" % (type_name, message))
    exc.harness_from_candidate = True
    return exc


class CandidateProxy:
    """What the tests see as the candidate function: a remote call."""

    def __init__(self, name, req_fd, rep_fd):
        self.__name__ = name
        self._req, self._rep = req_fd, rep_fd

    def __call__(self, *args, **kwargs):
        try:
            request = marshal.dumps((self.__name__, args, kwargs))
        except ValueError as exc:
            raise TypeError("harness cannot pass these arguments to the candidate: %s" % exc)
        try:
            send_frame(self._req, request)
            reply = marshal.loads(recv_frame(self._rep))
        except (EOFError, BrokenPipeError):
            raise CandidateGone("the candidate process exited during the tests")
        except ValueError as exc:
            raise _raised("ValueError", "unreadable reply from candidate: %s" % exc)
        if type(reply) is tuple and reply and reply[0] == "ok" and len(reply) == 2:
            return check_plain(reply[1])
        if type(reply) is tuple and len(reply) == 4 and reply[0] == "opaque":
            return Opaque(str(reply[1]), reply[2] is True, str(reply[3]))
        if type(reply) is tuple and len(reply) == 3 and reply[0] == "raise":
            raise _raised(str(reply[1]), str(reply[2]))
        raise _raised("ValueError", "malformed reply from candidate")


class Opaque:
    """Stands in the tests for a result that is not plain data (a re.Match,
    a custom object): it keeps only its truth value and is equal to nothing
    but itself, so ``assert f(x)`` works and no ``__eq__`` can be forged."""

    __slots__ = ("type_name", "truth", "text")

    def __init__(self, type_name, truth, text):
        self.type_name, self.truth, self.text = type_name, truth, text

    def __bool__(self):
        return self.truth

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s %s>" % (self.type_name, self.text)


def check_plain(value, depth=0):
    """Rejects anything but plain data (marshal can also build code objects)."""
    kind = type(value)
    if depth > 100:
        raise _raised("ValueError", "result nested too deeply")
    if kind in (list, tuple, set, frozenset):
        for item in value:
            check_plain(item, depth + 1)
    elif kind is dict:
        for key, item in value.items():
            check_plain(key, depth + 1)
            check_plain(item, depth + 1)
    elif kind not in (int, float, str, bytes, bool, complex, type(None)):
        raise _raised("TypeError", "candidate returned a %s" % kind.__name__)
    return value


def compile_setup(setup):
    """Trusted context for the tests (e.g. helpers the prompt defines).  A
    prompt may end inside a function, so fall back to the part that parses."""
    if not setup:
        return None
    for source in (setup, setup + "\n    pass\n"):
        try:
            return compile(source, "<prompt>", "exec")
        except (SyntaxError, ValueError):
            continue
    return None


def prepare_spec(spec):
    """Compiles a problem's trusted code once, in the supervisor, so that each
    forked judge only executes it."""
    prepared = dict(spec)
    if spec.get("kind") in ("stdin_stdout", "io_pairs"):
        prepared["cases"] = list(spec["cases"])
        return prepared
    if spec.get("kind") == "pytest":
        compile(spec["test"], "<test>", "exec")  # a broken module is refused now, not per candidate
        return prepared
    prepared["setup_code"] = compile_setup(spec.get("setup", ""))
    prepared["test_code"] = compile(spec["test"], "<test>", "exec")
    return prepared


def describe_failure(exc, test_source):
    """One line: the exception and the test line that raised it."""
    line_text = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<test>":
            lines = test_source.splitlines()
            if 0 < lineno <= len(lines):
                line_text = " at test line %d: %s" % (lineno, lines[lineno - 1].strip())
    message = str(exc)
    head = type(exc).__name__ + (": " + message if message else "")
    return (head + line_text)[:DETAIL_CHARS]


def judge_one(spec, req_fd, rep_fd):
    """Runs the problem's tests against the proxy; returns (outcome, detail)."""
    try:
        first = marshal.loads(recv_frame(rep_fd))
    except (EOFError, ValueError):
        return "gone", "the candidate process exited while loading"
    if type(first) is tuple and first[:1] == ("syntax",) and len(first) == 2:
        return "syntax_error", str(first[1])
    if type(first) is tuple and first[:1] == ("raise",) and len(first) == 3:
        return "error", "%s: %s (while loading the program)" % (first[1], first[2])
    if first != ("ready",):
        return "error", "malformed message from the candidate process"

    proxy = CandidateProxy(spec["entry_point"], req_fd, rep_fd)
    if spec.get("kind") == "io_pairs":
        return judge_pairs(spec, proxy)
    if spec.get("kind") == "pytest":
        return judge_pytest(spec, req_fd, rep_fd)
    namespace = {"__name__": "__judge__"}
    if spec["setup_code"] is not None:
        try:
            exec(spec["setup_code"], namespace)
        except Exception:
            pass  # helpers that fail to define are simply absent
    for name in spec.get("candidate_names") or ():  # other functions of the candidate's the tests call
        if name in getattr(sys, "stdlib_module_names", ()):  # a module the tests forgot to import
            try:
                namespace[name] = __import__(name)
                continue
            except ImportError:
                pass
        namespace[name] = CandidateProxy(name, req_fd, rep_fd)
    namespace[spec["entry_point"]] = proxy
    namespace["candidate"] = proxy
    try:
        exec(spec["test_code"], namespace)
        if spec.get("check_function"):
            namespace[spec["check_function"]](proxy)
    except CandidateGone as exc:
        return "gone", str(exc)
    except BaseException as exc:
        detail = describe_failure(exc, spec["test"])
        if getattr(exc, "harness_from_candidate", False):
            return "error", detail
        return "failed", detail
    return "passed", ""


def judge_pairs(spec, proxy):
    """Calls the candidate on each input and compares with the expected value."""
    tests, first = [], None
    tolerance = spec.get("tolerance", 1e-6)
    for number, case in enumerate(spec["cases"], 1):
        args, expected = case["input"], case["output"]
        try:
            got = proxy(*args) if isinstance(args, list) else proxy(args)
        except CandidateGone:
            tests += ["error"] * (len(spec["cases"]) - len(tests))
            first = first or ("error", "test %d: the candidate process ended" % number)
            break
        except Exception as exc:
            tests.append("error")
            first = first or ("error", "test %d: %s: %s" % (number, type(exc).__name__, short(str(exc))))
            continue
        ok = values_match(got, expected, tolerance) or (
            spec.get("unwrap_expected") and isinstance(expected, list) and len(expected) > 0
            and values_match(got, expected[0], tolerance))
        tests.append("passed" if ok else "failed")
        if not ok and first is None:
            first = ("failed", "test %d: expected %s, got %s" % (number, short(expected), short(got)))
    if first is None:
        return "passed", "", tests
    return first[0], first[1], tests


PYTEST_RUNS = [0]


def judge_pytest(spec, req_fd, rep_fd):
    """Runs the problem's pytest module here, in the judge, with pytest's own
    hooks as the record; the candidate's module is a stand-in whose functions
    are remote calls, so nothing the candidate does reaches pytest."""
    import types

    import pytest

    class Record:
        def __init__(self):
            self.tests, self.first = [], None

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item, call):
            report = (yield).get_result()
            if report.when != "call" and not report.failed:
                return
            if report.passed:
                self.tests.append("passed")
                return
            if report.skipped:
                self.tests.append("skipped")
                return
            error = call.excinfo.value if call.excinfo else None
            mine = isinstance(error, CandidateGone) or getattr(error, "harness_from_candidate", False)
            self.tests.append("error" if mine else "failed")
            if self.first is None:
                text = "%s: %s" % (type(error).__name__, short(str(error), 200)) if error else report.when
                self.first = ("error" if mine else "failed", "%s: %s" % (item.name, text))

    def attribute(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return CandidateProxy(name, req_fd, rep_fd)

    module = types.ModuleType(spec["module"])
    module.__getattr__ = attribute
    sys.modules[spec["module"]] = module
    PYTEST_RUNS[0] += 1
    path = os.path.join(spec["workdir"], "test_run%d.py" % PYTEST_RUNS[0])
    with open(path, "w") as handle:
        handle.write(spec["test"])
    record = Record()
    args = [path, "-q", "-p", "no:cacheprovider", "--rootdir", spec["workdir"], "-o", "addopts=",
            "--import-mode=importlib", "--timeout", str(spec.get("test_timeout", 10))]
    try:
        code = pytest.main(args, plugins=[record])
    finally:
        os.unlink(path)
        sys.modules.pop(spec["module"], None)
    if not record.tests:
        return "judge_crash", "pytest ran no test (exit %s): the problem's test module is broken" % int(code), []
    if record.first is not None:
        return record.first[0], record.first[1], record.tests
    return "passed", "", record.tests


def judge_server(sock, spec):
    """A judge serves one problem's candidates, one at a time: each request
    brings the two pipe ends of a fresh candidate process (SCM_RIGHTS), each
    reply is the verdict.  Every candidate gets a fresh test namespace and
    the same random seed; the judge itself is replaced per problem."""
    import random
    fd = sock.fileno()
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(sock, 16, 2)
        except OSError:
            return
        if len(fds) != 2:
            return
        req_fd, rep_fd = fds
        random.seed(0)
        tests = None
        try:
            verdict = judge_one(spec, req_fd, rep_fd)
            outcome, detail = verdict[0], verdict[1]
            tests = verdict[2] if len(verdict) > 2 else None
        except BaseException as exc:  # the tests themselves broke
            outcome, detail = "judge_crash", repr(exc)
        os.close(req_fd)
        os.close(rep_fd)
        send_json(fd, {"outcome": outcome, "detail": detail[:DETAIL_CHARS], "tests": tests})


# ------------------------------------------------------------- supervisor ---

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def oom_kills():
    for path in (OOM_CONTROL, OOM_EVENTS_V2):
        try:
            with open(path) as handle:
                for line in handle:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def pids_of(uids):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat("/proc/" + entry).st_uid in uids:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def tree_cpu_seconds(uid):
    """User+sys CPU of the live processes of ``uid`` (threads included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids_of((uid,)):
        try:
            with open("/proc/%d/stat" % pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def kill_uid(uid):
    """SIGKILL every process of ``uid``, repeating until none is left, so a
    fork bomb or a double-forked daemon cannot outlive its candidate."""
    for attempt in range(500):
        alive = False
        for pid in pids_of((uid,)):
            try:
                with open("/proc/%d/stat" % pid) as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state in ("Z", "X"):
                continue
            alive = True
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap_all()
        if not alive:
            return True
        time.sleep(0.0005 * min(attempt + 1, 20))
    return False


class Reaped:
    """Exit statuses and resource usage of what was reaped during one run,
    except the judge's: that is the candidate tree's usage."""

    def __init__(self):
        self.status = {}
        self.cpu = 0.0
        self.maxrss = 0
        self.exclude = set()

    def record(self, pid, status, cpu, maxrss):
        self.status[pid] = status
        if pid not in self.exclude:
            self.cpu += cpu
            self.maxrss = max(self.maxrss, maxrss)


REAPED = Reaped()


def reaped():
    """Yields (pid, status, cpu seconds, peak rss bytes) of exited children."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def reap_all():
    for exited in reaped():
        REAPED.record(*exited)


def drop_to(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def child_common(keep_fds):
    """Shared by both children: default signals, a fixed seed, no stray fds."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    keep = sorted(set(keep_fds) | {0, 1, 2})
    start = 0
    for fd in keep + [os.sysconf("SC_OPEN_MAX")]:
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    import random
    random.seed(0)


def set_limits(limits):
    cpu = max(1, int(math.ceil(limits["cpu_time_s"])) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = int(limits["file_size_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    nofile = int(limits["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


CANDIDATE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
    "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
}


def spawn_candidate(program, workdir, limits, mode, fds):
    """Forks a candidate.  ``function`` mode: fds are (requests in, replies
    out, stdout, stderr) and it serves the judge; ``script`` mode: fds are
    (stdin, stdout, stderr) and it runs as a program."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(adj, b"1000")  # the OOM killer takes the candidate first
        os.close(adj)
        if mode == "script":
            stdin, out_w, err_w = fds
            keep = []
        else:
            req_r, rep_w, out_w, err_w = fds
            stdin = os.open("/dev/null", os.O_RDONLY)
            keep = [req_r, rep_w]
        os.dup2(stdin, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        child_common(keep)
        set_limits(limits)
        drop_to(SANDBOX_UID)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(CANDIDATE_ENV, HOME=workdir, TMPDIR=workdir)
        import tempfile
        tempfile.tempdir = workdir
        sys.argv = ["candidate"]
        if mode == "script":
            candidate_script_main(program)
        candidate_main(program, req_r, rep_w)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(0)


def zygote_main(sock):
    """Forks candidates.  It is forked from the supervisor before the first
    request is read, so a candidate's memory (a copy of the zygote's) holds
    no test, expected value or other problem data to read back."""
    fd = sock.fileno()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while True:
        for ready, _ in poller.poll():
            if ready == wake_r:
                try:
                    os.read(wake_r, 4096)
                except OSError:
                    pass
                report_exits(fd)
                continue
            header, fds, _, _ = socket.recv_fds(sock, 4, 4)
            if not header:
                os._exit(0)
            (size,) = struct.unpack(">I", header + read_exact(fd, 4 - len(header)) if len(header) < 4 else header)
            request = json.loads(read_exact(fd, size))
            pid = spawn_candidate(request["program"], request["workdir"], request["limits"], request["mode"], fds)
            for passed_fd in fds:
                os.close(passed_fd)
            del request
            send_json(fd, {"pid": pid})


def report_exits(fd):
    for pid, status, cpu, maxrss in reaped():
        send_json(fd, {"exit": pid, "status": status, "cpu": cpu, "maxrss": maxrss})


class Zygote:
    """The supervisor's handle on its zygote process."""

    def __init__(self):
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                mine.close()
                child_common([theirs.fileno()])
                zygote_main(theirs)
            finally:
                os._exit(1)
        theirs.close()
        self.pid, self.sock, self.buffer, self.last_pid = pid, mine, bytearray(), None
        REAPED.exclude.add(pid)

    def spawn(self, program, workdir, limits, mode, fds):
        """Asks for a candidate process; its pid arrives later (``candidate_pid()``),
        so that the judge can be started meanwhile."""
        self.last_pid = None
        payload = json.dumps({"program": program, "workdir": workdir, "limits": limits, "mode": mode}).encode()
        frame = struct.pack(">I", len(payload)) + payload
        socket.send_fds(self.sock, [frame[:4]], fds)
        self.sock.sendall(frame[4:])

    def candidate_pid(self):
        while self.last_pid is None:
            self.note(self.receive())
        return self.last_pid

    def receive(self, timeout=None):
        """The next message, or None when ``timeout`` passes first."""
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + size:
                    message = json.loads(bytes(self.buffer[4:4 + size]))
                    del self.buffer[:4 + size]
                    return message
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the zygote process is gone")
            self.buffer += chunk

    def pump(self):
        """Reads the messages that are already waiting."""
        while True:
            message = self.receive(timeout=0)
            if message is None:
                return
            self.note(message)

    def note(self, message):
        if "pid" in message:
            self.last_pid = message["pid"]
        elif "exit" in message:
            REAPED.record(message["exit"], message["status"], message["cpu"], message["maxrss"])

    def wait_exit(self, pid, timeout):
        deadline = time.monotonic() + timeout
        while pid not in REAPED.status:
            message = self.receive(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                return False
            self.note(message)
        return True


class Judge:
    """The long-lived judge process of the current problem."""

    def __init__(self):
        self.pid = None
        self.sock = None
        self.key = None
        self.uses = 0
        self.count = 0

    def ensure(self, key, spec):
        if self.pid is not None and self.key == key and self.uses < JUDGE_MAX_USES:
            return
        self.stop()
        if spec.get("kind") == "pytest":
            # pytest wants files: a dir only the judge can read (CAP_CHOWN).
            self.count += 1
            spec = dict(spec, workdir="%s/.judge-%d" % (WORK_ROOT, self.count))
            os.mkdir(spec["workdir"], 0o700)
            os.chown(spec["workdir"], JUDGE_UID, JUDGE_UID)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                mine.close()
                os.setsid()
                devnull = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                child_common([theirs.fileno()])
                drop_to(JUDGE_UID)
                os.chdir(spec.get("workdir", "/"))
                judge_server(theirs, spec)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.sock, self.key, self.uses = pid, mine, key, 0
        REAPED.exclude.add(pid)

    def start(self, req_w, rep_r):
        self.uses += 1
        socket.send_fds(self.sock, [b"r"], [req_w, rep_r])

    def stop(self):
        if self.pid is None:
            return
        self.sock.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        REAPED.exclude.discard(self.pid)
        self.pid = self.sock = self.key = None


class Tail:
    """Keeps the last bytes of a stream (or all of them) and counts them."""

    def __init__(self, keep_all=False):
        self.data = b""
        self.total = 0
        self.keep_all = keep_all
        self.chunks = []

    def add(self, chunk):
        self.total += len(chunk)
        if self.keep_all:
            self.chunks.append(chunk)
        self.data = (self.data + chunk)[-TAIL_BYTES:]

    def everything(self):
        return b"".join(self.chunks).decode("utf-8", "replace")

    def text(self):
        return self.data.decode("utf-8", "replace")


def drain(fd, tail):
    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        tail.add(chunk)


def input_fd(data):
    """A readable fd holding ``data`` that exists nowhere else."""
    try:
        fd = os.memfd_create("stdin")
    except (AttributeError, OSError):
        path = "%s/.stdin-%d" % (WORK_ROOT, os.getpid())
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.unlink(path)
    write_all(fd, data.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class Run:
    """One candidate process: spawns it, watches it, kills what it left.

    With a judge (function tests) the verdict is the judge's; with ``stdin``
    (script tests) the process runs on that input and the caller compares
    its output."""

    def __init__(self, supervisor, program, limits, key, spec, stdin=None):
        self.sup = supervisor
        self.program = program
        self.limits = limits
        self.key = key
        self.spec = spec
        self.stdin = stdin
        self.killed_for = None
        self.verdict = None
        self.cand = None

    def execute(self):
        limits, judge, zygote = self.limits, self.sup.judge, self.sup.zygote
        script = self.stdin is not None
        if not script:
            judge.ensure(self.key, self.spec)
        workdir = self.sup.make_workdir()
        REAPED.__init__()
        REAPED.exclude.update((judge.pid, zygote.pid))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started = time.monotonic()
        if script:
            stdin = input_fd(self.stdin)
            zygote.spawn(self.program, workdir, limits, "script", [stdin, out_w, err_w])
            for fd in (stdin, out_w, err_w):
                os.close(fd)
            self.cand = zygote.candidate_pid()
        else:
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            zygote.spawn(self.program, workdir, limits, "function", [req_r, rep_w, out_w, err_w])
            for fd in (req_r, rep_w, out_w, err_w):
                os.close(fd)
            try:
                judge.start(req_w, rep_r)
            except OSError:
                self.verdict = {"outcome": "judge_crash", "detail": "the judge process is gone"}
            os.close(req_w)
            os.close(rep_r)
        streams = {out_r: Tail(keep_all=script), err_r: Tail()}
        if self.verdict is None:
            self.watch(streams, started)
        wall = time.monotonic() - started
        cand = self.cand = zygote.candidate_pid()
        zygote.pump()
        try:
            os.killpg(cand, signal.SIGKILL)
        except OSError:
            pass
        if not zygote.wait_exit(cand, ZYGOTE_TIMEOUT_S):
            raise RuntimeError("the zygote did not report the candidate's exit")
        clean = kill_uid(SANDBOX_UID)
        for fd, tail in streams.items():
            drain(fd, tail)
            os.close(fd)
        clean = self.sup.clean_workdir(workdir) and clean
        if not script and (self.killed_for or self.verdict is None or self.verdict.get("outcome") not in (
                "passed", "failed", "error", "syntax_error")):
            judge.stop()  # it may be stuck or broken: the next run gets a new one
        oom = self.sup.oom_happened()
        if script:
            outcome, detail = self.classify_script(cand, oom, streams[out_r], streams[err_r])
        else:
            outcome, detail = self.classify(cand, oom)
        stdout, stderr = streams[out_r], streams[err_r]
        if outcome in ("error", "failed") and stderr.total and not script:
            detail = (detail + " | stderr: " + stderr.text()[-300:].strip())[:DETAIL_CHARS]
        result = {
            "outcome": outcome, "detail": detail, "wall_time_s": round(wall, 6),
            "cpu_time_s": round(REAPED.cpu, 6), "peak_memory_bytes": REAPED.maxrss,
            "stdout_bytes": stdout.total, "stderr_bytes": stderr.total,
            "stdout_tail": stdout.text()[-500:], "stderr_tail": stderr.text()[-500:],
            "anomaly": outcome in ("timeout", "memory_exceeded", "infra_error") or not clean,
        }
        if self.verdict and self.verdict.get("tests") is not None:
            result["tests"] = self.verdict["tests"]
        elif self.spec.get("kind") == "io_pairs":  # it never got to the cases: all share its fate
            result["tests"] = [outcome] * len(self.spec["cases"])
        if script:
            result["stdout"] = stdout.everything()
        return result

    def watch(self, streams, started):
        limits = self.limits
        wall_deadline = started + limits["wall_time_s"]
        cpu_limit = limits["cpu_time_s"]
        out_cap = limits["output_bytes"]
        judge_fd = -1 if self.stdin is not None else self.sup.judge.sock.fileno()
        verdict = bytearray()
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        if judge_fd >= 0:
            poller.register(judge_fd, select.POLLIN)
        poller.register(self.sup.wake_r, select.POLLIN)
        zygote_fd = self.sup.zygote.sock.fileno()
        poller.register(zygote_fd, select.POLLIN)
        while True:
            if self.cand is not None and self.cand in REAPED.status:
                return  # a script finished
            now = time.monotonic()
            if now >= wall_deadline:
                self.killed_for = "wall"
                return
            if now - started >= cpu_limit * 0.8:
                reap_all()
                if REAPED.cpu + tree_cpu_seconds(SANDBOX_UID) > cpu_limit:
                    self.killed_for = "cpu"
                    return
                timeout_ms = 20
            else:
                timeout_ms = min(1000, max(1, int((started + cpu_limit * 0.8 - now) * 1000) + 1))
            for fd, _ in poller.poll(timeout_ms):
                if fd == zygote_fd:
                    self.sup.zygote.pump()
                    continue
                if fd == self.sup.wake_r:
                    try:
                        os.read(fd, 4096)
                    except OSError:
                        pass
                    reap_all()
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if fd == judge_fd:
                    verdict += chunk
                    if not chunk:
                        self.verdict = {"outcome": "judge_crash", "detail": "the judge process died"}
                        return
                    if len(verdict) >= 4 and len(verdict) >= 4 + struct.unpack(">I", verdict[:4])[0]:
                        self.verdict = json.loads(bytes(verdict[4:]).decode())
                        return
                    continue
                if not chunk:
                    poller.unregister(fd)
                    continue
                streams[fd].add(chunk)
                if streams[fd].total > out_cap:
                    self.killed_for = "output"
                    return

    def limit_verdict(self, status, oom):
        """The verdict when a limit ended the run, else None."""
        kind, limits = self.killed_for, self.limits
        if kind == "cpu":
            return "timeout", "CPU time limit of %ss exceeded" % limits["cpu_time_s"]
        if kind == "wall":
            return "timeout", "wall-clock limit of %ss exceeded" % limits["wall_time_s"]
        if kind == "output":
            return "error", "output limit of %d bytes exceeded" % limits["output_bytes"]
        if oom:
            return "memory_exceeded", "memory limit of %d MiB exceeded" % (limits["memory_bytes"] >> 20)
        signalled = status is not None and os.WIFSIGNALED(status)
        if signalled and os.WTERMSIG(status) == signal.SIGXCPU:
            return "timeout", "CPU time limit of %ss exceeded" % limits["cpu_time_s"]
        if signalled and os.WTERMSIG(status) == signal.SIGXFSZ:
            return "error", "file size limit of %d bytes exceeded" % limits["file_size_bytes"]
        return None

    def classify_script(self, cand, oom, stdout, stderr):
        """One stdin/stdout test case, judged on exit status and output."""
        status = REAPED.status.get(cand)
        limited = self.limit_verdict(status, oom)
        if limited:
            return limited
        tail = stderr.text()[-300:].strip()
        if status is None:
            return "error", "the candidate process vanished"
        if os.WIFSIGNALED(status):
            return "error", "killed by %s" % signal_name(os.WTERMSIG(status))
        code = os.WEXITSTATUS(status)
        if code == SYNTAX_EXIT:
            return "syntax_error", tail
        if code != 0:
            return "error", "exit status %d%s" % (code, (": " + tail) if tail else "")
        return "ran", ""

    def classify(self, cand, oom):
        verdict = self.verdict or {}
        outcome, detail = verdict.get("outcome"), str(verdict.get("detail", ""))
        status = REAPED.status.get(cand)
        # A passing verdict stands even if some memory kill happened meanwhile.
        limited = self.limit_verdict(status, oom and outcome != "passed")
        if limited:
            return limited
        signalled = status is not None and os.WIFSIGNALED(status)
        if outcome in ("passed", "failed", "error", "syntax_error"):
            return outcome, detail
        if outcome == "gone" and status is not None:
            if signalled:
                return "error", "candidate process killed by %s during the tests" % signal_name(os.WTERMSIG(status))
            return "error", "candidate process exited with status %d during the tests" % os.WEXITSTATUS(status)
        if outcome == "gone":
            return "error", "the candidate process ended during the tests"
        # The judge itself failed (it crashed, or its tests broke): not the
        # candidate's doing, so the host retries it elsewhere.
        return "infra_error", "the tests could not complete: %s" % (detail or "no verdict")


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return "signal %d" % number


class Supervisor:
    def __init__(self, out):
        self.out = out
        self.problems = {}
        self.counter = 0
        self.judge = Judge()
        self.oom_seen = oom_kills()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        os.makedirs(WORK_ROOT, exist_ok=True)

    def oom_happened(self):
        count = oom_kills()
        happened, self.oom_seen = count > self.oom_seen, count
        return happened

    def make_workdir(self):
        self.counter += 1
        path = "%s/c%d" % (WORK_ROOT, self.counter)
        os.mkdir(path)
        os.chmod(path, 0o777)
        return path

    def clean_workdir(self, path):
        """Removes what the candidate left.  Files the candidate made are its
        own, so a short-lived child with its uid deletes them."""
        if os.listdir(path) or self._shm_leftovers():
            pid = os.fork()
            if pid == 0:
                try:
                    drop_to(SANDBOX_UID)
                    import shutil
                    shutil.rmtree(path, ignore_errors=True)
                    for name in self._shm_leftovers():
                        target = "/dev/shm/" + name
                        if os.path.isdir(target) and not os.path.islink(target):
                            shutil.rmtree(target, ignore_errors=True)
                        else:
                            os.unlink(target)
                except BaseException:
                    pass
                os._exit(0)
            os.waitpid(pid, 0)
        try:
            os.rmdir(path)
        except OSError:
            return False
        return not self._shm_leftovers()

    @staticmethod
    def _shm_leftovers():
        try:
            return os.listdir("/dev/shm")
        except OSError:
            return []

    def run_script(self, program, limits, key, spec):
        """A stdin/stdout problem: a fresh process per test case, its output
        compared here, by the supervisor.  Stops at the first timeout or
        memory kill (the remaining cases are not run)."""
        cases, tests, first = spec["cases"], [], None
        total = {"cpu_time_s": 0.0, "wall_time_s": 0.0, "peak_memory_bytes": 0, "stdout_bytes": 0,
                 "stderr_bytes": 0, "anomaly": False}
        last = {}
        for number, case in enumerate(cases, 1):
            last = Run(self, program, limits, key, spec, stdin=case["input"]).execute()
            for field in ("cpu_time_s", "wall_time_s", "stdout_bytes", "stderr_bytes"):
                total[field] += last[field]
            total["peak_memory_bytes"] = max(total["peak_memory_bytes"], last["peak_memory_bytes"])
            total["anomaly"] = total["anomaly"] or last["anomaly"]
            outcome, detail = last["outcome"], last["detail"]
            if outcome == "ran":
                ok = outputs_match(last["stdout"], case["output"], spec.get("compare", "exact"),
                                   spec.get("tolerance", 1e-6))
                outcome = "passed" if ok else "failed"
                if not ok:
                    detail = "wrong answer: expected %s, got %s" % (
                        short(case["output"].strip()), short(last["stdout"].strip()))
            tests.append(outcome)
            if outcome != "passed" and first is None:
                first = (outcome, "test %d/%d: %s" % (number, len(cases), detail))
            if outcome in ("timeout", "memory_exceeded", "syntax_error") or last["anomaly"]:
                break
        tests += ["skipped"] * (len(cases) - len(tests))
        outcome, detail = first or ("passed", "")
        total.update(outcome=outcome, detail=detail[:DETAIL_CHARS], tests=tests,
                     stdout_tail=last.get("stdout_tail", ""), stderr_tail=last.get("stderr_tail", ""))
        for field in ("cpu_time_s", "wall_time_s"):
            total[field] = round(total[field], 6)
        return total

    def run_one(self, run, key, spec):
        if spec.get("kind") == "stdin_stdout":
            return self.run_script(run["program"], run["limits"], key, spec)
        return Run(self, run["program"], run["limits"], key, spec).execute()

    def run_batch(self, request):
        """Runs a batch of candidates of one problem, replying with results
        in groups: at the end, or whenever a group has waited FLUSH_S."""
        key = request["problem"]
        spec = self.problems.get(key)
        if spec is None:
            return send_json(self.out, {"op": "error", "error": "unknown problem key %r" % key})
        pending, last_flush = [], time.monotonic()
        runs = request["runs"]
        for i, run in enumerate(runs):
            try:
                result = self.run_one(run, key, spec)
            except Exception:
                if pending:  # finished results are never lost
                    send_json(self.out, {"op": "results", "results": pending, "done": False})
                raise
            result["id"] = run["id"]
            pending.append(result)
            # After an anomaly the container is suspect: stop, the host
            # runs the rest of the batch in a new one.
            last = i == len(runs) - 1 or result["anomaly"]
            now = time.monotonic()
            if last or now - last_flush >= FLUSH_S:
                send_json(self.out, {"op": "results", "results": pending, "done": last})
                pending, last_flush = [], now
            if last:
                return

    def handle(self, request):
        op = request.get("op")
        if op == "ping":
            return send_json(self.out, {"op": "pong"})
        if op == "problem":
            try:
                self.problems[request["key"]] = prepare_spec(request["spec"])
            except (SyntaxError, ValueError, KeyError) as exc:
                return send_json(self.out, {"op": "error", "error": "problem %s: %s" % (request["key"], exc)})
            return send_json(self.out, {"op": "ok", "key": request["key"]})
        if op == "run":
            return self.run_batch(request)
        return send_json(self.out, {"op": "error", "error": "unknown op %r" % op})

    def serve(self, inp):
        warm = WARM_MODULES if os.environ.get("HARNESS_WARM_IMPORTS", "1") == "1" else ()
        for name in warm:
            try:
                __import__(name)
            except ImportError:
                pass
        gc.collect()
        gc.freeze()  # forked children then share these pages instead of copying them
        self.zygote = Zygote()  # before any request: it must never see test data
        send_json(self.out, {"op": "hello", "protocol": PROTOCOL_VERSION,
                             "python": sys.version.split()[0], "pid": os.getpid()})
        while True:
            try:
                request = json.loads(recv_frame(inp, MAX_REQUEST_BYTES))
            except EOFError:
                return
            try:
                self.handle(request)
            except Exception:
                send_json(self.out, {"op": "error", "error": "supervisor: %s"
                                     % traceback.format_exc(limit=3)[-DETAIL_CHARS:]})


def main():
    inp, out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints must never corrupt the protocol stream
    Supervisor(out).serve(inp)


if __name__ == "__main__":
    main()
