"""The host <-> sandbox-agent contract: frames, messages and outcome names.

Stdlib-only on purpose: the host imports this module and the agent's joined
source (``harness.sandbox.agent``) starts with it, so both sides speak from
this one definition.  Generic annotations are quoted: the sandbox's Python
evaluates them, and a bring-your-own image may have an older one.

Frames: a 4-byte big-endian length, then the payload.  Host <-> supervisor
payloads are UTF-8 JSON objects with an ``op``; inside the sandbox the same
frames carry JSON between supervisor, zygote and judge, and ``marshal`` data
between judge and candidate.

Host -> supervisor requests:
    ``{"op": "problem", "key", "spec"}``  compile and keep a test spec
    ``{"op": "run", "problem", "runs": [{"id", "program", "limits"}]}``
    ``{"op": "ping"}``
Supervisor -> host replies:
    ``{"op": "hello", "protocol", "python", "pid"}``  first frame, unasked
    ``{"op": "ok", "key"}`` / ``{"op": "pong"}`` / ``{"op": "error", "error"}``
    ``{"op": "results", "results": [RESULT...], "done"}``  a batch, in groups
    ``{"op": "progress"}``  a heartbeat while a long batch runs: the host's
        reply deadline is per frame, so a batch may take as long as its work
A RESULT has ``id``, ``outcome`` (one of ``OUTCOMES``), ``detail``,
``cpu_time_s``, ``wall_time_s``, ``peak_memory_bytes``, ``stdout_bytes``,
``stderr_bytes``, ``stdout_tail``, ``stderr_tail``, ``anomaly`` (the
container is suspect and is retired) and, for kinds with cases, ``tests``
(one of ``CASE_OUTCOMES`` per case).

A test SPEC (``harness.problems.Problem.test_spec``) has ``kind`` and, by kind:
    ``check_function``/``assertions``: ``setup`` (the prompt: trusted helpers),
        ``test``, ``entry_point``, ``check_function``, ``candidate_names``
    ``io_pairs``/``stdin_stdout``: ``cases`` [{"input", "output"}],
        ``entry_point``, ``compare``, ``tolerance``, ``unwrap_expected``, ``compat``
    ``pytest``: ``test`` (the module), ``module`` (what it imports the candidate as)
and, when not the default, ``test_isolation`` (``shared``).

Judge <-> candidate messages (marshal; values are ``values`` trees):
    ``("hello", trusted_names, shares_work_dir)`` -> ``("names", [(name, kind, data)])``
    ``("call", name, args, kwargs)`` / ``("op", handle, op, args, kwargs)``
        -> ``("ok", value, changes)`` | ``("raise", type, message, lineage)``
        | ``("stop",)``, with ``("callback", id, args, kwargs)`` requests in
        between, each answered ``("ret", value)`` or ``("err", type, message)``
    ``("assign", handle, attribute, value)``  the tests changed a watched attribute
    ``("print", 1|2, text)``  before a reply or callback: what the candidate
        printed meanwhile, for the tests' stdout/stderr (pytest tests only)
    ``("shared", tests, wall_time_s)`` -> ``("verdict", outcome, detail, cases)``
``changes`` lists ``(key, value)``: an argument the call mutated (``key`` its
position or keyword) or a watched attribute that changed (``("v", handle,
attribute)``).
"""

import json
import os
import struct

PROTOCOL_VERSION = 2

# The in-sandbox wall-clock limit does not count time a run waited for a CPU
# (a loaded machine), up to this many times the limit in real time; the host
# waits that long, plus its margin, for a reply.
WALL_STARVED_CAP = 3

# ----------------------------------------------------------- outcome names ---
# The verdicts a host sees (``harness.outcome.Outcome`` is built from these).
PASSED = "passed"
FAILED = "failed"  # a test assertion failed or a result was wrong
ERROR = "error"  # the candidate raised, crashed, exited, flooded output or broke the protocol
SYNTAX_ERROR = "syntax_error"
TIMEOUT = "timeout"  # CPU-time or wall-clock limit
MEMORY_EXCEEDED = "memory_exceeded"
INFRA_ERROR = "infra_error"  # the sandbox failed: retried, never scored
PROBLEM_ERROR = "problem_error"  # the tests cannot run, whatever the candidate does: reported, never scored
# Host-side only: the generator's reply was cut by its token limit before any
# answer; nothing ran.  A sample that did not pass (in pass@k's n), not a wrong program.
TRUNCATED = "truncated"
OUTCOMES = (PASSED, FAILED, ERROR, SYNTAX_ERROR, TIMEOUT, MEMORY_EXCEEDED, INFRA_ERROR, PROBLEM_ERROR, TRUNCATED)
# What a judge may conclude on its own; anything else is decided by the supervisor.
JUDGE_VERDICTS = (PASSED, FAILED, ERROR, SYNTAX_ERROR, PROBLEM_ERROR)
# Only inside the sandbox: the judge lost its candidate / the judge itself broke.
GONE = "gone"
JUDGE_CRASH = "judge_crash"
RAN = "ran"  # a stdin/stdout case ran to its end; its output is compared next
SKIPPED = "skipped"  # a case that never ran: a batch with one is never ``passed``
CASE_OUTCOMES = OUTCOMES + (SKIPPED,)

# ------------------------------------------------------------------ op names ---
OP_HELLO, OP_PROBLEM, OP_RUN, OP_PING, OP_PONG = "hello", "problem", "run", "ping", "pong"
OP_OK, OP_ERROR, OP_RESULTS, OP_PROGRESS = "ok", "error", "results", "progress"

# The compilers the agent's ``native`` module runs, and the host checks an image for.
GXX, GCC = "/usr/bin/g++", "/usr/bin/gcc"
COMPILERS = (GXX, GCC)
# Go's compiler, linker and vet, and the import config naming every package
# archive they may use (made by sandboxes/go/Dockerfile; see ``golang``).
GO_HOME = "/opt/harness-go"
GO_COMPILE, GO_LINK, GO_VET = GO_HOME + "/compile", GO_HOME + "/link", GO_HOME + "/vet"
GO_IMPORTCFG = GO_HOME + "/importcfg"
GO_TOOLS = (GO_COMPILE, GO_LINK, GO_VET)
# rustc, and the crates it links tests with (made by sandboxes/rust/Dockerfile; see ``rust``).
RUST_HOME = "/opt/harness-rust"
RUSTC = RUST_HOME + "/rustc"
RUST_CRATES = ("rand", "regex", "md5")
# Node.js, which runs both a JavaScript candidate and its judge (see ``javascript``).
NODE = "/usr/bin/node"
TYPESCRIPT = "/usr/share/nodejs/typescript/lib/typescript.js"  # Debian's node-typescript: `require('typescript')`
# The JDK's compiler and launcher, and javatuples (see ``java``).
JAVAC, JAVA = "/usr/bin/javac", "/usr/bin/java"
JAVA_TOOLS = (JAVAC, JAVA)
JAVATUPLES = "/usr/share/java/javatuples.jar"

MAX_REPLY_BYTES = 64 << 20
MAX_REQUEST_BYTES = 1 << 30
DETAIL_CHARS = 600
PRINT_CAP = 1 << 20  # characters a candidate's printing reaches pytest tests with, per candidate
HEADER = struct.Struct(">I")


# ------------------------------------------------------------------ framing ---

def frame(payload: bytes) -> bytes:
    """``payload`` (bytes) with its length header."""
    return HEADER.pack(len(payload)) + payload


def json_frame(message: "dict[str, object]") -> bytes:
    return frame(json.dumps(message).encode())


class FrameBuffer:
    """Splits a byte stream into frames, whatever chunks it arrives in."""

    def __init__(self, limit: int = MAX_REQUEST_BYTES) -> None:
        self.data = bytearray()
        self.limit = limit

    def feed(self, chunk: bytes) -> None:
        self.data += chunk

    def next(self) -> "bytes | None":
        """The next complete payload, or None while it is still incomplete."""
        if len(self.data) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self.data)
        if size > self.limit:
            raise ValueError("frame of %d bytes exceeds the %d byte limit" % (size, self.limit))
        if len(self.data) < HEADER.size + size:
            return None
        payload = bytes(self.data[HEADER.size:HEADER.size + size])
        del self.data[:HEADER.size + size]
        return payload


def read_exact(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def send_frame(fd: int, payload: bytes) -> None:
    write_all(fd, frame(payload))


def recv_frame(fd: int, limit: int = MAX_REPLY_BYTES) -> bytes:
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > limit:
        raise ValueError("frame of %d bytes exceeds the %d byte limit" % (size, limit))
    return read_exact(fd, size)


def send_json(fd: int, message: "dict[str, object]") -> None:
    write_all(fd, json_frame(message))
