"""The in-container supervisor: the only harness code that runs inside a sandbox.

It is stdlib-only and self-contained because the host sends it to the
container's stdin (``boot_payload()``); nothing is mounted or copied in.

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

import gc
import json
import os
import signal
import sys
import time
import traceback

from ...protocol import (
    DETAIL_CHARS,
    ERROR,
    FAILED,
    MAX_REQUEST_BYTES,
    MEMORY_EXCEEDED,
    OP_ERROR,
    OP_HELLO,
    OP_OK,
    OP_PING,
    OP_PONG,
    OP_PROBLEM,
    OP_PROGRESS,
    OP_RESULTS,
    OP_RUN,
    PASSED,
    PROTOCOL_VERSION,
    RAN,
    SKIPPED,
    SYNTAX_ERROR,
    TIMEOUT,
    recv_frame,
    send_json,
)
from .compare import outputs_match, short
from .execute import Judge, Run
from .golang import GoRun
from .java import JavaRun
from .javascript import JsJudge, JsRun, TsRun
from .judge import prepare_spec
from .native import NativeRun, require_toolchain
from .proc import JUDGE_ROOT, PR_SET_CHILD_SUBREAPER, SANDBOX_UID, WORK_ROOT, _libc, drop_to, oom_kills, remove_tree
from .rust import RustRun
from .zygote import Zygote

FLUSH_S = 0.25  # results wait at most this long before going to the host
HEARTBEAT_S = 2.0  # a long batch says it is alive at least this often

# Modules imported once here so that every forked candidate finds them warm.
# Kept small on purpose: fork time grows with the supervisor's memory.
WARM_MODULES = (
    "typing", "math", "re", "collections", "itertools", "functools", "heapq",
    "bisect", "string", "random", "copy", "operator", "tempfile",
)


class Supervisor:
    def __init__(self, out):
        self.out = out
        self.problems = {}
        self.counter = 0
        self.last_sent = time.monotonic()
        self.judge = Judge()
        self.js_judge = JsJudge()
        self.oom_seen = oom_kills()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        os.makedirs(WORK_ROOT, exist_ok=True)
        os.makedirs(JUDGE_ROOT, exist_ok=True)

    def send(self, message):
        send_json(self.out, message)
        self.last_sent = time.monotonic()

    def heartbeat(self):
        """Tells the host a long batch is alive: its deadline is per frame."""
        if time.monotonic() - self.last_sent >= HEARTBEAT_S:
            self.send({"op": OP_PROGRESS})

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
                    remove_tree(path)
                    for name in self._shm_leftovers():
                        target = "/dev/shm/" + name
                        if os.path.isdir(target) and not os.path.islink(target):
                            remove_tree(target)
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

    def run_script(self, program, limits, key, spec, argv=None, syntax_exit=False):
        """A stdin/stdout problem: a fresh process per test case, its output
        compared here, by the supervisor.  Stops at the first timeout or
        memory kill, or when the container became suspect: a case that did
        not run is never a pass.  ``argv``: a compiled program to execute
        instead of the Python ``program`` (``syntax_exit``: which says a
        syntax error with ``SYNTAX_EXIT``, as the Python candidate does)."""
        cases, tests, first = spec["cases"], [], None
        total = {"cpu_time_s": 0.0, "wall_time_s": 0.0, "peak_memory_bytes": 0, "stdout_bytes": 0,
                 "stderr_bytes": 0, "anomaly": False}
        last = {}
        lenient = spec.get("compat") == "apps"
        for number, case in enumerate(cases, 1):
            self.heartbeat()
            last = Run(self, program, limits, key, spec, stdin=case["input"], argv=argv,
                       syntax_exit=syntax_exit).execute()
            for field in ("cpu_time_s", "wall_time_s", "stdout_bytes", "stderr_bytes"):
                total[field] += last[field]
            total["peak_memory_bytes"] = max(total["peak_memory_bytes"], last["peak_memory_bytes"])
            total["anomaly"] = total["anomaly"] or last["anomaly"]
            outcome, detail = last["outcome"], last["detail"]
            if outcome == RAN:
                ok = outputs_match(last["stdout"], case["output"], spec.get("compare", "exact"),
                                   spec.get("tolerance", 1e-6), lenient)
                outcome = PASSED if ok else FAILED
                if not ok:
                    detail = "wrong answer: expected %s, got %s" % (
                        short(case["output"].strip()), short(last["stdout"].strip()))
            tests.append(outcome)
            if outcome != PASSED and first is None:
                first = (outcome, "test %d/%d: %s" % (number, len(cases), detail))
            if outcome in (TIMEOUT, MEMORY_EXCEEDED, SYNTAX_ERROR) or last["anomaly"]:
                break
        if first is None and len(tests) < len(cases):
            first = (ERROR, "test %d/%d: the candidate left files the sandbox could not remove; "
                     "the remaining cases were not run" % (len(tests), len(cases)))
        tests += [SKIPPED] * (len(cases) - len(tests))
        outcome, detail = first or (PASSED, "")
        total.update(outcome=outcome, detail=detail[:DETAIL_CHARS], tests=tests,
                     stdout_tail=last.get("stdout_tail", ""), stderr_tail=last.get("stderr_tail", ""))
        for field in ("cpu_time_s", "wall_time_s"):
            total[field] = round(total[field], 6)
        return total

    def run_one(self, run, key, spec):
        runs = {"go": GoRun, "rust": RustRun, "javascript": JsRun, "typescript": TsRun, "java": JavaRun}
        compiled = runs.get(spec.get("language"), NativeRun)
        if spec.get("kind") == "program":
            return compiled(self, run["program"], run["limits"], key, spec).execute()
        if spec.get("kind") == "stdin_stdout" and spec.get("language", "python") != "python":
            return compiled(self, run["program"], run["limits"], key, spec).execute_script()
        if spec.get("kind") == "stdin_stdout":
            return self.run_script(run["program"], run["limits"], key, spec)
        return Run(self, run["program"], run["limits"], key, spec).execute()

    def run_batch(self, request):
        """Runs a batch of candidates of one problem, replying with results
        in groups: at the end, or whenever a group has waited FLUSH_S."""
        key = request["problem"]
        spec = self.problems.get(key)
        if spec is None:
            return self.send({"op": OP_ERROR, "error": "unknown problem key %r" % key})
        pending, last_flush = [], time.monotonic()
        runs = request["runs"]
        for i, run in enumerate(runs):
            try:
                result = self.run_one(run, key, spec)
            except Exception:
                if pending:  # finished results are never lost
                    self.send({"op": OP_RESULTS, "results": pending, "done": False})
                raise
            result["id"] = run["id"]
            pending.append(result)
            # After an anomaly the container is suspect: stop, the host
            # runs the rest of the batch in a new one.
            last = i == len(runs) - 1 or result["anomaly"]
            now = time.monotonic()
            if last or now - last_flush >= FLUSH_S:
                self.send({"op": OP_RESULTS, "results": pending, "done": last})
                pending, last_flush = [], now
            if last:
                return

    def handle(self, request):
        op = request.get("op")
        if op == OP_PING:
            return self.send({"op": OP_PONG})
        if op == OP_PROBLEM:
            try:
                spec = request["spec"]
                if spec.get("language", "python") != "python":
                    require_toolchain(spec)
                self.problems[request["key"]] = dict(spec) if spec.get("kind") == "program" else prepare_spec(spec)
            except (SyntaxError, ValueError, KeyError) as exc:
                return self.send({"op": OP_ERROR, "error": "problem %s: %s" % (request["key"], exc)})
            return self.send({"op": OP_OK, "key": request["key"]})
        if op == OP_RUN:
            return self.run_batch(request)
        return self.send({"op": OP_ERROR, "error": "unknown op %r" % op})

    def serve(self, inp):
        warm = WARM_MODULES if os.environ.get("HARNESS_WARM_IMPORTS", "1") == "1" else ()
        for name in warm:
            try:
                __import__(name)
            except ImportError:
                pass
        # The first compile() in a process builds the interpreter's AST types
        # (~3.5 ms); done here once, no candidate pays it after the fork.
        compile("pass", "<warm>", "exec")
        gc.collect()
        gc.freeze()  # forked children then share these pages instead of copying them
        self.zygote = Zygote()  # before any request: it must never see test data
        self.judge.start_forker()
        self.send({"op": OP_HELLO, "protocol": PROTOCOL_VERSION,
                             "python": sys.version.split()[0], "pid": os.getpid()})
        while True:
            try:
                request = json.loads(recv_frame(inp, MAX_REQUEST_BYTES))
            except EOFError:
                return
            try:
                self.handle(request)
            except Exception:
                self.send({"op": OP_ERROR, "error": "supervisor: %s"
                                     % traceback.format_exc(limit=3)[-DETAIL_CHARS:]})


def main():
    inp, out = os.dup(0), os.dup(1)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints must never corrupt the protocol stream
    Supervisor(out).serve(inp)


if __name__ == "__main__":
    main()
