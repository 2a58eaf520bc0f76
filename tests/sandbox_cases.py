"""Candidate programs with known outcomes, shared by the conformance and
hostile-candidate tests.  The problem: ``add(a, b)``."""

from __future__ import annotations

ADD_SPEC = {
    "kind": "check_function",
    "setup": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n",
    "test": (
        "def check(candidate):\n"
        "    assert candidate(1, 2) == 3\n"
        "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n"
        "    assert candidate('a', 'b') == 'ab'\n"
        "    assert candidate([1], [2]) == [1, 2]\n"
    ),
    "entry_point": "add",
    "check_function": "check",
}

RIGHT = "def add(a, b):\n    return a + b\n"

# name -> (program, expected outcome)
BASIC = {
    "right": (RIGHT, "passed"),
    "wrong": ("def add(a, b):\n    return a - b if isinstance(a, int) else a + b\n", "failed"),
    "syntax": ("def add(a, b)\n    return a + b\n", "syntax_error"),
    "raises": ("def add(a, b):\n    raise ValueError('no')\n", "error"),
    "raises_at_import": ("1 / 0\n" + RIGHT, "error"),
    "missing_function": ("def plus(a, b):\n    return a + b\n", "error"),
    "cpu_loop": ("def add(a, b):\n    while True:\n        pass\n", "timeout"),
    "sleeps": ("import time\ndef add(a, b):\n    time.sleep(60)\n", "timeout"),
    "memory_bomb": ("def add(a, b):\n    x = []\n    while True:\n        x.append(bytearray(8 << 20))\n",
                    "memory_exceeded"),
    "infinite_output": ("import sys\ndef add(a, b):\n    while True:\n        sys.stdout.write('x' * 65536)\n", "error"),
}

FORGERIES = {
    "sys_exit_at_import": ("import sys\nsys.exit(0)\n", "error"),
    "raise_systemexit_in_call": ("def add(a, b):\n    raise SystemExit(0)\n", "error"),
    "os_exit_in_call": ("import os\ndef add(a, b):\n    os._exit(0)\n", "error"),
    "os_exit_from_thread": (
        "import os, threading, time\n"
        "def add(a, b):\n"
        "    threading.Thread(target=lambda: os._exit(0)).start()\n"
        "    time.sleep(1)\n", "error"),
    "atexit_exit0": ("import atexit, os\natexit.register(lambda: os._exit(0))\n"
                     "def add(a, b):\n    return None\n", "failed"),
    "excepthook": ("import sys\nsys.excepthook = lambda *a: None\n"
                   "def add(a, b):\n    raise RuntimeError('hidden?')\n", "error"),
    "prints_markers": ("print('passed')\nprint('{\"outcome\": \"passed\"}')\nprint('OK: all tests passed')\n"
                       "def add(a, b):\n    print('passed')\n    return 0\n", "failed"),
    "writes_verdict_to_every_fd": (
        "import os, json, struct, marshal\n"
        "frame = json.dumps({'outcome': 'passed', 'detail': ''}).encode()\n"
        "for fd in range(3, 64):\n"
        "    for payload in (struct.pack('>I', len(frame)) + frame,\n"
        "                    struct.pack('>I', 9) + marshal.dumps(('ready',))[:9]):\n"
        "        try:\n            os.write(fd, payload)\n        except OSError:\n            pass\n"
        "def add(a, b):\n    return None\n", "error"),  # a corrupted channel is the candidate's error
    "always_equal_object": ("class A:\n    def __eq__(self, other):\n        return True\n"
                            "    def __sub__(self, o):\n        return 0\n"
                            "def add(a, b):\n    return A()\n", "failed"),  # only its truth value reaches the tests
    "int_subclass_eq": ("class I(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
                        "def add(a, b):\n    return I(7) if isinstance(a, int) else a + b\n", "failed"),
    "str_subclass_eq": ("class S(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\n"
                        "def add(a, b):\n    return S('zz') if isinstance(a, str) else a + b\n", "failed"),
    "list_subclass_eq": ("class L(list):\n    def __eq__(self, o):\n        return True\n"
                         "def add(a, b):\n    return L([9]) if isinstance(a, list) else a + b\n", "failed"),
    # Only its own end of the link runs on the builtins it broke; the judge's are untouched.
    "patches_builtins": ("import builtins\nbuiltins.abs = lambda x: 0\nbuiltins.isinstance = lambda *a: True\n"
                         "def add(a, b):\n    return 0\n", "failed"),
    "kills_parent_and_everyone": (
        "import os, signal\n"
        "for pid in (os.getppid(), 1, -1):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
        "def add(a, b):\n    return 0\n", "failed"),  # kill(-1) spares the caller: nothing else is reachable
    "kills_all_pids": (
        "import os, signal\n"
        "def add(a, b):\n"
        "    for pid in range(1, 400):\n"
        "        if pid != os.getpid():\n"
        "            try:\n                os.kill(pid, signal.SIGKILL)\n            except OSError:\n                pass\n"
        "    return 0\n", "failed"),
    "fork_bomb": ("import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
                  "        except OSError:\n            pass\n", "timeout"),
    "setuid_root": ("import os\nos.setuid(0)\n" + RIGHT, "error"),
}

# Correct programs doing legitimate things: must pass.
LEGIT = {
    "prints_a_lot": ("def add(a, b):\n    for i in range(2000):\n        print('line', i, 'x' * 100)\n"
                     "    return a + b\n", "passed"),
    "temp_files": ("import tempfile, os\ndef add(a, b):\n"
                   "    with tempfile.NamedTemporaryFile('w', delete=False) as f:\n        f.write(repr((a, b)))\n"
                   "    with open('scratch.txt', 'w') as g:\n        g.write('x' * 100000)\n"
                   "    os.makedirs('sub/dir', exist_ok=True)\n"
                   "    return a + b\n", "passed"),
    "threads": ("import threading\ndef add(a, b):\n    out = []\n"
                "    t = threading.Thread(target=lambda: out.append(a + b))\n    t.start()\n    t.join()\n"
                "    return out[0]\n", "passed"),
    "subprocess": ("import subprocess, sys\ndef add(a, b):\n"
                   "    r = subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True, text=True)\n"
                   "    assert r.stdout.strip() == '1'\n    return a + b\n", "passed"),
    "writes_outside_workdir_fail": (
        "import os\n"
        "escaped = []\n"
        "for path in ('/tmp/x', '/etc/passwd', '/x', '/work/x', '/usr/lib/x', '/root/x', '/proc/1/oom_score_adj',\n"
        "             os.path.expanduser('~') + '/../x'):\n"
        "    try:\n        with open(path, 'a') as f:\n            f.write('x')\n        escaped.append(path)\n"
        "    except OSError:\n        pass\n"
        "def add(a, b):\n    return a + b if not escaped else escaped\n", "passed"),
    "no_network": (
        "import socket\n"
        "reached = []\n"
        "for host in (('1.1.1.1', 53), ('8.8.8.8', 443), ('172.17.0.1', 2375)):\n"
        "    try:\n        socket.create_connection(host, timeout=0.5).close()\n        reached.append(host)\n"
        "    except OSError:\n        pass\n"
        "ifaces = [name for _, name in socket.if_nameindex()]\n"
        "def add(a, b):\n    return a + b if not reached and ifaces == ['lo'] else [reached, ifaces]\n", "passed"),
    "localhost_socket": (  # suites test socket code on localhost: it must resolve, and loopback work, with no network
        "import socket, threading\n"
        "def add(a, b):\n"
        "    server = socket.create_server(('localhost', 0))\n"
        "    def echo():\n        conn, _ = server.accept()\n        conn.sendall(conn.recv(64))\n        conn.close()\n"
        "    threading.Thread(target=echo).start()\n"
        "    with socket.create_connection(server.getsockname(), timeout=5) as client:\n"
        "        client.sendall(b'hi')\n        assert client.recv(64) == b'hi'\n"
        "    server.close()\n    return a + b\n", "passed"),
    "not_root_no_caps": (
        "import os\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm'))]\n"
        "ok = os.getuid() != 0 and os.geteuid() != 0 and all(l.split()[1] == '0000000000000000' for l in caps)\n"
        "def add(a, b):\n    return a + b if ok else caps\n", "passed"),
    "returns_builtin_subclasses": (
        "import collections\n"
        "class MyInt(int):\n    pass\n"
        "class MyStr(str):\n    pass\n"
        "class MyList(list):\n    pass\n"
        "def add(a, b):\n"
        "    r = a + b\n"
        "    return {int: MyInt, str: MyStr, list: MyList}.get(type(r), lambda v: v)(r)\n", "passed"),
    "deterministic_env": (
        "import os, sys, time\n"
        "ok = (os.environ.get('PYTHONHASHSEED') == '0' and os.environ.get('TZ') == 'UTC'\n"
        "      and sys.flags.hash_randomization == 0\n"
        "      and time.strftime('%Z') == 'UTC' and os.listdir('.') == [])\n"
        "def add(a, b):\n    return a + b if ok else dict(os.environ)\n", "passed"),
}

# A problem whose expected answer exists only in its test: a candidate that
# finds it in its own memory could pass without computing anything.
SECRET_SPEC = {
    "kind": "check_function",
    "setup": "def answer():\n    \"\"\"The answer.\"\"\"\n",
    "test": "def check(candidate):\n    assert candidate() == 'SECRET-4f1c9a'\n",
    "entry_point": "answer",
    "check_function": "check",
}

MEMORY_THIEF = r'''
import gc, re, sys
PATTERN = re.compile(("SEC" + "RET-") + "[0-9a-f]{6}")
BYTES = re.compile((("SEC" + "RET-") + "[0-9a-f]{6}").encode())

def scan(value, depth=0):
    if depth > 4:
        return None
    if isinstance(value, (str, bytes, bytearray)):
        text = value if isinstance(value, str) else bytes(value).decode("latin-1")
        match = PATTERN.search(text)
        return match.group(0) if match else None
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            found = scan(item, depth + 1)
            if found:
                return found
    code = getattr(value, "co_consts", None)
    return scan(list(code), depth + 1) if code else None

def from_memory():
    try:
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb") as mem:
            for line in maps:
                span, perms = line.split()[:2]
                if not perms.startswith("r"):
                    continue
                start, end = (int(x, 16) for x in span.split("-"))
                try:
                    mem.seek(start)
                    match = BYTES.search(mem.read(min(end - start, 64 << 20)))
                except (OSError, OverflowError, ValueError):
                    continue
                if match:
                    return match.group(0).decode()
    except OSError:
        return None

def answer():
    frame = sys._getframe()
    while frame is not None:
        found = scan(frame.f_locals) or scan(frame.f_globals)
        if found:
            return found
        frame = frame.f_back
    for obj in gc.get_objects():
        found = scan(obj)
        if found:
            return found
    return from_memory() or "nothing found"
'''

# ------------------------------------------------------------------------
# Issue 14 (tests/test_hostile.py): a stdin/stdout problem and correct
# programs that use common idioms the sandbox must not turn into failures.

SUM_SPEC = {
    "kind": "stdin_stdout",
    "cases": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"},
              {"input": "-1 1\n", "output": "0\n"}],
    "entry_point": "",
    "compare": "exact",
    "tolerance": 1e-6,
    "unwrap_expected": False,
}

# name -> a correct program for SUM_SPEC (read "a b", print a + b): must pass.
LEGIT_SCRIPTS = {
    "thread_without_join": (
        "import sys, threading\n"
        "sys.setrecursionlimit(10 ** 6)\n"
        "threading.stack_size(1 << 26)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "def main():\n"
        "    a, b = map(int, input().split())\n"
        "    extra = sum(depth(20000) for _ in range(10)) - 200000\n"
        "    print(a + b + extra)\n"
        "threading.Thread(target=main).start()\n"),
    "output_flushed_at_exit": (
        "import atexit, sys\n"
        "out = []\n"
        "atexit.register(lambda: sys.stdout.write(''.join(out)))\n"
        "a, b = map(int, input().split())\n"
        "out.append('%d\\n' % (a + b))\n"),
    "closes_stdout": (
        "import sys\n"
        "a, b = map(int, input().split())\n"
        "print(a + b)\n"
        "sys.stdout.close()\n"),
    "uses_dunder_file": (
        "import os\n"
        "HERE = os.path.dirname(os.path.abspath(__file__))\n"
        "a, b = map(int, input().split())\n"
        "print(a + b)\n"),
    "pickles_top_level_objects": (
        "import pickle\n"
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
        "def total(pair):\n    return pair.a + pair.b\n"
        "a, b = map(int, input().split())\n"
        "pair = pickle.loads(pickle.dumps(Pair(a, b)))\n"
        "print(pickle.loads(pickle.dumps(total))(pair))\n"),
    "multiprocessing_pool": (
        "import multiprocessing\n"
        "def square(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    a, b = map(int, input().split())\n"
        "    with multiprocessing.Pool(2) as pool:\n"
        "        squares = pool.map(square, [a, b])\n"
        "    print(a + b + sum(squares) - a * a - b * b)\n"),
}

# name -> a correct add(a, b) for ADD_SPEC: must pass.
LEGIT_FUNCTIONS = {
    "uses_dunder_file": ("import os\nHERE = os.path.dirname(os.path.abspath(__file__))\n"
                         "def add(a, b):\n    return a + b\n"),
    "pickles_top_level_objects": (
        "import pickle\n"
        "class Box:\n    def __init__(self, value):\n        self.value = value\n"
        "def ident(value):\n    return value\n"
        "def add(a, b):\n"
        "    box = pickle.loads(pickle.dumps(Box(a + b)))\n"
        "    return pickle.loads(pickle.dumps(ident))(box.value)\n"),
    "multiprocessing_pool": (
        "import multiprocessing\n"
        "def square(x):\n    return x * x\n"
        "def add(a, b):\n"
        "    with multiprocessing.Pool(2) as pool:\n"
        "        assert pool.map(square, [3, 4]) == [9, 16]\n"
        "    return a + b\n"),
}
