"""Go: the program's package and the suite's ``TestXxx`` functions, compiled,
vetted (``go test``'s analyzers: a finding fails the build there too) and
linked here, then run by Go's own test runner from a ``main`` the judge
writes.

Never the ``go`` command: its build cache would be shared by every candidate
of a container and writable for them (one could plant a compiled package in
the next one's build).  The compiler and linker run with the image's import
config (``GO_IMPORTCFG``: the standard library, testify and the test
runner's ``testing/internal/testdeps``, compiled when the image was built);
nothing a build writes outlives it.

The tests run in the program's process, so nothing it prints or exits with
decides the verdict.  The judge's ``main`` lives in a package of its own,
which the program cannot name: it runs each test function through
``t.Run`` and records, in variables of its own, that the function ran and
passed; only when every one did and ``testing.M.Run`` returned 0 does it
write the completion mark (random bytes, new per run, two XOR halves in the
binary) to fd 3.  ``os.Exit(0)`` in an ``init()`` or a tested function,
``-test.*`` flags set from ``init()`` (``-test.run``, ``-test.list``), a
printed ``PASS`` or ``ok``: none writes it.  Refused before compiling: an
``import "unsafe"`` (pointer arithmetic or ``//go:linkname`` could reach the
judge's variables).  As in C, a program that reads or writes its own memory
through ``/proc/self/mem`` is the documented boundary of a shared process.
"""
import json
import os
import re

from ...protocol import ERROR, FAILED, GO_COMPILE, GO_IMPORTCFG, GO_LINK, GO_VET, RAN
from .native import MARK_BYTES, NativeRun, new_exec_dir, remove_binary, seal, split_mark

GO_PACKAGE = "harness/judged"  # the import path the program (and the tests) compile as
# TestXxx (Xxx not lower-case) with the one *testing.T parameter: what ``go test`` runs.
GO_TEST_FUNC = re.compile(r"^func\s+(Test(?:[^a-z\W]\w*)?)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)
# Comments, interpreted and raw string literals, rune literals.
GO_LEXEME = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])*\'', re.S)
GO_PACKAGE_CLAUSE = re.compile(r"\A((?:\s|//[^\n]*|/\*.*?\*/)*)package\s+\w+[ \t]*;?", re.S)
# What HumanEvalPack's evaluator (bigcode-evaluation-harness, IMPORT_HELPER["go"])
# imports for a program that uses them without importing them.  It also
# lists math/rand and crypto/md5 but imports them as "rand" and "md5", which
# never compile: a program relying on that fails there and here alike.
GO_HELPER_IMPORTS = ("math", "strings", "fmt", "strconv", "time", "bytes", "regexp", "sort")


def go_first_error(text):
    """The compiler's first ``file.go:line:col: message`` line, else the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if re.match(r"\S+\.go:\d+(:\d+)?: ", line):
            return line
    return lines[0] if lines else "the Go compiler failed without a message"


GO_TOKEN = re.compile(r'(?P<nl>\n)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<lit>"(?:\\.|[^"\\\n])*"|`[^`]*`'
                      r"|'(?:\\.|[^'\\\n])*'|\.?\d[\w.]*)|(?P<name>[A-Za-z_]\w*)|(?P<op>\+\+|--|\S)", re.S)
GO_KEYWORDS = frozenset("break case chan const continue default defer else fallthrough for func go goto if import "
                        "interface map package range return select struct switch type var".split())
# The universe block: a package-level declaration may shadow any of these,
# for every file of the package (``const true, false = 0 == 0, 0 == 0``
# would make the tests' expected values alike).
GO_UNIVERSE = frozenset("any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 "
                        "int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap "
                        "close complex copy delete imag len make new panic print println real recover".split())


def go_tokens(source):
    """The tokens of Go source, comments dropped, with the semicolons the
    language inserts at line ends made explicit (";")."""
    out = []
    for found in GO_TOKEN.finditer(source):
        kind, text = found.lastgroup, found.group()
        if kind == "nl" or (kind == "comment" and "\n" in text):
            if out and ends_statement(out[-1]):
                out.append(";")
        elif kind != "comment":
            out.append(text)
    return out


def ends_statement(token):
    if token[0] in "\"`'" or token[0].isdigit() or token in ("++", "--", ")", "]", "}"):
        return True
    return (token[0].isalpha() or token[0] == "_") and (
        token not in GO_KEYWORDS or token in ("break", "continue", "fallthrough", "return"))


def go_imports(source):
    """The import paths of a Go file's import declarations (they all come
    before its other declarations, after its package clause)."""
    tokens, paths, at = go_tokens(source), [], 0
    if tokens[:1] == ["package"]:
        at = 2
    while at < len(tokens) and tokens[at] in ("import", ";"):
        at += 1
        if tokens[at - 1] == ";":
            continue
        grouped = at < len(tokens) and tokens[at] == "("
        while at < len(tokens) and tokens[at] != (")" if grouped else ";"):
            if tokens[at][0] in "\"`":
                paths.append(tokens[at][1:-1])
            at += 1
        at += 1
    return paths


def leading_names(tokens, at):
    """``a, b`` at the start of a spec (``var a, b int``): its declared names."""
    names = []
    while at < len(tokens) and (tokens[at][0].isalpha() or tokens[at][0] == "_"):
        names.append(tokens[at])
        if tokens[at + 1:at + 2] != [","]:
            break
        at += 2
    return names


def go_declared(source):
    """The names a Go file declares at package level (funcs, not methods;
    vars, consts and types, grouped or not)."""
    tokens, names, depth, at = go_tokens(source), [], 0, 0
    while at < len(tokens):
        token = tokens[at]
        if token in ("(", "[", "{"):
            depth += 1
        elif token in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and token == "func" and tokens[at + 1:at + 2] != ["("]:
            names += tokens[at + 1:at + 2]
        elif depth == 0 and token in ("var", "const", "type"):
            if tokens[at + 1:at + 2] != ["("]:
                names += leading_names(tokens, at + 1)
            else:  # a group: a spec starts after "(" and after each ";" at its level
                at, level, start = at + 2, 0, True
                while at < len(tokens) and not (level == 0 and tokens[at] == ")"):
                    if start and level == 0:
                        names += leading_names(tokens, at)
                    start = level == 0 and tokens[at] == ";"
                    level += (tokens[at] in ("(", "[", "{")) - (tokens[at] in (")", "]", "}"))
                    at += 1
        at += 1
    return names


def in_package(source, name):
    """``source`` with its package clause (or a new first line) naming ``name``."""
    found = GO_PACKAGE_CLAUSE.match(source)
    if found:
        return found.group(1) + "package " + name + source[found.end():]
    return "package %s\n%s" % (name, source)


def with_helper_imports(source):
    """Adds an import of each helper package the file uses (``strings.`` on a
    line that is not a comment) without importing it, as HumanEvalPack's
    evaluator does for a completion that forgot one."""
    imported = set(go_imports(in_package(source, "p")))
    code = GO_LEXEME.sub(lambda m: "" if m.group(0).startswith("/") else '""', source)
    missing = [path for path in GO_HELPER_IMPORTS
               if path not in imported and re.search(r"(?<![\w.])%s\." % re.escape(path.split("/")[-1]), code)]
    if not missing:
        return source
    found = GO_PACKAGE_CLAUSE.match(source)
    block = "\nimport (\n%s)\n" % "".join('    "%s"\n' % path for path in missing)
    if found:
        return source[:found.end()] + block + source[found.end():]
    return block + source


GO_HEAD = re.compile(r'\A\s*package\s+\w+\s*;?(?:\s*import\s*(?:\([^)]*\)|(?:[\w.]+\s*)?"[^"]*")\s*;?)*')


def go_file(program, tests):
    """The one file the tests run in, as HumanEvalPack's and MultiPL-E's
    evaluators write it: the tests' package clause and imports (less those
    the program imports too), the program, then the tests; or, when the
    tests start by closing the program's function (MultiPL-E), the program
    then the tests.  Helper packages either uses without importing them are
    imported; the package is ``judged``, whatever either says."""
    if tests.lstrip().startswith("}"):
        return in_package(with_helper_imports(program + tests), "judged")
    head = GO_HEAD.match(tests)
    setup, body = (head.group(0), tests[head.end():]) if head and head.group(0).strip() else ("", tests)
    program = GO_PACKAGE_CLAUSE.sub(lambda m: m.group(1), program, count=1)  # the tests' clause is the file's
    own = set(go_imports("package p\n" + program))
    setup = "\n".join(line for line in setup.splitlines() if line.strip().strip('"') not in own or
                      not line.strip().startswith('"'))
    return in_package(with_helper_imports(setup + "\n" + program + "\n" + body), "judged")


def go_mark_function(name, mark):
    """Go source of ``func NAME()``, which writes ``mark`` to fd 3."""
    half, mask = split_mark(mark)
    return (
        "func %s() {\n"
        "\ta, b := []byte{%s}, []byte{%s}\n"
        "\tfor i := range a {\n\t\ta[i] ^= b[i]\n\t}\n"
        "\tif f := h_os.NewFile(3, \"mark\"); f == nil {\n\t\th_os.Exit(70)\n"
        "\t} else if _, err := f.Write(a); err != nil {\n\t\th_os.Exit(70)\n\t}\n"
        "}\n" % (name, half, mask))


def go_test_main(tests, mark, done):
    """The judge's ``package main``: every test function under ``t.Run``,
    then the mark if all of them ran and passed and the runner says 0."""
    cases = "".join('\t\t{"%s", h_judged.%s},\n' % (name, name) for name in tests)
    return (
        "package main\n\n"
        "import (\n\th_os \"os\"\n\th_testing \"testing\"\n\th_testdeps \"testing/internal/testdeps\"\n"
        "\th_judged \"%s\"\n)\n\n"
        "func main() {\n"
        "\ttests := []struct {\n\t\tname string\n\t\tf    func(*h_testing.T)\n\t}{\n%s\t}\n"
        "\tran, passed := make([]bool, len(tests)), make([]bool, len(tests))\n"
        "\tjudge := func(t *h_testing.T) {\n"
        "\t\tfor i, test := range tests {\n"
        "\t\t\ti, test := i, test\n"
        "\t\t\tpassed[i] = t.Run(test.name, func(t *h_testing.T) { ran[i] = true; test.f(t) }) && ran[i]\n"
        "\t\t}\n\t}\n"
        "\tm := h_testing.MainStart(h_testdeps.TestDeps{}, []h_testing.InternalTest{{Name: \"Test\", F: judge}},"
        " nil, nil, nil)\n"
        "\tcode := m.Run()\n"
        "\tfor i := range tests {\n\t\tif !passed[i] && code == 0 {\n\t\t\tcode = 1\n\t\t}\n\t}\n"
        "\tif code == 0 {\n\t\t%s()\n\t}\n"
        "\th_os.Exit(code)\n"
        "}\n\n%s" % (GO_PACKAGE, cases, done, go_mark_function(done, mark)))


# cmd/go's defaults for `go test` (its testVetFlags).
GO_TEST_VET = ("atomic", "bool", "buildtags", "errorsas", "ifaceassert", "nilfunc", "printf", "stringintconv")


def vet_config(files):
    """The unit-checker config ``go vet`` is driven by: the package's files
    and the archive of every import, from the image's import config."""
    if "archives" not in GO_STATE:  # read once per container, not per candidate
        archives = GO_STATE["archives"] = {}
        for line in go_import_config().decode().splitlines():
            if line.startswith("packagefile "):
                path, _, archive = line[len("packagefile "):].partition("=")
                archives[path] = archive
    archives = GO_STATE["archives"]
    return json.dumps({
        "ID": GO_PACKAGE, "Compiler": "gc", "Dir": ".", "ImportPath": GO_PACKAGE, "GoFiles": files,
        "NonGoFiles": [], "ImportMap": {path: path for path in archives}, "PackageFile": archives,
        "Standard": {path: True for path in archives if "." not in path.split("/")[0]}, "PackageVetx": {},
        "VetxOnly": False, "VetxOutput": "vet.out", "SucceedOnTypecheckFailure": False})


def go_import_config(extra=None):
    """The image's import config, plus ``extra`` {import path: archive}."""
    if "importcfg" not in GO_STATE:
        with open(GO_IMPORTCFG) as handle:
            GO_STATE["importcfg"] = handle.read()
    lines = ["packagefile %s=%s\n" % item for item in sorted((extra or {}).items())]
    return (GO_STATE["importcfg"].rstrip("\n") + "\n" + "".join(lines)).encode()


GO_STATE = {}


class GoRun(NativeRun):
    """One candidate of a Go ``program`` problem, or a Go stdin/stdout program."""

    def build(self, program):
        """{"binary", "mark"}, or a finished result (the build failed)."""
        tests = self.spec["test"]
        refused = go_refusal(program)
        if refused:
            return self.finished(ERROR, refused + ": refused, since it shares a process with the tests")
        names = GO_TEST_FUNC.findall(tests)
        if not names:
            return self.finished(ERROR, "the problem's tests cannot be run: they define no func TestXxx(t *testing.T)")
        mark = os.urandom(MARK_BYTES).hex()
        done = "harness_done_%s" % os.urandom(8).hex()
        binary, built = self.link({"main_test.go": go_file(program, tests)}, go_test_main(names, mark, done))
        if binary is None:
            return self.build_failure(built, "compiling")
        return {"binary": binary, "mark": mark}

    def refusal(self, program):
        return go_refusal(program)

    def compile(self, text, flags=()):
        """A stdin/stdout program (``package main``; Go always optimizes, so
        ``flags`` are C's): (the sealed binary's path or None, the result)."""
        return self.link({}, in_package(with_helper_imports(text), "main"))

    def link(self, files, main):
        """Compiles ``files`` (if any) as package ``GO_PACKAGE``, then ``main``,
        and links them on the exec tmpfs: (sealed binary or None, last tool result)."""
        folder = new_exec_dir()
        binary = folder + "/program"
        steps, extra = [], {}
        if files:
            extra[GO_PACKAGE] = folder + "/judged.a"
            steps.append(([GO_COMPILE, "-p", GO_PACKAGE, "-complete", "-importcfg", "importcfg", "-pack",
                           "-o", extra[GO_PACKAGE]] + sorted(files), files))
            # What `go test` checks before it runs the tests: vet's default
            # analyzers for tests; a finding fails the build there and here.
            steps.append(([GO_VET] + ["-" + name for name in GO_TEST_VET] + ["vet.cfg"],
                          dict(files, **{"vet.cfg": vet_config(sorted(files))})))
        steps.append(([GO_COMPILE, "-p", "main", "-complete", "-importcfg", "importcfg", "-pack",
                       "-o", folder + "/main.a", "harness_main.go"], {"harness_main.go": main}))
        steps.append(([GO_LINK, "-importcfg", "importcfg", "-buildmode=exe", "-s", "-w", "-o", binary,
                       folder + "/main.a"], {}))
        config = go_import_config(extra)
        result = None
        for argv, sources in steps:
            given = {name: text.encode("utf-8", "surrogateescape") for name, text in sources.items()}
            given["importcfg"] = config
            result = dict(self.tool(argv, given), argv0=argv[0])
            if result["outcome"] != RAN:
                remove_binary(binary)
                return None, result
        if not seal(folder, binary):
            remove_binary(binary)
            return None, result
        for name in os.listdir(folder):  # the archives (readable once the folder is root's again)
            if name != "program":
                os.unlink(os.path.join(folder, name))
        return binary, result

    def compiler_message(self, result):
        said = go_first_error((result.get("stderr_head") or "") + "\n" + (result.get("stdout") or "")
                              or result["detail"])
        return ("go vet: " + said) if result.get("argv0") == GO_VET else said

    def failure_wording(self, result, out, err):
        return go_verdict(result, out, err)


def go_refusal(program):
    """Why a Go program is refused before it is compiled with the tests, or
    "": it imports unsafe, or it declares a predeclared name (``true``,
    ``len``, ``int``...) at package level, which the tests would then use."""
    if "unsafe" in go_imports(in_package(program, "p")):
        return "the program imports unsafe"
    shadowed = sorted(set(go_declared(program)) & GO_UNIVERSE)
    if shadowed:
        return "the program declares %s at package level, which the tests would take for Go's own" % (
            ", ".join(shadowed))
    return ""


def go_verdict(result, out, err):
    """Go's wording of a failure: a failed test (``--- FAIL``, testify's
    ``Error:`` lines) is ``failed``; a panic or a crash stays the program's
    error.  ``out``/``err``: the run's stdout and the head of its stderr."""
    if result["outcome"] != ERROR or result["detail"].startswith("the program exited with status 0"):
        return result
    panic = [line for line in (err + "\n" + out).splitlines() if line.startswith(("panic: ", "fatal error: "))]
    if panic:
        result["detail"] = panic[0][:600]
    elif "--- FAIL: Test/" in out:
        lines = [re.sub(r"\s+", " ", line.strip()) for line in out.splitlines()]
        failed = [line.split("Test/", 1)[1].split(" ")[0] for line in lines if line.startswith("--- FAIL: Test/")]
        said = [line for line in lines if line.startswith(("Error:", "expected:", "actual :", "Messages:"))
                or re.match(r"\S+\.go:\d+: \S", line)]
        detail = "%s failed: %s" % (", ".join(failed[:3]), " | ".join(said[:4]))
        result.update(outcome=FAILED, detail=detail[:600])
    return result
