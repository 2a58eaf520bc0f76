"""The in-container supervisor: the only harness code that runs inside a sandbox.

It is stdlib-only and self-contained because the host sends its source as the
container's command (``python3 -c SOURCE``); nothing is mounted or copied in.

Trust model, per candidate (three processes, three uids):

* the supervisor (this process, root with only SETUID/SETGID/KILL) forks
* a *judge* (uid ``JUDGE_UID``) that runs the problem's trusted test code, and
* a *candidate* (uid ``SANDBOX_UID``, its own session, cwd an empty work dir)
  that runs the untrusted program and answers the judge's calls over a pipe.

Arguments and return values cross the pipe with ``marshal``, which only builds
exact builtin types, so an object whose ``__eq__`` always says yes, a patched
builtin, ``sys.exit(0)``/``os._exit(0)`` or a printed marker cannot reach the
judge's comparisons.  The candidate cannot signal, ptrace or read the judge or
the supervisor (other uids, no capabilities).  The verdict is what the judge
writes on a pipe only it holds; the supervisor overrides it with ``timeout`` /
``memory_exceeded`` when it killed the candidate, or the kernel's OOM killer did.

Host protocol: frames of a 4-byte big-endian length and UTF-8 JSON, requests
on stdin, replies on stdout.  Requests: ``problem`` (cache a test spec by key),
``run`` (one candidate), ``ping``.  The first reply is ``hello``.
"""

import builtins
import ctypes
import json
import marshal
import math
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback

PROTOCOL_VERSION = 1
JUDGE_UID = 1001
SANDBOX_UID = 1002
WORK_ROOT = "/work"
MAX_REPLY_BYTES = 64 << 20
OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"
OOM_EVENTS_V2 = "/sys/fs/cgroup/memory.events"
DETAIL_CHARS = 600
TAIL_BYTES = 2048

# Modules imported once here so that every forked candidate finds them warm.
WARM_MODULES = (
    "typing", "math", "re", "collections", "itertools", "functools", "heapq",
    "bisect", "string", "random", "copy", "statistics", "fractions", "decimal",
    "json", "datetime", "hashlib", "operator", "dataclasses", "enum", "abc",
    "numbers", "array", "textwrap", "unittest", "tempfile", "threading",
    "subprocess",
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

def to_plain(value, depth=0):
    """Make ``value`` marshal-able where that keeps its meaning (numpy-like
    scalars, int/str subclasses).  Security does not rest on this: whatever the
    candidate sends, the judge only ever unmarshals plain builtins."""
    if depth > 50:
        raise TypeError("result nested too deeply")
    kind = type(value)
    if kind in (int, float, str, bytes, bool, complex, type(None)):
        return value
    if kind in (list, tuple, set, frozenset):
        return kind(to_plain(v, depth + 1) for v in value)
    if kind is dict:
        return {to_plain(k, depth + 1): to_plain(v, depth + 1) for k, v in value.items()}
    for base in (bool, int, float, str, bytes, complex):
        if isinstance(value, base):
            return base(value)
    if kind.__module__.startswith("numpy") and getattr(value, "ndim", None) == 0:
        return to_plain(value.item(), depth + 1)
    if isinstance(value, (list, tuple)):
        return type(value).__mro__[-2](to_plain(v, depth + 1) for v in value)
    raise TypeError("cannot return a %s to the tests" % kind.__name__)


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
            function = namespace[name]
            result = ("ok", to_plain(function(*args, **kwargs)))
        except BaseException as exc:
            result = ("raise", type(exc).__name__, str(exc)[:DETAIL_CHARS])
        try:
            payload = marshal.dumps(result)
        except ValueError as exc:
            payload = marshal.dumps(("raise", "TypeError", str(exc)))
        send_frame(rep_fd, payload)


# ----------------------------------------------------------- judge process ---

class CandidateRaised(Exception):
    """Marks an exception that the candidate raised (as opposed to the tests)."""


class CandidateGone(Exception):
    """The candidate process closed its pipe: it exited or was killed."""


def _raised(type_name, message):
    cls = getattr(builtins, type_name, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
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
        if type(reply) is tuple and len(reply) == 3 and reply[0] == "raise":
            raise _raised(str(reply[1]), str(reply[2]))
        raise _raised("ValueError", "malformed reply from candidate")


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


def exec_setup(setup, namespace):
    """Trusted context for the tests (e.g. helpers the prompt defines).  A
    prompt may end inside a function, so fall back to the part that parses."""
    if not setup:
        return
    for source in (setup, setup + "\n    pass\n"):
        try:
            exec(compile(source, "<prompt>", "exec"), namespace)
            return
        except SyntaxError:
            continue


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


def judge_main(spec, req_fd, rep_fd, verdict_fd):
    """Runs the problem's tests against the proxy and writes the verdict."""
    def verdict(outcome, detail=""):
        send_json(verdict_fd, {"outcome": outcome, "detail": detail[:DETAIL_CHARS]})

    try:
        first = marshal.loads(recv_frame(rep_fd))
    except (EOFError, ValueError):
        return verdict("gone", "the candidate process exited while loading")
    if type(first) is tuple and first[:1] == ("syntax",) and len(first) == 2:
        return verdict("syntax_error", str(first[1]))
    if type(first) is tuple and first[:1] == ("raise",) and len(first) == 3:
        return verdict("error", "%s: %s (while loading the program)" % (first[1], first[2]))
    if first != ("ready",):
        return verdict("error", "malformed message from the candidate process")

    proxy = CandidateProxy(spec["entry_point"], req_fd, rep_fd)
    namespace = {"__name__": "__judge__"}
    exec_setup(spec.get("setup", ""), namespace)
    namespace[spec["entry_point"]] = proxy
    namespace["candidate"] = proxy
    test = spec["test"]
    try:
        exec(compile(test, "<test>", "exec"), namespace)
        if spec.get("check_function"):
            namespace[spec["check_function"]](proxy)
    except CandidateGone as exc:
        return verdict("gone", str(exc))
    except BaseException as exc:
        detail = describe_failure(exc, test)
        if getattr(exc, "harness_from_candidate", False):
            return verdict("error", detail)
        return verdict("failed", detail)
    verdict("passed")


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


def kill_uids(uids):
    """SIGKILL every process of these uids, repeating until none is left, so a
    fork bomb or a double-forked daemon cannot outlive its candidate."""
    for _ in range(200):
        pids = pids_of(uids)
        alive = False
        for pid in pids:
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
        time.sleep(0.002)
    return False


class Reaped:
    def __init__(self):
        self.status = {}
        self.cpu = 0.0
        self.maxrss = 0


REAPED = Reaped()


def reap_all():
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        REAPED.status[pid] = status
        REAPED.cpu += usage.ru_utime + usage.ru_stime
        REAPED.maxrss = max(REAPED.maxrss, usage.ru_maxrss * 1024)


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


def spawn_candidate(program, workdir, limits, req_r, rep_w, out_w, err_w):
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")  # the OOM killer takes the candidate first
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        child_common([req_r, rep_w])
        set_limits(limits)
        drop_to(SANDBOX_UID)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update({
            "HOME": workdir, "TMPDIR": workdir, "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        import tempfile
        tempfile.tempdir = workdir
        sys.argv = ["candidate"]
        candidate_main(program, req_r, rep_w)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(0)


def spawn_judge(spec, req_w, rep_r, verdict_w):
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        child_common([req_w, rep_r, verdict_w])
        drop_to(JUDGE_UID)
        os.chdir("/")
        judge_main(spec, req_w, rep_r, verdict_w)
    except BaseException as exc:
        try:
            send_json(verdict_w, {"outcome": "judge_crash", "detail": repr(exc)[:DETAIL_CHARS]})
        except BaseException:
            pass
    os._exit(0)


class Tail:
    """Keeps the last bytes of a stream and counts all of them."""

    def __init__(self):
        self.data = b""
        self.total = 0

    def add(self, chunk):
        self.total += len(chunk)
        self.data = (self.data + chunk)[-TAIL_BYTES:]

    def text(self):
        return self.data.decode("utf-8", "replace")


class Run:
    """One candidate: spawns, watches and kills the judge/candidate pair."""

    def __init__(self, supervisor, request, spec):
        self.sup = supervisor
        self.limits = request["limits"]
        self.program = request["program"]
        self.spec = spec
        self.killed_for = None

    def execute(self):
        limits = self.limits
        workdir = self.sup.make_workdir()
        oom_before = oom_kills()
        REAPED.__init__()
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        verdict_r, verdict_w = os.pipe()
        started = time.monotonic()
        cand = spawn_candidate(self.program, workdir, limits, req_r, rep_w, out_w, err_w)
        judge = spawn_judge(self.spec, req_w, rep_r, verdict_w)
        for fd in (req_r, req_w, rep_r, rep_w, out_w, err_w, verdict_w):
            os.close(fd)
        streams = {out_r: Tail(), err_r: Tail(), verdict_r: Tail()}
        self.watch(streams, judge, cand, started)
        wall = time.monotonic() - started
        kill_uids((SANDBOX_UID, JUDGE_UID))
        for fd in streams:
            self.drain(fd, streams[fd])
            os.close(fd)
        clean = self.sup.clean_workdir(workdir)
        verdict = self.parse_verdict(streams[verdict_r].data)
        outcome, detail = self.classify(verdict, cand, oom_kills() > oom_before)
        stdout, stderr = streams[out_r], streams[err_r]
        if outcome in ("error", "failed") and stderr.total:
            detail = (detail + " | stderr: " + stderr.text()[-300:].strip())[:DETAIL_CHARS]
        return {
            "outcome": outcome, "detail": detail, "wall_time_s": round(wall, 6),
            "cpu_time_s": round(REAPED.cpu, 6), "peak_memory_bytes": REAPED.maxrss,
            "stdout_bytes": stdout.total, "stderr_bytes": stderr.total,
            "stdout_tail": stdout.text()[-500:], "stderr_tail": stderr.text()[-500:],
            "anomaly": outcome in ("timeout", "memory_exceeded") or not clean,
        }

    def drain(self, fd, tail):
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            tail.add(chunk)

    def watch(self, streams, judge, cand, started):
        limits = self.limits
        wall_deadline = started + limits["wall_time_s"]
        cpu_limit = limits["cpu_time_s"]
        out_cap = limits["output_bytes"]
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        poller.register(self.sup.wake_r, select.POLLIN)
        judge_done = False
        open_fds = set(streams)
        while True:
            reap_all()
            if judge in REAPED.status:
                judge_done = True
            if judge_done:
                return
            now = time.monotonic()
            if now >= wall_deadline:
                self.killed_for = "wall"
                return
            if now - started >= cpu_limit * 0.8:
                if REAPED.cpu + tree_cpu_seconds(SANDBOX_UID) > cpu_limit:
                    self.killed_for = "cpu"
                    return
                timeout_ms = 20
            else:
                timeout_ms = min(1000, max(1, int((started + cpu_limit * 0.8 - now) * 1000) + 1))
            for fd, _ in poller.poll(timeout_ms):
                if fd == self.sup.wake_r:
                    try:
                        os.read(fd, 4096)
                    except BlockingIOError:
                        pass
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                streams[fd].add(chunk)
                if streams[fd].total > out_cap and self.killed_for is None:
                    self.killed_for = "output"
                    return

    def parse_verdict(self, data):
        try:
            return json.loads(data[4:].decode()) if len(data) > 4 else None
        except ValueError:
            return None

    def classify(self, verdict, cand, oom):
        kind = self.killed_for
        if kind == "cpu":
            return "timeout", "CPU time limit of %ss exceeded" % self.limits["cpu_time_s"]
        if kind == "wall":
            return "timeout", "wall-clock limit of %ss exceeded" % self.limits["wall_time_s"]
        if kind == "output":
            return "error", "output limit of %d bytes exceeded" % self.limits["output_bytes"]
        status = REAPED.status.get(cand)
        if oom:
            return "memory_exceeded", "memory limit exceeded (killed by the OOM killer)"
        if status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig in (signal.SIGXCPU,):
                return "timeout", "CPU time limit of %ss exceeded" % self.limits["cpu_time_s"]
            if sig == signal.SIGXFSZ:
                return "error", "file size limit exceeded"
        if verdict is None:
            return "error", "the judge produced no verdict"
        outcome = verdict.get("outcome")
        detail = str(verdict.get("detail", ""))
        if outcome in ("passed", "failed", "error", "syntax_error"):
            return outcome, detail
        if outcome == "gone":
            if status is not None and os.WIFSIGNALED(status):
                name = signal.Signals(os.WTERMSIG(status)).name
                return "error", "candidate process killed by %s during the tests" % name
            code = os.WEXITSTATUS(status) if status is not None else "?"
            return "error", "candidate process exited with status %s during the tests" % code
        return "error", "judge failure: %s" % detail


class Supervisor:
    def __init__(self):
        self.problems = {}
        self.counter = 0
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        os.makedirs(WORK_ROOT, exist_ok=True)

    def make_workdir(self):
        self.counter += 1
        path = "%s/c%d" % (WORK_ROOT, self.counter)
        os.mkdir(path)
        os.chmod(path, 0o777)
        return path

    def clean_workdir(self, path):
        """Removes what the candidate left.  Files the candidate made are its
        own, so a short-lived child with its uid deletes them."""
        leftovers = os.listdir(path) or any(
            os.stat("/dev/shm/" + n).st_uid == SANDBOX_UID for n in self._shm())
        if leftovers:
            pid = os.fork()
            if pid == 0:
                try:
                    drop_to(SANDBOX_UID)
                    import shutil
                    shutil.rmtree(path, ignore_errors=True)
                    for name in self._shm():
                        shutil.rmtree("/dev/shm/" + name, ignore_errors=True)
                        try:
                            os.unlink("/dev/shm/" + name)
                        except OSError:
                            pass
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        try:
            os.rmdir(path)
            return True
        except OSError:
            return False

    @staticmethod
    def _shm():
        try:
            return os.listdir("/dev/shm")
        except OSError:
            return []

    def handle(self, request):
        op = request.get("op")
        if op == "ping":
            return {"op": "pong"}
        if op == "problem":
            self.problems[request["key"]] = request["spec"]
            return {"op": "ok", "key": request["key"]}
        if op == "run":
            spec = self.problems.get(request["problem"])
            if spec is None:
                return {"op": "error", "id": request.get("id"), "error": "unknown problem key"}
            reply = Run(self, request, spec).execute()
            reply.update(op="result", id=request.get("id"))
            return reply
        return {"op": "error", "error": "unknown op %r" % op}

    def serve(self, inp, out):
        for name in WARM_MODULES:
            try:
                __import__(name)
            except ImportError:
                pass
        send_json(out, {"op": "hello", "protocol": PROTOCOL_VERSION,
                        "python": sys.version.split()[0], "pid": os.getpid()})
        while True:
            try:
                request = json.loads(recv_frame(inp))
            except EOFError:
                return
            try:
                reply = self.handle(request)
            except Exception as exc:
                reply = {"op": "error", "id": request.get("id"),
                         "error": "supervisor: %s" % traceback.format_exc(limit=3)[-DETAIL_CHARS:]}
                del exc
            send_json(out, reply)


def main():
    inp, out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints must never corrupt the protocol stream
    Supervisor().serve(inp, out)


if __name__ == "__main__":
    main()
