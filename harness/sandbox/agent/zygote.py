"""The zygote: forks candidates from a process that never sees test data
or programs (each program reaches its candidate on an fd, after the fork)."""

import marshal
import os
import select
import signal
import sys
import time

from ...protocol import FrameBuffer, send_frame
from .candidate import candidate_main, candidate_script_main, flush_standard_streams, read_program
from .proc import (
    CANDIDATE_ENV,
    REAPED,
    SANDBOX_UID,
    child_common,
    drop_to,
    fork_helper,
    memory_file,
    reaped,
    recv_with_fds,
    send_with_fds,
    set_limits,
)

ZYGOTE_TIMEOUT_S = 10.0


def spawn_candidate(request, fds):
    """Forks a candidate.  ``fds`` start with the fd holding its program;
    ``function`` mode: then (requests in, replies out, stdout, stderr), and
    it serves the judge; ``script`` mode: then (stdin, stdout, stderr), and
    it runs as a program; ``exec`` mode: then (stdin, stdout, stderr, and
    optionally fd 3), and it executes ``request["argv"]`` (a compiler, a
    compiled program), the program fd unused."""
    pid = os.fork()
    if pid:
        return pid
    try:
        os.setsid()
        adj = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
        os.write(adj, b"1000")  # the OOM killer takes the candidate first
        os.close(adj)
        program_fd, rest = fds[0], fds[1:]
        script = request["mode"] in ("script", "script-apps")
        if request["mode"] == "exec":
            exec_native(request, rest)
        if script:
            stdin, out_w, err_w = rest
            keep = [program_fd]
        else:
            req_r, rep_w, out_w, err_w = rest
            stdin = os.open("/dev/null", os.O_RDONLY)
            keep = [program_fd, req_r, rep_w]
        os.dup2(stdin, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        workdir = confine(request, keep)
        if not script:
            os.umask(0)  # its work dir is shared with the tests (files they and it make by name)
        os.environ["HOME"] = os.environ["TMPDIR"] = workdir  # the rest is the zygote's: CANDIDATE_ENV
        import tempfile
        tempfile.tempdir = workdir
        sys.argv = ["candidate"]
        program = read_program(program_fd)
        if script:
            candidate_script_main(program, workdir, as_apps=request["mode"] == "script-apps")
        candidate_main(program, req_r, rep_w, workdir)
        flush_standard_streams()
    except BaseException:
        pass
    os._exit(0)


def confine(request, keep):
    """What a candidate process gets before it runs anything of its own: no
    fd but ``keep`` (and 0-2), the limits, the sandbox uid, its work dir
    (returned)."""
    child_common(keep)
    set_limits(request["limits"])
    drop_to(SANDBOX_UID)
    os.chdir(request["workdir"])
    return request["workdir"]


def candidate_env(workdir):
    return dict(CANDIDATE_ENV, HOME=workdir, TMPDIR=workdir)


EXEC_FAILED = "harness: cannot run "  # what stderr starts with when the exec itself failed


def exec_native(request, fds):
    """The ``exec`` mode's child, after its fork: fds in place, limits set,
    then the sandbox uid and ``execve``.  Never returns."""
    try:
        for target, fd in enumerate(fds):  # 0, 1, 2 and maybe 3
            os.dup2(fd, target)
        workdir = confine(request, range(len(fds)))
        os.execve(request["argv"][0], request["argv"], candidate_env(workdir))
    except BaseException as exc:
        try:
            os.write(2, ("%s%s: %s\n" % (EXEC_FAILED, request["argv"][0], exc)).encode())
        finally:
            os._exit(127)


def zygote_main(sock):
    """Forks candidates.  It is forked from the supervisor before the first
    request is read, and programs reach candidates on fds it only passes on,
    so a candidate's memory (a copy of the zygote's) holds no test, expected
    value or other candidate's program to read back."""
    # Once here instead of in every candidate (~90 page faults each).
    os.environ.clear()
    os.environ.update(CANDIDATE_ENV)
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
            request, fds = recv_with_fds(sock, 8)
            if request is None:
                os._exit(0)
            pid = spawn_candidate(request, fds)
            for passed_fd in fds:
                os.close(passed_fd)
            send_frame(fd, marshal.dumps(("pid", pid)))


# The zygote's messages are marshal data, not JSON: both ends are trusted,
# and every page the zygote's Python touches after a fork is a copy-on-write
# fault while the candidate lives (json's Python layers cost ~50 a candidate).


def report_exits(fd):
    for pid, status, cpu, maxrss in reaped():
        send_frame(fd, marshal.dumps(("exit", pid, status, cpu, maxrss)))


class Zygote:
    """The supervisor's handle on its zygote process."""

    def __init__(self):
        self.pid, self.sock = fork_helper(zygote_main)
        self.frames, self.last_pid = FrameBuffer(), None

    def spawn(self, program, workdir, limits, mode, fds, argv=None):
        """Asks for a candidate process; its pid arrives later (``candidate_pid()``),
        so that the judge can be started meanwhile.  The program travels in a
        memory file whose fd goes first, never through the zygote's heap."""
        self.last_pid = None
        program_fd = memory_file(program.encode("utf-8", "surrogateescape"))
        request = {"workdir": workdir, "limits": limits, "mode": mode, "argv": argv}
        try:
            send_with_fds(self.sock, request, [program_fd] + list(fds))
        finally:
            os.close(program_fd)

    def candidate_pid(self):
        while self.last_pid is None:
            self.note(self.receive())
        return self.last_pid

    def receive(self, timeout=None):
        """The next message, or None when ``timeout`` passes first."""
        while True:
            payload = self.frames.next()
            if payload is not None:
                return marshal.loads(payload)
            if timeout is not None and not select.select([self.sock], [], [], timeout)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("the zygote process is gone")
            self.frames.feed(chunk)

    def pump(self):
        """Reads the messages that are already waiting."""
        while True:
            message = self.receive(timeout=0)
            if message is None:
                return
            self.note(message)

    def note(self, message):
        if message[0] == "pid":
            self.last_pid = message[1]
        elif message[0] == "exit":
            REAPED.record(*message[1:])

    def wait_exit(self, pid, timeout):
        deadline = time.monotonic() + timeout
        while pid not in REAPED.status:
            message = self.receive(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                return False
            self.note(message)
        return True
