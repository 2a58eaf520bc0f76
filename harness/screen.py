"""Static screening of programs judged with ``test_isolation: shared``.

In shared mode the tests run in the candidate's own process, so a program
can fake its way through them. A passing program that does any of the
things below is *flagged* (the ``flags`` field of its result row) and never
kept by ``curate``: flagged, not silently trusted. The screen is a list of
known hacks, not a proof; split mode (the default) needs none of it.
"""

from __future__ import annotations

import ast

EXITS = {("sys", "exit"), ("os", "_exit"), ("os", "kill"), ("os", "abort"), ("os", "killpg")}
INTROSPECTION = {("sys", "_getframe"), ("inspect", "currentframe"), ("inspect", "stack"), ("inspect", "getouterframes"),
                 ("gc", "get_objects"), ("gc", "get_referrers"), ("gc", "get_referents")}
FRAME_ATTRIBUTES = {"f_back", "f_locals", "f_globals", "tb_frame", "gi_frame", "f_builtins"}
FRAMEWORK_MODULES = {"pytest", "_pytest", "unittest", "builtins", "atexit", "ctypes", "doctest"}


def _dotted(node: ast.AST) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def _always_true(function: ast.FunctionDef | ast.Lambda) -> bool:
    body = function.body if isinstance(function, ast.FunctionDef) else [ast.Return(function.body)]
    returns = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Return)]
    return bool(returns) and all(isinstance(r.value, ast.Constant) and r.value.value is True for r in returns)


def screen(program: str) -> tuple[str, ...]:
    """The known hacks ``program`` contains, by name; empty when none."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError):
        return ()
    flags: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in ("__eq__", "__ne__", "__bool__") and _always_true(node):
            flags.add("eq_always_true")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda) and _always_true(node.value) and any(
                isinstance(t, ast.Attribute) and t.attr == "__eq__" for t in node.targets):
            flags.add("eq_always_true")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in EXITS or (isinstance(node.func, ast.Name) and node.func.id in ("exit", "quit")):
                flags.add("exit_call")
            if name in INTROSPECTION:
                flags.add("frame_or_gc_introspection")
        elif isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in ast.unparse(node.exc):
            flags.add("exit_call")
        elif isinstance(node, ast.Attribute) and node.attr in FRAME_ATTRIBUTES:
            flags.add("frame_or_gc_introspection")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] in FRAMEWORK_MODULES for m in modules):
                flags.add("touches_test_framework_or_builtins")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__import__"):
            flags.add("touches_test_framework_or_builtins")
        elif isinstance(node, ast.Subscript) and _dotted(node.value) == ("sys", "modules"):
            flags.add("touches_test_framework_or_builtins")
    return tuple(sorted(flags))
