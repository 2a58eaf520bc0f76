"""The in-container supervisor ("agent"), kept as a package of stdlib-only
modules split by role and joined into the one source the container runs.

The container's command is a small loader (``boot_command()``) and the host
writes the agent to its stdin (``boot_payload()``): nothing is mounted or
copied in.  It travels compressed, as the bytecode the host compiled
(unmarshalled in ~3 ms where the sandbox's Python has the same bytecode
magic) and as source (compiled there otherwise, ~60 ms).  The
join is plain concatenation in ``MODULES`` order with each module's relative
imports (``from .x import y``) dropped, since all modules then share one
namespace.  ``VERSION``, a hash of that source, is part of every result-store
key: any change to the agent may change verdicts.

Roles, in join order: ``harness.protocol`` (frames, message shapes, outcome
names; shared with the host), ``compare``, ``values`` (how values cross
between candidate and judge), ``proc`` (process control), ``shared`` (tests
in the candidate's process, for suites that need it), ``candidate``,
``link`` (the judge's end of a candidate), ``judge``, ``zygote``, ``execute`` (one candidate run),
``native`` (C and C++), ``golang`` (Go), ``rust``, ``java``, ``jsfiles`` (the JavaScript sources
in ``js/``, as literals), ``javascript`` and ``supervisor`` (the request loop and ``main``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import re
import struct
import threading
import zlib
from importlib import resources

MODULES = ("harness.protocol", "compare", "values", "proc", "shared", "candidate", "link", "judge", "zygote",
           "execute", "native", "golang", "rust", "java", "jsfiles", "javascript", "supervisor")


def module_source(name: str) -> str:
    """``name`` is a module of this package, or a dotted one elsewhere in ``harness``."""
    package, _, leaf = name.rpartition(".")
    return resources.files(package or __name__).joinpath(f"{leaf}.py").read_text()


# A relative import at the top level, on one line or in parentheses over
# several (the only forms the agent's modules use; a unit test checks this
# against the modules' syntax trees).  A pattern, not ``ast``: the join runs at
# every start of the tool, and parsing 250 KB of source cost ~0.13 s of it.
RELATIVE_IMPORT = re.compile(r"^from \.+[\w.]* import (?:\([^)]*\)|[^\n(]*)\n", re.MULTILINE)


def strip_relative_imports(source: str) -> str:
    """Drops top-level ``from .x import y`` statements (also multi-line ones)."""
    return RELATIVE_IMPORT.sub("", source)


def joined_source() -> str:
    parts = [f"# ---- {name} ----\n" + (js_literals() if name == "jsfiles" else
                                          strip_relative_imports(module_source(name))) for name in MODULES]
    return "\n".join(parts)  # supervisor.py ends with the ``__main__`` call


def js_literals() -> str:
    """``jsfiles`` in the joined agent: its mapping as literals."""
    from .jsfiles import JS
    return f"JS = {JS!r}\n"


SOURCE = joined_source()
VERSION = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]

# The container's command is only ``BOOT``; the agent follows on stdin, as
# one message before the protocol's frames: a header (the host's bytecode
# magic, then the lengths of the compressed bytecode and source) and the two
# blobs.  Not in the command: dockerd JSON-encodes a container's command
# several times in its life, ~80 ms of CPU a container for 300 KB of agent.
BOOT_HEADER = ">4sII"
BOOT = """\
import os, struct, zlib, marshal
from importlib.util import MAGIC_NUMBER
def _read(n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit("agent: stdin closed before the agent arrived")
        data += chunk
    return bytes(data)
_magic, _compiled, _source = struct.unpack(%r, _read(struct.calcsize(%r)))
_compiled, _source = _read(_compiled), _read(_source)
if _magic == MAGIC_NUMBER:
    _agent = marshal.loads(zlib.decompress(_compiled))
else:
    _agent = compile(zlib.decompress(_source), "<agent>", "exec")
del _read, _magic, _compiled, _source
exec(_agent)
""" % (BOOT_HEADER, BOOT_HEADER)


def boot_command() -> tuple[str, ...]:
    """``python3`` arguments that start the agent (``-s``: no user site; not
    ``-I``, which would drop PYTHONHASHSEED); it then reads ``boot_payload()``
    from stdin."""
    return ("-s", "-c", BOOT)


_PAYLOAD_LOCK = threading.Lock()


def boot_payload(magic: bytes = importlib.util.MAGIC_NUMBER) -> bytes:
    """What the host writes to a new agent's stdin first.  ``magic``: the
    bytecode's (another forces the sandbox to compile the source)."""
    with _PAYLOAD_LOCK:  # built once (~70 ms), not once per thread starting a container at once
        return _payload(magic)


@functools.lru_cache(maxsize=2)
def _payload(magic: bytes) -> bytes:
    # dont_inherit: this module's ``from __future__`` must not leak into the agent.
    code = compile(SOURCE, "<agent>", "exec", dont_inherit=True, optimize=0)
    compiled = zlib.compress(marshal.dumps(code), 6)  # level 9: 1% smaller, 3x the time
    source = zlib.compress(SOURCE.encode(), 6)
    return struct.pack(BOOT_HEADER, magic, len(compiled), len(source)) + compiled + source


__all__ = ["BOOT", "MODULES", "SOURCE", "VERSION", "boot_command", "boot_payload", "joined_source"]
