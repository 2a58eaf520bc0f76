"""Compiled languages (C, C++): the program with the tests appended, as the
suites publish them, compiled and run in fresh processes of the sandbox uid.

The program shares a process with its tests, so nothing it can print or
return decides the verdict.  A pass needs exit status 0 *and* a completion
mark on fd 3: random bytes, new per run, written by a function the judge's
copy of the tests calls after their last statement, stored as two XOR halves
under a random name; the source is gone and the binary execute-only when
the program starts.  Between the program and the tests, the judge's guard:

* every macro the program defined or undefined is undefined (the
  preprocessor's own list: digraphs and continuations count), and
  ``assert`` becomes the judge's, which ``_exit``s without a signal;
* the entry point is declared again from the prompt and (C++) may not be
  overloaded, so a changed return type (an always-equal object) fails;
* (C++) the tests run in a namespace that hides every global operator, so
  the program's ``operator==`` for ``std::string`` is never what compares.

Refused before compiling (``refusal``, ``moves_lines``): line markers, which
would hide the program's macros from the listing; pragmas other than
code-generation ones (``redefine_extname`` rebinds the tests' calls);
operators or function specializations added to ``namespace std``.  Refused
after linking (``replaced_runtime``): a definition of a function the C or C++
runtime exports (``strcmp``, ``__assert_fail``...), which the tests would
call too.  Compiling has its own limits; the measured CPU time and memory
are the test run's.
"""
import mmap
import os
import re
import struct

from ...protocol import (
    ERROR,
    FAILED,
    GCC,
    GO_COMPILE,
    GXX,
    INFRA_ERROR,
    JAVAC,
    MEMORY_EXCEEDED,
    NODE,
    PASSED,
    RAN,
    RUSTC,
    SKIPPED,
    SYNTAX_ERROR,
    TIMEOUT,
    TYPESCRIPT,
)
from .execute import Run
from .proc import SANDBOX_UID
from .zygote import EXEC_FAILED

EXEC_ROOT = os.environ.get("HARNESS_EXEC_ROOT", "/exec")  # the one tmpfs a program may be executed from
MARK_BYTES = 16

# Per language: the source file name, how to preprocess (to list the
# candidate's macros) and how to compile.  OUT is the binary's path.
TOOLCHAINS = {
    "cpp": {"source": "main.cpp", "preprocess": [GXX, "-std=c++17", "-E", "-dD"],
            "compile": [GXX, "-std=c++17", "-o", "OUT", "main.cpp", "-Wl,--as-needed", "-lcrypto", "-lssl", "-lm"]},
    "c": {"source": "main.c", "preprocess": [GCC, "-std=gnu17", "-E", "-dD"],
          "compile": [GCC, "-std=gnu17", "-o", "OUT", "main.c", "-Wl,--as-needed", "-lm"]},
}
COMPILE_LIMITS = {"cpu_time_s": 30.0, "wall_time_s": 60.0, "output_bytes": 32 << 20,
                  "file_size_bytes": 256 << 20, "open_files": 256, "address_space_bytes": 2 << 30}
# For compilers on a JVM or V8 (javac, tsc), which reserve far more address
# space than they use: their memory limit is the cgroup's.
VM_COMPILE_LIMITS = dict(COMPILE_LIMITS, address_space_bytes=0)
RUNTIME_LIBRARIES = ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libcrypto.so.3", "libssl.so.3")
LIBRARY_DIRS = ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
                "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib")


def require_toolchain(spec):
    """Refuses (ValueError) a problem whose language this image cannot build."""
    language = spec.get("language")
    tools = dict({name: chain["compile"][0] for name, chain in TOOLCHAINS.items()}, go=GO_COMPILE, rust=RUSTC,
                 javascript=NODE, typescript=TYPESCRIPT, java=JAVAC)
    tool = tools.get(language)
    if tool is None:
        raise ValueError("no toolchain for language %r (known: %s)" % (language, ", ".join(tools)))
    if not os.path.exists(tool):
        raise ValueError("this image has no %s: build it with `harness sandbox build --languages %s`"
                         % (tool, language))


def first_error(text, markers=("error:", "undefined reference", "multiple definition"),
                nothing="the compiler failed without a message"):
    """The compiler's (or linker's) first line with one of ``markers``; the
    first line, failing that."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if any(marker in line for marker in markers):
            return line
    return lines[0] if lines else nothing


class Listing:
    """What ``-E -dD`` output (with line markers) says of the program itself,
    as opposed to the headers it includes: the macros it defines or
    undefines, its ``#pragma`` lines and its code, macros expanded."""

    def __init__(self, preprocessed, source):
        self.macros, self.pragmas, code = [], [], []
        current = None
        for line in preprocessed.splitlines():
            if line.startswith("# ") and '"' in line and line[2:].split(" ", 1)[0].isdigit():
                current = line.split('"')[1]
                continue
            if current != source:
                continue
            if line.startswith(("#define ", "#undef ")):
                name = line.split(None, 2)[1].split("(", 1)[0]
                if name not in self.macros:
                    self.macros.append(name)
            elif line.startswith("#pragma"):
                self.pragmas.append(line[len("#pragma"):].strip())
            else:
                code.append(line)
        self.code = "\n".join(code)


# Pragmas that only tune code generation or diagnostics; any other
# (redefine_extname, weak ...) could change what the tests' calls bind to.
SAFE_PRAGMAS = ("once", "GCC optimize", "GCC target", "GCC diagnostic", "GCC push_options", "GCC pop_options",
                "GCC unroll", "GCC ivdep", "pack", "message", "omp", "STDC")
TOKEN = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[A-Za-z_]\w*|::|<%|%>|[{};<>(]')


# Comments, string and character literals (C++ raw strings included), or a newline.
LEXEME = re.compile(r'/\*.*?\*/|//[^\n]*|R"([^(\s]{0,16})\(.*?\)\1"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                    re.S)
LINE_DIRECTIVE = re.compile(r"^[ \t]*(?:#|%:)[ \t]*(?:line\b|\d)", re.M)


def moves_lines(source):
    """Does the program set line markers itself (``#line 1 "stdio.h"``, or
    ``# 1 "x" 1 3``)?  They would make its own code look like a header's to
    ``Listing``, hiding its macros; no generated solution needs one.  Read
    from the source with continuations joined (trigraphs too) and comments
    and literals blanked, as the preprocessor sees it."""
    text = source.replace("??/", "\\").replace("??=", "#")
    text = re.sub(r"\\[ \t]*\r?\n", "", text)
    text = LEXEME.sub(lambda m: " " if m.group(0).startswith("/") else '""', text)
    return bool(LINE_DIRECTIVE.search(text))


def refusal(listing):
    """Why the program is refused before it is compiled with the tests, or
    "": a pragma that is not known to be harmless, or code that changes the
    C++ standard library the tests compare with (a function or operator
    declared in ``namespace std``, a specialization of one of its
    functions).  Specializing a class there (``std::hash``) is fine."""
    for pragma in listing.pragmas:
        if not pragma.startswith(SAFE_PRAGMAS):
            return "uses #pragma %s" % pragma.split("(")[0][:60]
    stack, tokens = [], [t for t in TOKEN.findall(listing.code) if t[0] not in "\"'"]
    statement = []  # tokens since the last ; { or }
    for at, token in enumerate(tokens):
        in_std = bool(stack) and stack[-1]
        if token in ("{", "<%"):
            opens_namespace = "namespace" in statement or "extern" in statement
            names_std = "std" in statement[statement.index("namespace") + 1:] if "namespace" in statement else False
            stack.append(opens_namespace and (in_std or names_std))
            statement = []
        elif token in ("}", "%>"):
            if stack:
                stack.pop()
            statement = []
        elif token == ";":
            statement = []
        else:
            statement.append(token)
            if token == "operator" and in_std and not statement_is_class(statement):
                return "declares an operator in namespace std, which the tests' comparisons would use"
            if token == ">" and statement[-3:] == ["template", "<", ">"]:
                head = tokens[at + 1:at + 40]
                cut = next((i for i, t in enumerate(head) if t in ("{", ";", "(", "<%")), len(head))
                if head[:1] not in (["struct"], ["class"], ["union"]) and (in_std or "std" in head[:cut]):
                    return "specializes a function of the C++ standard library"
    return ""


def statement_is_class(statement):
    return any(t in ("struct", "class", "union") for t in statement)


# Declared in the tests' namespace, never defined: unqualified lookup of an
# operator then stops there, so the program's global overloads (an
# ``operator==`` for vectors that always says yes) are never found; the
# standard library's still are, by argument-dependent lookup.
HIDDEN_OPERATORS = ("+", "-", "*", "/", "%", "^", "&", "|", "<", ">", "+=", "-=", "*=", "/=", "%=", "^=", "&=",
                    "|=", "<<", ">>", ">>=", "<<=", "==", "!=", "<=", ">=", "&&", "||", ",", "->*")


def hiders(tag):
    lines = ["struct %s {};" % tag]
    lines += ["void operator%s(%s, %s);" % (op, tag, tag) for op in HIDDEN_OPERATORS]
    lines += ["void operator%s(%s);" % (op, tag) for op in ("~", "!", "++", "--")]
    return "\n".join(lines)


def split_mark(mark):
    """``mark`` as two comma-separated byte lists whose XOR it is: neither
    half, in a binary's data, is the mark (or looks like it)."""
    mark = mark.encode()
    mask = os.urandom(len(mark))
    half = bytes(m ^ k for m, k in zip(mark, mask))  # noqa: B905 (equal lengths; old Pythons)
    return ",".join(map(str, half)), ",".join(map(str, mask))


def mark_function(name, mark):
    """C source of ``static void NAME(void)``, which writes ``mark`` to fd 3."""
    half, mask = split_mark(mark)
    mark = mark.encode()
    return (
        "static void %s(void) {\n"
        "  static const volatile unsigned char a[] = {%s}, b[] = {%s};\n"
        "  char text[%d]; unsigned i;\n"
        "  for (i = 0; i < %d; i++) text[i] = (char)(a[i] ^ b[i]);\n"
        "  if (write(3, text, %d) != %d) _exit(70);\n"
        "}\n" % (name, half, mask, len(mark), len(mark), len(mark), len(mark)))


def fail_function(name):
    """C source of the tests' ``assert`` failure: one line on stderr
    (``Assertion `EXPR' failed (main.cpp line N)``), then ``_exit(1)``: no
    signal, so no handler the program installed ever runs."""
    return (
        "static void %s(const char *what, int line) {\n"
        "  static const char head[] = \"Assertion `\", tail[] = \"' failed (line \";\n"
        "  char digits[16]; int n = 0, k;\n"
        "  for (k = 0; what[k]; k++) {}\n"
        "  do { digits[14 - n++] = (char)('0' + line %% 10); line /= 10; } while (line && n < 14);\n"
        "  digits[15] = ')';\n"
        "  if (write(2, head, sizeof head - 1) < 0 || write(2, what, k) < 0 || write(2, tail, sizeof tail - 1) < 0\n"
        "      || write(2, digits + 15 - n, n + 1) < 0 || write(2, \"\\n\", 1) < 0) _exit(1);\n"
        "  _exit(1);\n"
        "}\n" % name)


def compose(program, spec, listing, names, mark):
    """The program, then the judge's guard, then the tests: their ``#include``
    lines first, ``assert`` made the judge's own, and (C++) the rest in a
    namespace of their own whose ``main`` the real one calls; the tests
    call ``done()`` after their last statement.  ``names``: fresh random
    identifiers (done, fail, namespace)."""
    done, fail, space = names
    tests = spec["test"]
    if tests.lstrip().startswith("}"):  # MultiPL-E: the tests close the function the completion left open
        program, tests = program + "\n}", tests.lstrip()[1:]
    end = tests.rstrip().rfind("}")
    if end < 0:
        raise ValueError("the tests have no closing brace to finish at")
    lines = tests[:end].splitlines()
    includes = [line for line in lines if line.strip().startswith("#include")]
    body = "\n".join(line for line in lines if not line.strip().startswith("#include"))
    cpp = spec["language"] == "cpp"
    guard = [""] + ["#undef %s" % name for name in listing.macros] + includes + [
        "#include <assert.h>", "#include <unistd.h>", "#undef assert",
        "#define assert(e) ((e) ? (void)0 : %s(#e, __LINE__))" % fail, spec.get("prototype") or ""]
    if cpp and spec.get("entry_point"):  # an overloaded entry point has no address
        guard.append('static_assert(sizeof(&::%s) != 0, "the entry point must not be overloaded");'
                     % spec["entry_point"])
    guard += [mark_function(done, mark), fail_function(fail)]
    if not cpp:
        return "%s\n%s\n%s\n%s();\n%s" % (program, "\n".join(guard), body, done, tests[end:])
    return "%s\n%s\nnamespace %s {\n%s\n%s\n%s();\nreturn 0;\n}\n}\nint main() { return %s::main(); }\n" % (
        program, "\n".join(guard), space, hiders(space + "_hide"), body, done, space)


# ---------------------------------------------------------------- symbols ---

def elf_symbols(data, dynamic):
    """Names of the global and weak symbols an ELF64 file defines, from its
    ``.dynsym`` (``dynamic``: what a library exports) or ``.symtab``."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return set()
    endian = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(endian + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
    sections = [struct.unpack_from(endian + "IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    wanted = 11 if dynamic else 2  # SHT_DYNSYM, SHT_SYMTAB
    names = set()
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != wanted or not entsize:
            continue
        strings = sections[link][4]
        for at in range(offset + entsize, offset + size, entsize):  # entry 0 is the null symbol
            name_at, info, _, shndx = struct.unpack_from(endian + "IBBH", data, at)
            if shndx == 0 or (info >> 4) not in (1, 2):  # undefined, or local
                continue
            end = data.find(b"\0", strings + name_at)
            names.add((data[strings + name_at:end].decode("utf-8", "replace"), info >> 4))
    return names


def file_symbols(path, dynamic):
    """``elf_symbols`` of a file, mapped rather than read: a program's binary
    may be large, and the supervisor's memory is the container's."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return set()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return elf_symbols(data, dynamic)


RUNTIME = {}


def runtime_names():
    """What the C and C++ runtime libraries of this image export, once."""
    if "names" not in RUNTIME:
        found = set()
        for library in RUNTIME_LIBRARIES:
            for folder in LIBRARY_DIRS:
                path = os.path.join(folder, library)
                if os.path.isfile(path):
                    found |= {name.split("@", 1)[0] for name, _ in file_symbols(path, True)}
                    break
        RUNTIME["names"] = found
    return RUNTIME["names"]


def replaced_runtime(binary, baseline):
    """Runtime functions the program (the binary at path ``binary``) defines
    itself: strong definitions, or weak ones of C names (C++ template and
    inline code is weak and normal)."""
    clash = []
    for name, bind in file_symbols(binary, False):
        if name in baseline or name not in runtime_names():
            continue
        if bind == 1 or not name.startswith("_Z"):
            clash.append(name)
    return sorted(clash)


# ------------------------------------------------------------------- runs ---

class NativeRun:
    """One candidate of a ``program`` problem: preprocess, compile, check, run."""

    MARK_ON_STDOUT = False  # the mark comes on fd 3 (see JavaRun for a language that cannot write there)

    def __init__(self, supervisor, program, limits, key, spec):
        self.sup = supervisor
        self.program = program
        self.limits = limits
        self.key = key
        self.spec = spec
        self.tools = TOOLCHAINS.get(spec["language"])
        self.anomaly = False  # a compiler run left something behind: the container is retired after

    def tool(self, argv, files, limits=None):
        """A compiler run: a fresh sandbox-uid process with the compile limits."""
        result = Run(self.sup, "", dict(limits or COMPILE_LIMITS), self.key, self.spec, stdin="", argv=argv,
                     files=files).execute()
        self.anomaly = self.anomaly or result["anomaly"]
        return result

    def execute(self):
        compiled = self.build(self.program)
        if "outcome" in compiled:
            result = compiled
        else:
            try:
                result = self.run_built(compiled)
            finally:
                self.discard(compiled)
        result["anomaly"] = result["anomaly"] or self.anomaly
        return result

    def run_built(self, compiled):
        """The tests' run of what ``build`` made."""
        return self.run_argv([compiled["binary"]], compiled["mark"])

    def discard(self, compiled):
        remove_binary(compiled["binary"])

    def build(self, program):
        """{"binary", "mark"}, or a finished result (the build failed)."""
        source = self.tools["source"]
        listing = self.tool(self.tools["preprocess"] + [source], {source: program.encode("utf-8", "surrogateescape")})
        if listing["outcome"] != RAN:
            return self.build_failure(listing, "preprocessing")
        found = Listing(listing["stdout"], source)
        refused = "sets its own line markers" if moves_lines(program) else refusal(found)
        if refused:
            return self.finished(ERROR, "the program %s: refused, since it shares a process with the tests" % refused)
        mark = os.urandom(MARK_BYTES).hex()
        names = ["harness_%s_%s" % (role, os.urandom(8).hex()) for role in ("done", "fail", "tests")]
        try:
            text = compose(program, self.spec, found, names, mark)
        except ValueError as exc:
            return self.finished(ERROR, "the problem's tests cannot be run: %s" % exc)
        binary, built = self.compile(text)
        if binary is None:
            return self.build_failure(built, "compiling")
        clash = replaced_runtime(binary, baseline_names(self))
        if clash:
            remove_binary(binary)
            return self.finished(ERROR, "the program defines %s, which the C/C++ runtime defines: refused, "
                                        "since the tests would call it too" % ", ".join(clash[:5]))
        return {"binary": binary, "mark": mark}

    def compile(self, text, flags=()):
        """(the sealed binary's path, the compiler's result), the path None
        when the compiler made none: ``text`` built on the exec tmpfs."""
        folder = new_exec_dir()
        binary = folder + "/program"
        argv = [binary if part == "OUT" else part for part in self.tools["compile"]] + list(flags)
        built = self.tool(argv, {self.tools["source"]: text.encode("utf-8", "surrogateescape")})
        if built["outcome"] == RAN and seal(folder, binary):
            return binary, built
        remove_binary(binary)
        return None, built

    def execute_script(self):
        """A stdin/stdout problem: the program compiled as it is (``-O2``, no
        tests in it: the supervisor compares its output), then run once per
        test case by ``Supervisor.run_script``."""
        refused = self.refusal(self.program)
        if refused:
            result = self.finished(ERROR, refused + ": refused")
            result["tests"] = [ERROR] + [SKIPPED] * (len(self.spec["cases"]) - 1)
            return result
        binary, built = self.compile(self.program, ["-O2"])
        if binary is None:
            result = self.build_failure(built, "compiling")
            result["tests"] = [result["outcome"]] + [SKIPPED] * (len(self.spec["cases"]) - 1)
        else:
            try:
                result = self.sup.run_script("", self.limits, self.key, self.spec, argv=self.script_argv(binary))
            finally:
                self.discard({"binary": binary})
        result["anomaly"] = result["anomaly"] or self.anomaly
        return result

    def script_argv(self, binary):
        """How a compiled stdin/stdout program runs."""
        return [binary]

    def refusal(self, program):
        """Why a stdin/stdout program is refused before compiling, or "" (a
        language whose tests share its process refuses what it refuses there)."""
        return ""

    def run_argv(self, argv, mark):
        """The tests' run (``argv``), judged by the mark and the language's wording."""
        result = Run(self.sup, "", self.limits, self.key, self.spec, stdin="", argv=argv, mark=True).execute()
        out, err = result.get("stdout", ""), result.get("stderr_head", "")
        if self.MARK_ON_STDOUT:
            result["mark"] = out
        return self.failure_wording(verdict(result, mark), out, err)

    def failure_wording(self, result, out, err):
        """The result with the language's test runner's account of a failure
        (``out``/``err``: the run's stdout and the head of its stderr)."""
        return result

    def build_failure(self, result, stage):
        outcome, detail = result["outcome"], result["detail"]
        if result.get("stderr_head", "").startswith(EXEC_FAILED):  # the toolchain, not the program
            return self.finished(INFRA_ERROR, "%s: %s" % (stage, result["stderr_head"].strip()))
        if outcome == TIMEOUT:
            return self.finished(TIMEOUT, "%s: %s" % (stage, detail))
        if outcome == MEMORY_EXCEEDED:
            return self.finished(MEMORY_EXCEEDED, "%s: %s" % (stage, detail))
        if result.get("anomaly"):
            return dict(result, detail="%s: %s" % (stage, detail))
        return self.finished(SYNTAX_ERROR, self.compiler_message(result))

    def compiler_message(self, result):
        """The line of a failed build that says why."""
        return first_error(result.get("stderr_head") or result["detail"])

    def finished(self, outcome, detail):
        return {"outcome": outcome, "detail": detail[:600], "wall_time_s": 0.0, "cpu_time_s": 0.0,
                "peak_memory_bytes": 0, "stdout_bytes": 0, "stderr_bytes": 0, "stdout_tail": "",
                "stderr_tail": "", "anomaly": False}


def verdict(result, mark):
    """Passed: exit status 0 and the mark.  A failed ``assert`` is a failed
    test; any other way to end is the program's error."""
    seen = result.pop("mark", "")
    result.pop("stdout", None)
    head = result.pop("stderr_head", "")  # an assertion's line may be longer than the tail
    if result["outcome"] == RAN:
        if mark in seen:
            result.update(outcome=PASSED, detail="")
        else:
            result.update(outcome=ERROR, detail="the program exited with status 0 before the tests finished")
        return result
    failed = [line for line in (head + "\n" + result["stderr_tail"]).splitlines() if "Assertion" in line]
    if result["outcome"] == ERROR and failed:
        result.update(outcome=FAILED, detail=failed[0].strip()[:600])
    return result


def baseline_names(native):
    """Symbols every binary of this toolchain defines (the C runtime's start
    files): those of an empty program, compiled once.

    Raises:
        RuntimeError: the toolchain cannot build it (the host retries the
            batch in another container: an infra error, never a verdict).
    """
    key = "baseline-" + native.spec["language"]
    if key not in RUNTIME:
        binary, built = native.compile("int main(void) { return 0; }\n")
        if binary is None:
            raise RuntimeError("the %s toolchain cannot build an empty program: %s"
                               % (native.spec["language"], built["detail"] or built["stderr_tail"][-200:]))
        try:
            RUNTIME[key] = {name for name, _ in file_symbols(binary, False)}
        finally:
            remove_binary(binary)
    return RUNTIME[key]


COUNTER = [0]


def new_exec_dir():
    """A dir on the exec tmpfs the compiler (the sandbox uid) may write to."""
    COUNTER[0] += 1
    folder = "%s/b%d-%d" % (EXEC_ROOT, os.getpid(), COUNTER[0])
    os.mkdir(folder, 0o700)
    os.chown(folder, SANDBOX_UID, SANDBOX_UID)
    return folder


def seal(folder, binary):
    """Takes the dir and the binary from the sandbox uid: root's, the binary
    execute-only (the program cannot read, change or replace itself).
    False if the compiler left no regular file there."""
    os.chown(folder, 0, 0)
    os.chmod(folder, 0o711)
    try:
        st = os.lstat(binary)
    except OSError:
        return False
    if not (st.st_mode & 0o170000 == 0o100000):
        return False
    os.chown(binary, 0, 0)
    os.chmod(binary, 0o711)
    return True


def remove_binary(binary):
    folder = os.path.dirname(binary)
    try:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    except OSError:
        pass
