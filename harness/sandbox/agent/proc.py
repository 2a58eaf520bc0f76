"""Process control: uids, rlimits, reaping, killing and CPU accounting."""

import _signal
import ctypes
import marshal
import math
import os
import resource
import signal
import socket
import stat
import sys
import time

from ...protocol import HEADER, frame, read_exact, write_all

JUDGE_UID = 1001
SANDBOX_UID = 1002
WORK_ROOT = os.environ.get("HARNESS_WORK_ROOT", "/work")  # candidates' work dirs (overridable for unit tests)
JUDGE_ROOT = os.environ.get("HARNESS_JUDGE_ROOT", "/judge")  # the judges' own tmpfs

OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"
OOM_EVENTS_V2 = "/sys/fs/cgroup/memory.events"

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


def run_delay_seconds(pids):
    """Time the main threads of ``pids`` spent runnable but waiting for a
    CPU (the scheduler's run_delay, /proc/<pid>/schedstat): what other load
    took from them.  0 where the kernel does not keep it."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/schedstat" % pid) as handle:
                total += int(handle.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def is_running(pid):
    """The process exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def kill_uid(uid):
    """SIGKILL every process of ``uid``, repeating until none is left, so a
    fork bomb or a double-forked daemon cannot outlive its candidate."""
    for attempt in range(500):
        alive = False
        for pid in pids_of((uid,)):
            if not is_running(pid):
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


def kill_helper(pid):
    """Kills a helper process of the supervisor's (a judge) and reaps it;
    its usage was never the candidate's, and its pid may be reused."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass
    REAPED.exclude.discard(pid)


def reap_all():
    for exited in reaped():
        REAPED.record(*exited)


def absolute_imports_only():
    """Keeps only absolute ``sys.path`` entries: ``python3 -c`` puts '' (the
    cwd) first, and trusted code (the judge, the pytest warm-up) must never
    import a file a candidate left in a work dir."""
    sys.path[:] = [p for p in sys.path if os.path.isabs(p)]


def drop_to(uid):
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


# Plain ints, set through ``_signal``: ``signal.signal`` converts to and from
# enums, which costs a forked child ~50 copy-on-write page faults (~0.3 ms).
DEFAULT_SIGNALS = (int(signal.SIGCHLD), int(signal.SIGTERM), int(signal.SIGINT))


def child_common(keep_fds):
    """Shared by both children: default signals, a fixed seed, no stray fds."""
    signal.set_wakeup_fd(-1)
    for sig in DEFAULT_SIGNALS:
        _signal.signal(sig, _signal.SIG_DFL)
    keep = sorted(set(keep_fds) | {0, 1, 2})
    start = 0
    for fd in keep + [os.sysconf("SC_OPEN_MAX")]:
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    import random
    random.seed(0)


def fork_helper(main):
    """Forks a root helper of the supervisor's (the zygote, the judge forker)
    that runs ``main(sock)`` on its end of a new socket pair and never
    returns; returns (its pid, the supervisor's end)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            mine.close()
            child_common([theirs.fileno()])
            main(theirs)
        finally:
            os._exit(1)
    theirs.close()
    REAPED.exclude.add(pid)
    return pid, mine


def send_with_fds(sock, message, fds):
    """A marshal frame to or from a trusted helper, ``fds`` passed with its header."""
    data = frame(marshal.dumps(message))
    socket.send_fds(sock, [data[:HEADER.size]], fds)
    sock.sendall(data[HEADER.size:])


def recv_with_fds(sock, max_fds):
    """(message, fds) sent by ``send_with_fds``; (None, fds) at EOF."""
    header, fds, _, _ = socket.recv_fds(sock, HEADER.size, max_fds)
    if not header:
        return None, fds
    header += read_exact(sock.fileno(), HEADER.size - len(header))
    (size,) = HEADER.unpack(header)
    return marshal.loads(read_exact(sock.fileno(), size)), fds


def set_limits(limits):
    cpu = max(1, int(math.ceil(limits["cpu_time_s"])) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    fsize = int(limits["file_size_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    nofile = int(limits["open_files"])
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.get("address_space_bytes"):  # a compiler's own memory limit
        space = int(limits["address_space_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (space, space))


CANDIDATE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC",
    "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
}


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:  # real-time signals have no name
        return "signal %d" % number


def memory_file(data):
    """A readable fd holding ``data`` (bytes) that exists nowhere else."""
    try:
        fd = os.memfd_create("harness", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        path = "%s/.memfile-%d" % (WORK_ROOT, os.getpid())
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        os.unlink(path)
    write_all(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def remove_tree(path):
    """Deletes a tree its owner made, first making each directory writable
    and searchable again (``chmod 0`` on a dir must not keep it alive).
    Never follows symlinks."""
    try:
        os.chmod(path, 0o700, follow_symlinks=False)
    except OSError:
        pass  # not ours (the root-owned work dir itself) or already gone
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                remove_tree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


SHARE_BUDGET = 256  # entries looked at per call: a candidate that makes many files only slows itself
SHARE_DEPTH = 4


def share_files(root):
    """Opens what this process made in a work dir shared by tests and
    candidate (two uids) to the other side, as if they were one process:
    sqlite, for one, creates its files 0644 whatever the umask.  Works
    through fds and never follows a symlink the other side may plant."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _share_in(fd, [SHARE_BUDGET], SHARE_DEPTH)
    finally:
        os.close(fd)


def as_one_uid(mode):
    """The mode that gives everyone what the owner has (a file the tests
    made read-only stays read-only), never set-id bits."""
    owner = (mode >> 6) & 7
    return (mode & ~0o6077) | (owner << 3) | owner


def _share_in(dir_fd, budget, depth):
    me = os.getuid()
    try:
        entries = os.scandir(dir_fd)
    except OSError:
        return
    with entries:
        for entry in entries:  # lazily: a dir of a million names costs no more than the budget
            budget[0] -= 1
            if budget[0] < 0:
                return
            _share_entry(dir_fd, entry.name, me, budget, depth)


def _share_entry(dir_fd, name, me, budget, depth):
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return
    is_dir = stat.S_ISDIR(st.st_mode)
    if st.st_uid != me or not (is_dir or stat.S_ISREG(st.st_mode)) or (is_dir and depth <= 0):
        return
    if not is_dir and st.st_mode == as_one_uid(st.st_mode):
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_DIRECTORY if is_dir else 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return
    try:
        now = os.fstat(fd)  # what was opened, not what was listed
        if now.st_uid == me and stat.S_IFMT(now.st_mode) == stat.S_IFMT(st.st_mode):
            if now.st_mode != as_one_uid(now.st_mode):
                os.fchmod(fd, stat.S_IMODE(as_one_uid(now.st_mode)))
            if is_dir:
                _share_in(fd, budget, depth - 1)
    except OSError:
        pass
    finally:
        os.close(fd)
