"""Duplicates beyond exact text: the same program with other names, and
near-copies.

``renamed`` is the dedup key: the program's AST without docstrings, its
identifiers renamed in order of appearance (``v0``, ``v1``...; builtins,
attributes and keyword names keep theirs), so ``total += x`` and
``acc += item`` are one program.  ``NearDuplicates`` finds near-copies among
a problem's passing programs with MinHash-LSH (``datasketch``) over 4-grams
of the renamed program's tokens.
"""

from __future__ import annotations

import ast
import builtins
import io
import tokenize
from typing import Any

from .errors import ConfigError, optional_module

BUILTIN_NAMES = frozenset(dir(builtins))
NUM_PERM = 64  # 512 bytes a program: the LSH index stays small at 100k candidates
SHINGLE = 4


class _Renamer(ast.NodeTransformer):
    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        if name in BUILTIN_NAMES:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self.new(node.arg)
        self.generic_visit(node)
        return node

    def _define(self, node: Any) -> ast.AST:
        node.name = self.new(node.name)
        self.generic_visit(node)
        return node  # type: ignore[no-any-return]

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _define

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [self.new(n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global  # type: ignore[assignment]


def strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]


def renamed_tree(code: str) -> ast.AST | None:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    strip_docstrings(tree)
    return _Renamer().visit(tree)  # type: ignore[no-any-return]


def renamed(code: str) -> str:
    """The dedup key: an AST dump with names renamed; the stripped text when it does not parse."""
    tree = renamed_tree(code)
    return ast.dump(tree, annotate_fields=False) if tree is not None else code.strip()


def shingles(code: str) -> set[bytes]:
    """4-grams of the renamed program's tokens (its text's words when it does not parse)."""
    tree = renamed_tree(code)
    if tree is None:
        tokens = code.split()
    else:
        skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                tokenize.ENDMARKER, tokenize.ENCODING}
        text = ast.unparse(tree)
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]
    if len(tokens) < SHINGLE:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i:i + SHINGLE]).encode() for i in range(len(tokens) - SHINGLE + 1)}


def _datasketch() -> Any:
    return optional_module("datasketch", "curation", "near-duplicate detection")


def minhash(code: str) -> Any:
    lib = _datasketch()
    signature = lib.MinHash(num_perm=NUM_PERM, seed=1)
    signature.update_batch(sorted(shingles(code)))
    return signature


class NearDuplicates:
    """Per problem, the programs seen so far; ``add`` says whether a new one is a
    near-copy (estimated Jaccard similarity >= ``threshold``) of one of them."""

    def __init__(self, threshold: float) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ConfigError(f"a near-duplicate threshold is a Jaccard similarity in (0, 1], not {threshold!r}")
        self.threshold = threshold
        self._lib = _datasketch()
        self._indexes: dict[str, Any] = {}
        self._signatures: dict[str, dict[str, Any]] = {}

    def add(self, problem: str, key: str, code: str) -> str | None:
        """Indexes ``code`` under ``key`` unless it nears a program already there;
        then returns that program's key instead."""
        signature = minhash(code)
        index = self._indexes.get(problem)
        if index is None:
            index = self._indexes[problem] = self._lib.MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)
        signatures = self._signatures.setdefault(problem, {})
        for other in index.query(signature):  # LSH candidates, confirmed on the estimate
            if signature.jaccard(signatures[other]) >= self.threshold:
                return str(other)
        index.insert(key, signature)
        signatures[key] = signature
        return None


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of two programs' shingles."""
    return float(minhash(a).jaccard(minhash(b)))
