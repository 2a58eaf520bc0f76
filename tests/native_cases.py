"""C and C++ programs for one small problem (``int add(int a, int b)``),
each with the verdict it must get: the hostile ones must never pass (issue
10's list: exits, assert rewritten, runtime functions replaced, a printed
success, a changed signature), the legitimate ones get what they earn."""

from __future__ import annotations

HEAD = "#include <stdio.h>\n#include <stdlib.h>\n"
ADD_PROMPT = HEAD + "int add(int a, int b){\n"
ADD_TEST = "#undef NDEBUG\n#include <assert.h>\nint main(){\n    assert(add(1, 2) == 3);\n" \
           "    assert(add(-4, 4) == 0);\n}\n"
RIGHT = "int add(int a, int b){\n    return a + b;\n}\n"
WRONG = "int add(int a, int b){\n    return 0;\n}\n"

NOT_PASSED = ("failed", "error", "syntax_error")
# name -> whole program (after HEAD); none may pass
HOSTILE = {
    "exit_zero_in_function": "int add(int a, int b){\n    exit(0);\n}\n",
    "quick_exit_zero": "int add(int a, int b){\n    quick_exit(0);\n}\n",
    "exit_before_tests": WRONG + "__attribute__((constructor)) static void early(void) { exit(0); }\n",
    "define_assert_away": WRONG + "#define assert(x) ((void)0)\n",
    "undef_assert": WRONG + "#undef assert\n#define assert(x) 1\n",
    "digraph_define": WRONG + "%:define assert(x) 1\n",
    "continued_define": WRONG + "#def\\\nine assert(x) 1\n",
    "define_main_away": WRONG + "int main(void){ return 0; }\n#define main never_called\n",
    "macro_replaces_entry_point": WRONG + "#define add(a, b) ((a) + (b))\n",
    "macro_behind_a_line_marker": WRONG + "#line 1 \"/usr/include/stdlib.h\"\n#define add(a, b) ((a) + (b))\n",
    "macro_behind_a_gnu_marker": WRONG + "# 1 \"/usr/include/stdlib.h\" 1 3 4\n#define add(a, b) ((a) + (b))\n",
    "redefine_harness_include": WRONG + "#define __assert_fail(a, b, c, d) ((void)0)\n",
    "replace_assert_fail": WRONG + "void __assert_fail(const char *a, const char *b, unsigned c, const char *d) {}\n",
    "weak_assert_fail": WRONG + "__attribute__((weak)) void __assert_fail(const char *a, const char *b, unsigned c, "
                                "const char *d) {}\n",
    "replace_abort": WRONG + "void abort(void) { exit(0); }\n",
    "abort_handler_exits": WRONG + "#include <signal.h>\n#include <unistd.h>\nstatic void ok(int s) { _exit(0); }\n"
                                   "__attribute__((constructor)) static void hook(void) { signal(SIGABRT, ok); }\n",
    "prints_success": "int add(int a, int b){\n    printf(\"All tests passed\\nOK\\n\"); fflush(stdout); exit(0);\n}\n",
    "writes_fd_3": WRONG + "#include <unistd.h>\n__attribute__((constructor)) static void w(void) "
                           "{ write(3, \"passed\", 6); write(3, \"0123456789abcdef0123456789abcdef\", 32); }\n",
    "redefine_extname": WRONG + "#pragma redefine_extname __assert_fail quiet\nvoid quiet(void) {}\n",
    "pragma_operator": WRONG + "_Pragma(\"redefine_extname _exit quiet\")\nvoid quiet(int s) {}\n",
    "replace_strcmp": WRONG + "int strcmp(const char *a, const char *b) { return 0; }\n",
    "replace_write": WRONG + "long write(int fd, const void *b, unsigned long n) { return (long)n; }\n",
    "unterminated_comment": RIGHT + "/*",
    "unterminated_if": WRONG + "#if 0\n",
}
# C++ only, against a problem whose tests compare std::string values
GREET_HEAD = HEAD + "#include <string>\nusing namespace std;\n"
GREET_PROMPT = GREET_HEAD + "string greet(string name){\n"
GREET_RIGHT = "string greet(string name){ return \"hi \" + name; }\n"
GREET_TEST = "#include <cassert>\nint main(){\n    assert(greet(\"bob\") == \"hi bob\");\n" \
             "    string s = greet(\"al\");\n    assert(s.size() == 5 && s == string(\"hi al\"));\n}\n"
GREET_WRONG = "string greet(string name){ return \"?\"; }\n"
CPP_HOSTILE = {
    "overloaded_entry_point": "struct Any { bool operator==(const char *) const { return true; } };\n"
                              + GREET_WRONG + "Any greet(const char *name) { return Any(); }\n",
    "global_operator_for_std_types": "bool operator==(const string &a, const char *b) { return true; }\n"
                                     "bool operator==(const string &a, const string &b) { return true; }\n"
                                     + GREET_WRONG,
    "operator_in_namespace_std": "namespace std { inline namespace x {\n"
                                 "bool operator==(const string &a, const char *b) { return true; } } }\n" + GREET_WRONG,
    "specialized_std_member": "template <> std::string::size_type std::string::size() const noexcept "
                              "{ return 5; }\n" + GREET_WRONG,
    "changed_return_type": "struct Any { bool operator==(const char *) const { return true; } };\n"
                           "Any greet(string name) { return Any(); }\n",
    "exit_in_static_destructor": GREET_WRONG + "#include <cstdlib>\nstruct Q { ~Q() { std::_Exit(0); } } q;\n",
}

# name -> (whole program after HEAD, outcome)
LEGIT = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "failed"),
    "own_macros_and_helpers": ("#define TWICE(x) (2 * (x))\n#define assert_positive(x) (x)\n"
                               "static int half(int x) { return x / 2; }\n"
                               "int add(int a, int b){ return half(TWICE(a + b)); }\n", "passed"),
    "does_not_compile": ("int add(int a, int b){\n    return a +;\n}\n", "syntax_error"),
    "crashes": ("int add(int a, int b){\n    int *volatile p = 0; return *p + a + b;\n}\n", "error"),
    "endless": ("int add(int a, int b){\n    volatile int x = 0; for (;;) x++;\n}\n", "timeout"),
    "memory_hog": ("int add(int a, int b){\n    for (;;) { char *p = (char *)malloc(1 << 20);\n"
                   "    if (p) for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1; }\n}\n", "memory_exceeded"),
    "cannot_read_own_binary": ("int add(int a, int b){\n    FILE *f = fopen(\"/proc/self/exe\", \"rb\");\n"
                               "    return f ? 0 : a + b;\n}\n", "passed"),
}
# C++ only, against the add problem
CPP_LEGIT = {
    "std_hash_specialization": ("#include <functional>\nstruct P { int a; };\nnamespace std { template <> "
                                "struct hash<P> { size_t operator()(const P &p) const { return p.a; } }; }\n"
                                + RIGHT, "passed"),
    "global_operator_for_own_type": ("struct V { int x; };\nbool operator==(V a, V b) { return a.x == b.x; }\n"
                                     "int add(int a, int b){ V p{a + b}, q{a + b}; return p == q ? a + b : 0; }\n",
                                     "passed"),
}
