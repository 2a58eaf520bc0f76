"""Go programs for one small problem (``func Add(a, b int) int``), in the
two layouts Go suites use, each with the verdict it must get: the hostile
ones must never pass (issue 10's list: ``os.Exit(0)`` in ``init()`` or in
the tested function, the test runner's flags set from ``init()``, a printed
``PASS``, the tests' ``true`` redefined...), the legitimate ones get what
they earn."""

from __future__ import annotations

# HumanEvalPack's layout: tests in TestXxx functions, with testify; the
# test_setup (package clause and imports) heads the tests' file.
PACK_SETUP = 'package main\n\nimport (\n    "testing"\n    "github.com/stretchr/testify/assert"\n)\n'
PACK_TEST = ("func TestAdd(t *testing.T) {\n    assert := assert.New(t)\n    assert.Equal(3, Add(1, 2))\n"
             "    assert.Equal(true, Add(-4, 4) == 0)\n    assert.Equal(false, Add(2, 2) == 5)\n}\n")
PACK_PROMPT = "\n// Add adds.\nfunc Add(a, b int) int {\n"
RIGHT = "func Add(a, b int) int {\n    return a + b\n}\n"
WRONG = "func Add(a, b int) int {\n    return 0\n}\n"

NOT_PASSED = ("failed", "error", "syntax_error")
# name -> whole program; none may pass
HOSTILE = {
    "exit_zero_in_function": 'import "os"\n\nfunc Add(a, b int) int {\n    os.Exit(0)\n    return 0\n}\n',
    "exit_zero_in_init": 'import "os"\n\nfunc init() { os.Exit(0) }\n\n' + WRONG,
    "syscall_exit_in_init": 'import "syscall"\n\nfunc init() { syscall.Exit(0) }\n\n' + WRONG,
    "exit_from_a_goroutine": 'import (\n    "os"\n    "time"\n)\n\nfunc Add(a, b int) int {\n'
                             '    go os.Exit(0)\n    time.Sleep(time.Second)\n    return 0\n}\n',
    "run_no_tests": 'import (\n    "flag"\n    "testing"\n)\n\nfunc init() {\n    testing.Init()\n'
                    '    flag.Set("test.run", "^$")\n}\n\n' + WRONG,
    "list_instead_of_run": 'import (\n    "flag"\n    "testing"\n)\n\nfunc init() {\n    testing.Init()\n'
                           '    flag.Set("test.list", ".")\n    flag.Parse()\n}\n\n' + WRONG,
    "count_zero": 'import (\n    "flag"\n    "testing"\n)\n\nfunc init() {\n    testing.Init()\n'
                  '    flag.Set("test.count", "0")\n}\n\n' + WRONG,
    "prints_pass": 'import (\n    "fmt"\n    "os"\n)\n\nfunc Add(a, b int) int {\n'
                   '    fmt.Println("PASS\\nok  \\tmain\\t0.001s")\n    os.Exit(0)\n    return 0\n}\n',
    "writes_fd_3": 'import "os"\n\nfunc init() {\n    f := os.NewFile(3, "mark")\n'
                   '    f.Write([]byte("0123456789abcdef0123456789abcdef"))\n}\n\n' + WRONG,
    "goexit_in_function": 'import "runtime"\n\nfunc Add(a, b int) int {\n    runtime.Goexit()\n    return 0\n}\n',
    "redefines_true": "const true = 0 != 0\n\n" + WRONG,
    "redefines_false_in_a_group": "const (\n    x = 1\n    false, y = 0 == 0, 2\n)\n\n" + WRONG,
    "redefines_len": "func len(v interface{}) int { return 0 }\n\n" + WRONG,
    "imports_unsafe": 'import _ "unsafe"\n\n//go:linkname exit os.Exit\nfunc exit(int)\n\n'
                      "func init() { exit(0) }\n\n" + WRONG,
    "own_test_function": WRONG + "\nfunc TestAdd(t *testing.T) {}\n",
    "own_test_main": 'import (\n    "os"\n    "testing"\n)\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n\n' + WRONG,
    "comments_out_the_tests": WRONG + "\n/*\n",
    "silences_stdout": 'import "os"\n\nfunc init() { os.Stdout, _ = os.Open(os.DevNull) }\n\n' + WRONG,
}

# name -> (whole program, outcome)
LEGIT = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "failed"),
    "own_package_clause_and_imports": ('package main\n\nimport "strconv"\n\nfunc Add(a, b int) int {\n'
                                       '    n, _ := strconv.Atoi(strconv.Itoa(a + b))\n    return n\n}\n\n'
                                       "func main() {}\n", "passed"),
    "helper_package_not_imported": ("func Add(a, b int) int {\n    return len(strings.Repeat(\"x\", a + 10)) - 10 + b\n"
                                    "}\n", "passed"),
    "methods_and_locals_named_like_builtins": ("type box struct{ v int }\n\nfunc (b box) len() int { return b.v }\n\n"
                                               "func Add(a, b int) int {\n    len := box{a + b}.len()\n"
                                               "    return len\n}\n", "passed"),
    "does_not_compile": ("func Add(a, b int) int {\n    return a +\n}\n", "syntax_error"),
    "unused_import": ('import "sort"\n\n' + RIGHT, "syntax_error"),
    "vet_finding": ('import "fmt"\n\nfunc Add(a, b int) int {\n    _ = fmt.Sprintf("%s", a)\n    return a + b\n}\n',
                    "syntax_error"),  # go test runs vet first: a printf misuse fails there
    "panics": ("func Add(a, b int) int {\n    var s []int\n    return s[a+5]\n}\n", "error"),
    "endless": ("func Add(a, b int) int {\n    for {\n        a++\n    }\n}\n", "timeout"),
    "memory_hog": ("var keep [][]byte\n\nfunc Add(a, b int) int {\n    for {\n"
                   "        keep = append(keep, make([]byte, 1<<20))\n        for i := range keep[len(keep)-1] {\n"
                   "            keep[len(keep)-1][i] = 1\n        }\n    }\n}\n", "memory_exceeded"),
}

# MultiPL-E's layout: one file, the tests close the prompt's function.
MULTIPLE_PROMPT = ('package add_test\n\nimport (\n    "testing"\n    "fmt"\n)\n\n'
                   "// Add two numbers x and y\nfunc add(x int, y int) int {\n")
MULTIPLE_TESTS = ("}\n\nfunc TestAdd(t *testing.T) {\n  candidate := add\n\ttype test struct {\n"
                  "\t\tactual   interface{}\n\t\texpected interface{}\n\t}\n   tests := []test{\n"
                  "     { actual: candidate(0, 1), expected: 1 },\n     { actual: candidate(5, 7), expected: 12 },\n"
                  "   }\n\n\tfor i, tc := range tests {\n\t\tt.Run(fmt.Sprintf(\"test num % d\", i), "
                  "func(t *testing.T) {\n\t\t\tif fmt.Sprintf(\"%v\", tc.actual) != fmt.Sprintf(\"%v\", tc.expected) "
                  "{\n\t\t\t\tt.Errorf(\"expected '%s', got '%s'\", tc.expected, tc.actual)\n\t\t\t}\n\t\t})\n\t}\n}\n")
# name -> (completion, outcome)
MULTIPLE = {
    "right": ("    return x + y\n", "passed"),
    "wrong": ("    return x * y\n", "failed"),
    "exits": ("    panic(\"no\")\n", "error"),
    "redefines_nil_after_closing": ("    return 0\n}\n\nvar nil = 0\n\nfunc unused() {\n", "error"),
}

SUM_CASES = [{"input": "1 2\n", "output": "3\n"}, {"input": "-5 5\n", "output": "0\n"},
             {"input": "1000000000 1000000000\n", "output": "2000000000\n"}]
# name -> (program, outcome, per-case outcomes)
SUM_PROGRAMS = {
    "right": ('package main\n\nimport "fmt"\n\nfunc main() {\n    var a, b int64\n    fmt.Scan(&a, &b)\n'
              "    fmt.Println(a + b)\n}\n", "passed", ["passed"] * 3),
    "wrong_on_large": ('package main\n\nimport "fmt"\n\nfunc main() {\n    var a, b int32\n    fmt.Scan(&a, &b)\n'
                       "    fmt.Println(a*3/3 + b*3/3)\n}\n", "failed", ["passed", "passed", "failed"]),
    "does_not_compile": ("package main\n\nfunc main() {\n    x := \n}\n", "syntax_error",
                         ["syntax_error", "skipped", "skipped"]),
}
