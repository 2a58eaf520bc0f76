"""The in-container supervisor ("agent"), kept as a package of stdlib-only
modules split by role and joined into the one source the container runs.

The host sends the agent in the container's command (``boot_command()``):
nothing is mounted or copied in.  It travels compressed, as the bytecode the
host compiled (unmarshalled in ~3 ms where the sandbox's Python has the same
bytecode magic) and as source (compiled there otherwise, ~60 ms), both split
into arguments under Linux's 128 KiB limit for one.  The
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

import base64
import functools
import hashlib
import importlib.util
import marshal
import re
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

ARG_CHARS = 100_000  # Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN)

# argv: BOOT, the host's bytecode magic, the number of bytecode chunks, the
# bytecode chunks, the source chunks.  The agent then runs in ``__main__``.
BOOT = """\
import sys, zlib, base64, marshal
from importlib.util import MAGIC_NUMBER
_magic, _count, _chunks = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
del sys.argv[1:]
if _magic == MAGIC_NUMBER.hex():
    _agent = marshal.loads(zlib.decompress(base64.b64decode("".join(_chunks[:_count]))))
else:
    _agent = compile(zlib.decompress(base64.b64decode("".join(_chunks[_count:]))), "<agent>", "exec")
del _magic, _count, _chunks
exec(_agent)
"""


def _chunks(data: bytes) -> list[str]:
    text = base64.b64encode(zlib.compress(data, 6)).decode("ascii")  # level 9: 1% smaller, 3x the time
    return [text[i:i + ARG_CHARS] for i in range(0, len(text), ARG_CHARS)]


@functools.lru_cache(maxsize=1)
def boot_command() -> tuple[str, ...]:
    """``python3`` arguments that run the agent (``-s``: no user site; not
    ``-I``, which would drop PYTHONHASHSEED)."""
    # dont_inherit: this module's ``from __future__`` must not leak into the agent.
    code = compile(SOURCE, "<agent>", "exec", dont_inherit=True, optimize=0)
    compiled, source = _chunks(marshal.dumps(code)), _chunks(SOURCE.encode())
    return ("-s", "-c", BOOT, importlib.util.MAGIC_NUMBER.hex(), str(len(compiled)), *compiled, *source)


__all__ = ["BOOT", "MODULES", "SOURCE", "VERSION", "boot_command", "joined_source"]
