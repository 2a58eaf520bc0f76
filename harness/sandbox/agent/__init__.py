"""The in-container supervisor ("agent"), kept as a package of stdlib-only
modules split by role and joined into the one source the container runs.

The host sends ``SOURCE`` as the container's command (``python3 -s -c``):
nothing is mounted or copied in, and no loader runs inside the sandbox.  The
join is plain concatenation in ``MODULES`` order with each module's relative
imports (``from .x import y``) dropped, since all modules then share one
namespace.  ``VERSION``, a hash of that source, is part of every result-store
key: any change to the agent may change verdicts.

Roles, in join order: ``harness.protocol`` (frames, message shapes, outcome
names; shared with the host), ``compare``, ``values`` (how values cross
between candidate and judge), ``proc`` (process control), ``shared`` (tests
in the candidate's process, for suites that need it), ``candidate``,
``link`` (the judge's end of a candidate), ``judge``, ``zygote``, ``execute`` (one candidate run) and
``supervisor`` (the request loop and ``main``).
"""

from __future__ import annotations

import ast
import hashlib
from importlib import resources

MODULES = ("harness.protocol", "compare", "values", "proc", "shared", "candidate", "link", "judge", "zygote",
           "execute", "supervisor")


def module_source(name: str) -> str:
    """``name`` is a module of this package, or a dotted one elsewhere in ``harness``."""
    package, _, leaf = name.rpartition(".")
    return resources.files(package or __name__).joinpath(f"{leaf}.py").read_text()


def strip_relative_imports(source: str) -> str:
    """Drops ``from .x import y`` statements (also multi-line ones)."""
    lines = source.splitlines(keepends=True)
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            end = node.end_lineno or node.lineno
            del lines[node.lineno - 1:end]
    return "".join(lines)


def joined_source() -> str:
    parts = [f"# ---- {name} ----\n" + strip_relative_imports(module_source(name)) for name in MODULES]
    return "\n".join(parts)  # supervisor.py ends with the ``__main__`` call


SOURCE = joined_source()
VERSION = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]

__all__ = ["MODULES", "SOURCE", "VERSION", "joined_source"]
