"""One candidate run: spawn, watch, kill, classify."""

import json
import marshal
import os
import select
import signal
import socket
import sys
import time

from ...protocol import (
    DETAIL_CHARS,
    ERROR,
    FAILED,
    GONE,
    INFRA_ERROR,
    JUDGE_CRASH,
    JUDGE_VERDICTS,
    MAX_REPLY_BYTES,
    MEMORY_EXCEEDED,
    PASSED,
    RAN,
    SYNTAX_ERROR,
    TIMEOUT,
    WALL_STARVED_CAP,
    FrameBuffer,
    recv_frame,
    send_frame,
)
from .candidate import SYNTAX_EXIT
from .compare import human_bytes
from .judge import judge_server, session_args
from .proc import (
    JUDGE_ROOT,
    JUDGE_UID,
    REAPED,
    SANDBOX_UID,
    absolute_imports_only,
    child_common,
    drop_to,
    fork_helper,
    is_running,
    kill_uid,
    memory_file,
    reap_all,
    reaped,
    recv_with_fds,
    run_delay_seconds,
    send_with_fds,
    signal_name,
    tree_cpu_seconds,
)
from .zygote import ZYGOTE_TIMEOUT_S

TAIL_BYTES = 2048

JUDGE_MAX_USES = 256  # a judge serves one problem, at most this many candidates

WARMED = []


def warm_pytest():
    """Imports pytest and the image's pytest plugins once, here, so that
    every judge forked from now on has them (a plugin such as faker's takes
    a second to import, per judge otherwise).  Candidates never see them:
    they fork from the zygote, started before.  Only absolute sys.path
    entries, as in the judge: nothing from a work dir."""
    if WARMED:
        return
    WARMED.append(True)
    absolute_imports_only()
    try:
        from importlib import metadata

        import pytest

        # pytest.main imports its built-in plugins (and pdb, for --pdb) on
        # every call: ~130 ms a judge unless they are imported here.
        from _pytest.config import default_plugins, essential_plugins
        for name in ["_pytest.%s" % plugin for plugin in essential_plugins + default_plugins] + ["pdb"]:
            try:
                __import__(name)
            except ImportError:
                pass
        try:
            entries = metadata.entry_points(group="pytest11")
        except TypeError:  # Python 3.9
            entries = metadata.entry_points().get("pytest11", [])
        for entry in entries:
            try:
                entry.load()
            except Exception:
                pass  # pytest itself will say so in the judge
        rehearse_session(pytest)
    except Exception:
        pass  # an image without pytest: the judge reports it


REHEARSAL = "def test_rehearsal():\n    pass\n"


def rehearse_session(pytest):
    """One throwaway session on a test of ours: what the image's plugins
    import only once a session starts (faker's autouse fixture builds a
    Faker: ~450 provider modules, each rewritten by pytest's assertion hook,
    ~100 ms) is then imported here, once, not once a judge.  Its output goes
    nowhere: this process's stdin and stdout carry the protocol."""
    import shutil
    import tempfile
    root = tempfile.mkdtemp(dir=JUDGE_ROOT)
    cwd = os.getcwd()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    streams = sys.stdin, sys.stdout, sys.stderr
    devnull = os.open(os.devnull, os.O_RDWR)
    quiet = open(os.devnull, "w")
    try:
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        sys.stdout = sys.stderr = quiet
        os.chdir(root)  # what a plugin leaves in its cwd (.hypothesis/) goes with it
        path = os.path.join(root, "test_rehearsal.py")
        with open(path, "w") as handle:
            handle.write(REHEARSAL)
        pytest.main(session_args(path, root))
    except BaseException:
        pass  # a plugin that breaks here breaks in the judge too, and is reported there
    finally:
        quiet.close()
        for fd, copy in enumerate(saved):  # 0, 1, 2
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)
        sys.stdin, sys.stdout, sys.stderr = streams
        os.chdir(cwd)
        shutil.rmtree(root, ignore_errors=True)


class JudgeForker:
    """The process that forks judges, itself forked from the supervisor
    before the first request.  A judge lives as long as its problem, and
    while a forked child lives, every page its parent writes is copied
    (copy-on-write): forking judges from the supervisor cost it ~430 page
    faults, ~5 ms, a problem.  This process does nothing else, and warms
    pytest (once) for the judges it forks."""

    def __init__(self):
        self.pid, self.sock = fork_helper(judge_forker_main)

    def fork(self, spec, judge_fd):
        """A judge for ``spec`` (prepared, with ``workdir``) serving on
        ``judge_fd``; returns its pid."""
        send_with_fds(self.sock, spec, [judge_fd])
        _, pid = marshal.loads(recv_frame(self.sock.fileno()))
        return pid


def judge_forker_main(sock):
    fd = sock.fileno()
    while True:
        spec, fds = recv_with_fds(sock, 1)
        if spec is None or len(fds) != 1:
            os._exit(0)
        # Reap the judges the supervisor killed (it stops one before it asks
        # for the next, so a dead judge's pid is never reused while it may
        # still be signalled).
        for _ in reaped():
            pass
        if spec.get("kind") == "pytest":
            warm_pytest()
        pid = os.fork()
        if pid == 0:
            judge_main(fds[0], spec)
        os.close(fds[0])
        del spec
        send_frame(fd, marshal.dumps(("pid", pid)))


def judge_main(fd, spec):
    """A judge process: never returns."""
    try:
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(devnull, std)
        child_common([fd])
        drop_to(JUDGE_UID)
        # pytest tests run in the candidate's work dir: a module they
        # import late must never come from a file the candidate left,
        # nor a rewritten test module from a __pycache__ of the judge's.
        absolute_imports_only()
        sys.dont_write_bytecode = True
        os.chdir(spec.get("workdir", "/"))
        judge_server(socket.socket(fileno=fd), spec)
    finally:
        os._exit(0)


class Judge:
    """The long-lived judge process of the current problem."""

    def __init__(self):
        self.forker = None
        self.pid = None
        self.sock = None
        self.key = None
        self.uses = 0
        self.count = 0

    def start_forker(self):
        """Before the first request: the forker never holds the supervisor's
        state of later requests (nor needs it)."""
        self.forker = JudgeForker()

    def ensure(self, key, spec):
        if self.pid is not None and self.key == key and self.uses < JUDGE_MAX_USES:
            return
        self.stop()
        if spec.get("kind") == "pytest":
            # pytest wants files: a dir only the judge can read (CAP_CHOWN),
            # on a tmpfs of its own that a candidate cannot fill.
            self.count += 1
            spec = dict(spec, workdir="%s/judge-%d" % (JUDGE_ROOT, self.count))
            os.mkdir(spec["workdir"], 0o700)
            os.chown(spec["workdir"], JUDGE_UID, JUDGE_UID)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = self.forker.fork(spec, theirs.fileno())
        finally:
            theirs.close()
        self.pid, self.sock, self.key, self.uses = pid, mine, key, 0

    def start(self, req_w, rep_r, limits, workdir):
        self.uses += 1
        run = {"wall_time_s": limits["wall_time_s"], "workdir": workdir}
        socket.send_fds(self.sock, [json.dumps(run).encode()], [req_w, rep_r])

    def stop(self):
        if self.pid is None:
            return
        self.sock.close()
        try:
            os.kill(self.pid, signal.SIGKILL)  # the forker reaps it
        except OSError:
            pass
        self.pid = self.sock = self.key = None


class Tail:
    """Keeps the last bytes of a stream (or all of them) and counts them."""

    def __init__(self, keep_all=False):
        self.data = b""
        self.head = b""  # the first bytes too: a compiler's first error comes first
        self.total = 0
        self.keep_all = keep_all
        self.chunks = []

    def add(self, chunk):
        if len(self.head) < TAIL_BYTES:
            self.head += chunk[:TAIL_BYTES - len(self.head)]
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


class Run:
    """One candidate process: spawns it, watches it, kills what it left.

    With a judge (function tests) the verdict is the judge's; with ``stdin``
    (script tests) the process runs on that input and the caller compares
    its output.  With ``argv`` it executes that instead of a Python program
    (a compiler, a compiled program: see ``native``) in a work dir holding
    ``files``, and with ``mark`` it also gets a pipe as fd 3, whose content
    comes back as ``mark``."""

    def __init__(self, supervisor, program, limits, key, spec, stdin=None, argv=None, mark=False, files=None,
                 peer=None, syntax_exit=False):
        self.sup = supervisor
        self.syntax_exit = syntax_exit or argv is None  # exit status SYNTAX_EXIT means a syntax error
        self.peer = peer  # a judge of another language's (``javascript``): its verdict, on its own fd
        self.program = program
        self.limits = limits
        self.key = key
        self.spec = spec
        self.stdin = stdin
        self.argv = argv
        self.mark = mark
        self.files = files or {}  # name -> bytes, put in the work dir first (a compiler's input)
        self.killed_for = None
        self.verdict = None
        self.cand = None

    def execute(self):
        limits, judge, zygote = self.limits, self.sup.judge, self.sup.zygote
        script = self.stdin is not None
        if not script and self.peer is None:
            judge.ensure(self.key, self.spec)
        workdir = self.sup.make_workdir()
        for name, data in self.files.items():
            with open(os.path.join(workdir, name), "wb") as handle:
                handle.write(data)
        REAPED.__init__()
        REAPED.exclude.update((judge.forker.pid, zygote.pid, self.peer and self.peer.pid))
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        mark_r, mark_w = os.pipe() if self.mark else (None, None)
        started = time.monotonic()
        if script:
            stdin = memory_file(self.stdin.encode())
            fds = [stdin, out_w, err_w] + ([mark_w] if self.mark else [])
            if self.argv:
                mode = "exec"
            else:
                mode = "script-apps" if self.spec.get("runner") == "apps" else "script"
            zygote.spawn(self.program, workdir, limits, mode, fds, argv=self.argv)
            for fd in fds:
                os.close(fd)
            self.cand = zygote.candidate_pid()
            # Its exit may have come in the same read as its pid: then it
            # waits in the zygote handle's buffer, and the socket stays quiet.
            zygote.pump()
        elif self.peer is not None:
            fds = self.peer.candidate_fds(out_w, err_w)
            zygote.spawn(self.program, workdir, limits, "exec", fds, argv=self.argv)
            for fd in fds:
                os.close(fd)
            self.peer.start(self.key, self.spec, limits)
        else:
            req_r, req_w = os.pipe()
            rep_r, rep_w = os.pipe()
            zygote.spawn(self.program, workdir, limits, "function", [req_r, rep_w, out_w, err_w])
            for fd in (req_r, rep_w, out_w, err_w):
                os.close(fd)
            try:
                judge.start(req_w, rep_r, limits, workdir)
            except OSError:
                self.verdict = {"outcome": JUDGE_CRASH, "detail": "the judge process is gone"}
            os.close(req_w)
            os.close(rep_r)
        streams = {out_r: Tail(keep_all=script), err_r: Tail()}
        if self.mark:
            streams[mark_r] = Tail(keep_all=True)
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
        # The zygote may be what the OOM killer took: then the sandbox is done.
        clean = self.sup.clean_workdir(workdir) and clean and is_running(zygote.pid)
        judged = self.verdict is not None and self.verdict.get("outcome") in JUDGE_VERDICTS
        if self.peer is not None:
            self.peer.finish(keep=judged and not self.killed_for)
        elif not script and (self.killed_for or not judged):
            judge.stop()  # it may be stuck or broken: the next run gets a new one
        oom = self.sup.oom_happened()
        if script:
            outcome, detail = self.classify_script(cand, oom, streams[out_r], streams[err_r])
        else:
            outcome, detail = self.classify(cand, oom)
        stdout, stderr = streams[out_r], streams[err_r]
        if outcome in (ERROR, FAILED) and stderr.total and not script:
            detail = (detail + " | stderr: " + stderr.text()[-300:].strip())[:DETAIL_CHARS]
        result = {
            "outcome": outcome, "detail": detail, "wall_time_s": round(wall, 6),
            "cpu_time_s": round(REAPED.cpu, 6), "peak_memory_bytes": REAPED.maxrss,
            "stdout_bytes": stdout.total, "stderr_bytes": stderr.total,
            "stdout_tail": stdout.text()[-500:], "stderr_tail": stderr.text()[-500:],
            # A timeout or memory kill does not cost the container: nothing of
            # the candidate is left (no process of its uid, no file), checked
            # above, and a judge it may have disturbed was replaced.
            "anomaly": outcome == INFRA_ERROR or not clean,
        }
        if self.verdict and self.verdict.get("tests") is not None:
            result["tests"] = self.verdict["tests"]
        elif self.spec.get("kind") == "io_pairs":  # it never got to the cases: all share its fate
            result["tests"] = [outcome] * len(self.spec["cases"])
        if script:
            result["stdout"] = stdout.everything()
            result["stderr_head"] = stderr.head.decode("utf-8", "replace")
        if self.mark:
            result["mark"] = streams[mark_r].everything()
        return result

    def watch(self, streams, started):
        limits = self.limits
        wall_deadline = started + limits["wall_time_s"]
        cpu_limit = limits["cpu_time_s"]
        out_cap = limits["output_bytes"]
        if self.peer is not None:
            judge_fd = self.peer.fd
        else:
            judge_fd = -1 if self.stdin is not None else self.sup.judge.sock.fileno()
        # The wall limit is for candidates that sleep or block: what the main
        # threads of the candidate and of its judge (the calls between them
        # are the run's critical path) waited for a CPU does not count.  Not
        # every thread's: a candidate's own threads queue behind each other.
        judge = [self.sup.judge.pid] if self.peer is None and self.stdin is None else []
        judge_waited = run_delay_seconds(judge)  # so far; a new candidate's starts at 0
        verdict = FrameBuffer(MAX_REPLY_BYTES)
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
                wall_deadline = self.wall_deadline(started, judge, judge_waited)
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
                    if not chunk:
                        self.verdict = {"outcome": JUDGE_CRASH, "detail": "the judge process died"}
                        return
                    verdict.feed(chunk)
                    payload = verdict.next()
                    while payload is not None:
                        message = json.loads(payload)
                        if self.peer is None or self.peer.is_verdict(message):
                            self.verdict = message
                            return
                        payload = verdict.next()
                    continue
                if not chunk:
                    poller.unregister(fd)
                    continue
                streams[fd].add(chunk)
                if streams[fd].total > out_cap:
                    self.killed_for = "output"
                    return

    def wall_deadline(self, started, judge, judge_waited):
        """The wall-clock deadline, moved on by the time the candidate's and
        its judge's main threads waited for a CPU (a loaded machine), never
        past ``WALL_STARVED_CAP`` times the limit."""
        limit = self.limits["wall_time_s"]
        cand = self.cand if self.cand is not None else self.sup.zygote.last_pid
        waited = run_delay_seconds([cand] if cand else []) + run_delay_seconds(judge) - judge_waited
        return started + limit + min(max(0.0, waited), (WALL_STARVED_CAP - 1) * limit)

    def limit_verdict(self, status, oom):
        """The verdict when a limit ended the run, else None."""
        kind, limits = self.killed_for, self.limits
        if kind == "cpu":
            return TIMEOUT, "CPU time limit of %ss exceeded" % limits["cpu_time_s"]
        if kind == "wall":
            return TIMEOUT, "wall-clock limit of %ss exceeded" % limits["wall_time_s"]
        if kind == "output":
            return ERROR, "output limit of %s exceeded (--output-mb raises it)" % human_bytes(limits["output_bytes"])
        if oom:
            return MEMORY_EXCEEDED, "memory limit of %d MiB exceeded" % (limits["memory_bytes"] >> 20)
        signalled = status is not None and os.WIFSIGNALED(status)
        if signalled and os.WTERMSIG(status) == signal.SIGXCPU:
            return TIMEOUT, "CPU time limit of %ss exceeded" % limits["cpu_time_s"]
        if signalled and os.WTERMSIG(status) == signal.SIGXFSZ:
            return ERROR, "file size limit of %d bytes exceeded" % limits["file_size_bytes"]
        return None

    def classify_script(self, cand, oom, stdout, stderr):
        """One stdin/stdout test case, judged on exit status and output."""
        status = REAPED.status.get(cand)
        limited = self.limit_verdict(status, oom)
        if limited:
            return limited
        tail = stderr.text()[-300:].strip()
        if status is None:
            return ERROR, "the candidate process vanished"
        if os.WIFSIGNALED(status):
            return ERROR, "killed by %s" % signal_name(os.WTERMSIG(status))
        code = os.WEXITSTATUS(status)
        if code == SYNTAX_EXIT and self.syntax_exit:
            return SYNTAX_ERROR, tail
        if code != 0:
            return ERROR, "exit status %d%s" % (code, (": " + tail) if tail else "")
        return RAN, ""

    def classify(self, cand, oom):
        verdict = self.verdict or {}
        outcome, detail = verdict.get("outcome"), str(verdict.get("detail", ""))
        status = REAPED.status.get(cand)
        # A passing verdict stands even if some memory kill happened meanwhile.
        limited = self.limit_verdict(status, oom and outcome != PASSED)
        if limited:
            return limited
        signalled = status is not None and os.WIFSIGNALED(status)
        if outcome in JUDGE_VERDICTS:
            return outcome, detail
        if outcome == GONE and status is not None:
            if signalled:
                return ERROR, "candidate process killed by %s during the tests" % signal_name(os.WTERMSIG(status))
            return ERROR, "candidate process exited with status %d during the tests" % os.WEXITSTATUS(status)
        if outcome == GONE:
            return ERROR, "the candidate process ended during the tests"
        # The judge itself failed (it crashed, or its tests broke): not the
        # candidate's doing, so the host retries it elsewhere.
        return INFRA_ERROR, "the tests could not complete: %s" % (detail or "no verdict")
