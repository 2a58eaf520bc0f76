"""Rust: the program with the suite's ``#[cfg(test)]`` module, compiled by
rustc as a test binary (``--test``), its tests run by libtest, Rust's own
test runner, whose verdict decides.

The tests share the program's process, so nothing it prints or exits with
decides the verdict.  The binary's test runner is the judge's
(``#![test_runner]``, a random name): it hands every test to libtest's
``test_main``, which returns only when all of them passed; then it writes
the completion mark (random, per run, two XOR halves) to fd 3.  Between the
program and the tests, the judge's guard:

* the tests' macros are called by path (``::std::assert_eq!``), so a
  ``macro_rules! assert_eq`` of the program's (textual scope wins over the
  prelude) is never what they call;
* the tests' module also glob-imports Rust's prelude and primitive types: a
  ``String``, ``ToString`` or ``i32`` of the program's, which ``use
  super::*`` would otherwise let shadow them silently, makes the name
  ambiguous, a compile error;
* the entry point must have the declared type (``const _: fn(Vec<f32>, f32)
  -> bool = f;``), so a changed return type with an always-true ``PartialEq``
  does not compile.

Refused before compiling: ``unsafe`` (it could reach the runner's state),
``include!``/``include_str!``/``include_bytes!`` and ``#[path]``/``mod x;``
(the composed source, with the mark's halves, is on disk while rustc runs),
``extern crate``, symbol attributes (``#[no_mangle]``, ``#[export_name]``,
``#[link_section]``, which could replace a C runtime function), inline
assembly, and inner attributes other than lint levels.  The boundary is
C's: a program that writes its own memory through ``/proc/self/mem``.
"""
import os
import re

from ...protocol import ERROR, FAILED, RAN, RUST_CRATES, RUST_HOME, RUSTC
from .native import MARK_BYTES, NativeRun, new_exec_dir, remove_binary, seal, split_mark

RUST_TOKEN = re.compile(r"""
    (?P<raw>b?r(?P<hashes>\#*)"[\s\S]*?"(?P=hashes))
  | (?P<str>b?"(?:\\[\s\S]|[^"\\])*")
  | (?P<char>b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^'\\\n])')
  | (?P<life>'[A-Za-z_]\w*)
  | (?P<name>r\#[A-Za-z_]\w*|[A-Za-z_]\w*)
  | (?P<num>\d[\w]*(?:\.\d[\w]*)?)
  | (?P<op>::|->|=>|\S)
""", re.X)
# What the tests' macros become: a path no macro of the program's can shadow.
RUST_STD_MACROS = frozenset("assert assert_eq assert_ne debug_assert debug_assert_eq debug_assert_ne panic vec "
                            "format print println eprint eprintln write writeln matches unreachable todo "
                            "unimplemented dbg".split())
# Inside the tests' module: an explicit glob of the prelude and the
# primitive types, so a name of the program's that would shadow one is ambiguous.
RUST_PRELUDE_GLOBS = " use ::std::prelude::rust_2021::*; use ::core::primitive::*;"
RUST_LINT_ATTRIBUTES = ("allow", "warn", "deny", "forbid")
RUST_SYMBOL_ATTRIBUTES = frozenset(("no_mangle", "export_name", "link_section", "link_name", "link", "used", "naked",
                                    "path", "test_runner", "test_case", "global_allocator", "panic_handler"))


def rust_tokens(source):
    """(start, end, kind, text) of each token, comments (nested ones too) skipped."""
    tokens, at, size = [], 0, len(source)
    while at < size:
        if source[at].isspace():
            at += 1
        elif source.startswith("//", at):
            end = source.find("\n", at)
            at = size if end < 0 else end
        elif source.startswith("/*", at):
            depth, at = 1, at + 2
            while at < size and depth:
                if source.startswith("/*", at):
                    depth, at = depth + 1, at + 2
                elif source.startswith("*/", at):
                    depth, at = depth - 1, at + 2
                else:
                    at += 1
        else:
            found = RUST_TOKEN.match(source, at)
            tokens.append((at, found.end(), found.lastgroup, found.group()))
            at = found.end()
    return tokens


def rust_refusal(program):
    """Why a Rust program is refused before it is compiled with the tests, or ""."""
    texts = [token[3] for token in rust_tokens(program)]
    for at, text in enumerate(texts):
        after = texts[at + 1:at + 4]
        if text == "unsafe":
            return "the program uses unsafe"
        if text in ("include", "include_str", "include_bytes") and after[:1] == ["!"]:
            return "the program reads a file at compile time (%s!)" % text
        if text in ("asm", "global_asm") and after[:1] == ["!"]:
            return "the program uses inline assembly"
        if text == "extern" and after[:1] == ["crate"]:
            return "the program declares an extern crate"
        if text == "mod" and after[1:2] == [";"]:
            return "the program loads a module from a file"
        if text == "#" and after[:1] == ["!"] and after[1:2] == ["["] and texts[at + 3:at + 4] \
                and texts[at + 3] not in RUST_LINT_ATTRIBUTES:
            return "the program sets the crate attribute #![%s]" % texts[at + 3]
        if text == "#" and after[:1] == ["["] and after[1:2] and after[1] in RUST_SYMBOL_ATTRIBUTES:
            return "the program uses #[%s]" % after[1]
    return ""


def inner_attributes_end(program):
    """Where the program's leading inner attributes (``#![allow(...)]``) end."""
    tokens, at, end = rust_tokens(program), 0, 0
    while [t[3] for t in tokens[at:at + 3]] == ["#", "!", "["]:
        depth, at = 0, at + 2
        while at < len(tokens):
            depth += (tokens[at][3] == "[") - (tokens[at][3] == "]")
            at += 1
            if depth == 0:
                break
        end = tokens[at - 1][1]
    return end


def guarded_tests(tests):
    """The judge's copy of the tests: std macros called by path, and the
    prelude globs after each ``use super::*;``."""
    tokens, out, last = rust_tokens(tests), [], 0
    for index, (start, end, kind, text) in enumerate(tokens):
        before = tokens[index - 1][3] if index else ""
        after = tokens[index + 1][3] if index + 1 < len(tokens) else ""
        if kind == "name" and text in RUST_STD_MACROS and after == "!" and before not in ("::", ".", "macro_rules"):
            out.append(tests[last:start] + "::std::" + text)
            last = end
        elif text == ";" and [t[3] for t in tokens[max(0, index - 4):index]] == ["use", "super", "::", "*"]:
            out.append(tests[last:end] + RUST_PRELUDE_GLOBS)
            last = end
    return "".join(out) + tests[last:]


def multiple_tests(rest):
    """MultiPL-E's tests (``fn main() { assert...; }`` at the crate root) as
    a test module of the judge's: its ``main`` one ``#[test]``, its names
    seen through ``use super::*`` (and the prelude globs) like HumanEvalPack's."""
    body = re.sub(r"\bfn\s+main\s*\(", "pub fn main(", rest, count=1)
    return ("\n#[cfg(test)]\nmod harness_multiple {\n    use super::*;\n%s\n"
            "    #[test]\n    fn multiple() {\n        main()\n    }\n}\n" % body)


def libtest_names(tests):
    """The ``#[test]`` functions of the judge's copy: libtest's names for them (``tests::test_x``)."""
    names, path, depth, pending = [], [], 0, None
    texts = [token[3] for token in rust_tokens(tests)]
    marked = False
    for at, text in enumerate(texts):
        if text == "mod" and at + 2 < len(texts) and texts[at + 2] == "{":
            pending = texts[at + 1]
        elif text == "{":
            depth += 1
            if pending is not None:
                path.append((pending, depth))
                pending = None
        elif text == "}":
            if path and path[-1][1] == depth:
                path.pop()
            depth -= 1
        elif texts[at:at + 4] == ["#", "[", "test", "]"]:
            marked = True
        elif text == "fn" and marked and at + 1 < len(texts):
            names.append("::".join([p for p, _ in path] + [texts[at + 1]]))
            marked = False
    return names


def split_top(text, separator=","):
    """``text`` split at ``separator`` outside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char in "<([") - (char in ">)]")
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current] if current.strip() else parts


def signature_guard(prototype, entry):
    """``const _: fn(A, B) -> R = entry;`` from the declared signature line
    (``fn f(a: A, b: B) -> R{``), in a module that sees the prelude
    unshadowed; "" for a generic one or one with lifetimes."""
    found = re.match(r"\s*(?:pub\s+)?fn\s+(\w+)\s*\(", prototype)
    if not found or found.group(1) != entry or "'" in prototype or "impl " in prototype:
        return ""
    depth, at = 1, found.end()
    while at < len(prototype) and depth:
        depth += (prototype[at] == "(") - (prototype[at] == ")")
        at += 1
    if depth:
        return ""
    rest = prototype[at:].strip().rstrip("{").strip()
    result = rest[2:].strip() if rest.startswith("->") else "()"
    types = []
    for param in split_top(prototype[found.end():at - 1]):
        if ":" not in param:
            return ""
        types.append(param.split(":", 1)[1].strip())
    return ("#[allow(dead_code, unused_imports)]\nmod harness_signature {\n    use super::*;%s\n"
            "    const _: fn(%s) -> %s = %s;\n}\n" % (RUST_PRELUDE_GLOBS, ", ".join(types), result, entry))


def rust_runner(name, crate, names, mark):
    """The judge's ``#![test_runner]``: libtest over every test, the mark
    after; a test of the judge's copy missing from the binary is an error."""
    half, mask = split_mark(mark)
    return (
        "fn %(name)s(tests: &[&%(crate)s::TestDescAndFn]) {\n"
        "    let owned: ::std::vec::Vec<%(crate)s::TestDescAndFn> = tests.iter().map(|t| match t.testfn {\n"
        "        %(crate)s::StaticTestFn(f) => %(crate)s::TestDescAndFn { desc: t.desc.clone(), "
        "testfn: %(crate)s::StaticTestFn(f) },\n"
        "        _ => ::std::process::exit(71),\n"
        "    }).collect();\n"
        "    for wanted in [%(names)s] {\n"
        "        if !owned.iter().any(|t| t.desc.name.as_slice() == wanted) { ::std::process::exit(72); }\n"
        "    }\n"
        "    %(crate)s::test_main(&[::std::string::String::from(\"harness\")], owned, ::std::option::Option::None);\n"
        "    let (a, b): (&[u8], &[u8]) = (&[%(half)s], &[%(mask)s]);\n"
        "    let text: ::std::vec::Vec<u8> = a.iter().zip(b.iter()).map(|(x, y)| x ^ y).collect();\n"
        "    use ::std::io::Write;\n"
        "    use ::std::os::unix::io::FromRawFd;\n"
        "    let mut out = ::std::mem::ManuallyDrop::new(unsafe { ::std::fs::File::from_raw_fd(3) });\n"
        "    if out.write_all(&text).is_err() { ::std::process::exit(70); }\n"
        "}\n" % {"name": name, "crate": crate, "names": ", ".join('"%s"' % n for n in names),
                 "half": half, "mask": mask})


def rust_first_error(text):
    """rustc's first ``error`` line, with the ``--> file:line:col`` after it."""
    lines = [line.rstrip() for line in text.splitlines()]
    for at, line in enumerate(lines):
        if line.startswith("error"):
            where = next((rest.strip() for rest in lines[at + 1:at + 3] if rest.strip().startswith("-->")), "")
            return (line + (" " + where if where else ""))[:600]
    found = [line for line in lines if line.strip()]
    return found[0] if found else "rustc failed without a message"


def rust_externs():
    flags = ["-L", "dependency=%s/deps" % RUST_HOME]
    for crate in RUST_CRATES:
        flags += ["--extern", "%s=%s/lib%s.rlib" % (crate, RUST_HOME, crate)]
    return flags


class RustRun(NativeRun):
    """One candidate of a Rust ``program`` problem, or a Rust stdin/stdout program."""

    def build(self, program):
        """{"binary", "mark"}, or a finished result (the build failed)."""
        refused = rust_refusal(program)
        if refused:
            return self.finished(ERROR, refused + ": refused, since it shares a process with the tests")
        tests = self.spec["test"]
        if tests.lstrip().startswith("}"):  # MultiPL-E: the tests close the function, then a main of asserts
            program, tests = program + "\n}\n", multiple_tests(tests.lstrip()[1:])
        names = libtest_names(tests)
        if not names:
            return self.finished(ERROR, "the problem's tests cannot be run: they have no #[test] function")
        # What HumanEvalPack's evaluator adds to a program without them: the
        # declaration's uses (after the program's inner attributes, which come first).
        missing = "".join(line.strip() + "\n" for line in self.spec.get("header") or () if line.strip() not in program)
        if missing:
            at = inner_attributes_end(program)
            program = program[:at] + "\n" + missing + program[at:]
        tag = os.urandom(8).hex()
        runner, crate = "harness_run_" + tag, "harness_test_" + tag
        mark = os.urandom(MARK_BYTES).hex()
        # The program's own inner attributes (lint levels) may follow the judge's: no item comes before it.
        text = ("#![feature(custom_test_frameworks, test)]\n#![test_runner(%s)]\n%s\n%s\n%s\n"
                "extern crate test as %s;\n%s" % (runner, program, guarded_tests(tests),
                   signature_guard(self.spec.get("prototype") or "", self.spec.get("entry_point")), crate,
                   rust_runner(runner, crate, names, mark)))
        binary, built = self.compile(text, ["--test"])
        if binary is None:
            return self.build_failure(built, "compiling")
        return {"binary": binary, "mark": mark}

    def refusal(self, program):
        return rust_refusal(program)

    def compile(self, text, flags=()):
        """rustc on ``text`` (``--test``: with the tests; C's ``-O2``: a
        stdin/stdout program, optimized): (sealed binary or None, result)."""
        folder = new_exec_dir()
        binary = folder + "/program"
        mode = ["--test"] if "--test" in flags else ["-C", "opt-level=2"]
        argv = ["/usr/bin/env", "RUSTC_BOOTSTRAP=1", RUSTC, "--edition", "2021", "-C", "debuginfo=0"] + mode + \
            rust_externs() + ["-o", binary, "main.rs"]
        built = self.tool(argv, {"main.rs": text.encode("utf-8", "surrogateescape")})
        if built["outcome"] == RAN and seal(folder, binary):
            return binary, built
        remove_binary(binary)
        return None, built

    def compiler_message(self, result):
        return rust_first_error(result.get("stderr_head") or result["detail"])

    def failure_wording(self, result, out, err):
        return rust_verdict(result, out)


def rust_verdict(result, out):
    """libtest's wording of a failure: a test whose panic is an assertion's
    is ``failed``; another panic (an index out of bounds, an overflow) is the
    program's ``error``.  ``out``: the run's stdout, where libtest reports."""
    if result["outcome"] != ERROR or result["detail"].startswith("the program exited with status 0"):
        return result
    failed = re.findall(r"^test (\S+) \.\.\. FAILED$", out, re.M)
    panics = re.findall(r"panicked at '(.*?)', (\S+)$", out, re.M | re.S)
    if not failed:
        return result
    reason = panics[0][0] if panics else ""
    detail = "%s failed: %s" % (", ".join(failed[:3]), " ".join(reason.split())[:400])
    outcome = FAILED if reason.startswith("assertion failed") or not reason else ERROR
    result.update(outcome=outcome, detail=detail[:600])
    return result
