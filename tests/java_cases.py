"""Java programs for small problems, in the two layouts Java suites use,
each with the verdict it must get: the hostile ones must never pass (issue
10's list: ``System.exit(0)``, printed success; and what a shared JVM
invites: a class that replaces ``java.util.Arrays`` for the tests, an
``ArrayList`` whose ``equals`` always says yes, reflection on the judge,
its class file, disabled assertions), the legitimate ones get what they earn."""

from __future__ import annotations

# HumanEvalPack's layout: the prompt's imports and class Solution, the tests
# a public class Main that throws AssertionError.
PACK_PROMPT = ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n    /** Add two numbers. */\n"
               "    public int add(int a, int b) {\n")
PACK_TEST = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        List<Boolean> correct = Arrays.asList(
                s.add(1, 2) == 3,
                s.add(-4, 4) == 0,
                s.add(2, 2) != 5
        );
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""
HEAD = "import java.util.*;\nimport java.lang.*;\n\n"
RIGHT = HEAD + "class Solution {\n    public int add(int a, int b) {\n        return a + b;\n    }\n}\n"
WRONG = HEAD + "class Solution {\n    public int add(int a, int b) {\n        return 0;\n    }\n}\n"


def solution(body: str, extra: str = "") -> str:
    """A whole program: class Solution with ``body`` in add, then ``extra``."""
    return HEAD + "class Solution {\n    public int add(int a, int b) {\n" + body + "    }\n}\n" + extra


NOT_PASSED = ("failed", "error", "syntax_error", "timeout")
# name -> whole program; none may pass
HOSTILE = {
    "exit_zero_in_method": solution("        System.exit(0);\n        return 0;\n"),
    "halt_in_method": solution("        Runtime.getRuntime().halt(0);\n        return 0;\n"),
    "exit_zero_in_static_init": HEAD + "class Solution {\n    static { System.exit(0); }\n"
                                "    public int add(int a, int b) {\n        return 0;\n    }\n}\n",
    "exit_from_a_thread": solution("        Thread t = new Thread(() -> System.exit(0));\n        t.start();\n"
                                   "        try { t.join(); } catch (InterruptedException e) { }\n        return 0;\n"),
    "replaces_arrays": WRONG + "class Arrays {\n    @SafeVarargs\n    static <T> List<T> asList(T... items) {\n"
                               "        return new ArrayList<>();\n    }\n}\n",
    "replaces_boolean_list": WRONG + "class List<T> extends java.util.ArrayList<T> {\n"
                                     "    public boolean contains(Object o) { return false; }\n}\n",
    "prints_success": solution('        System.out.println("PASS");\n        System.out.println("0".repeat(32));\n'
                               "        return 0;\n"),
    "reads_the_judges_mark": solution(
        "        try {\n            for (StackTraceElement frame : new Throwable().getStackTrace()) {\n"
        "                Class<?> type = Class.forName(frame.getClassName());\n"
        "                for (java.lang.reflect.Field field : type.getDeclaredFields()) {\n"
        "                    field.setAccessible(true);\n"
        "                    Object value = field.get(null);\n"
        "                    System.out.println(field.getName() + java.util.Arrays.toString((byte[]) value));\n"
        "                }\n            }\n        } catch (Throwable denied) { }\n        return 0;\n"),
    "reads_the_class_files": solution(
        "        try {\n            for (String part : System.getProperty(\"java.class.path\").split(\":\")) {\n"
        "                java.io.File[] files = new java.io.File(part).listFiles();\n"
        "                for (java.io.File f : files) {\n"
        "                    System.out.write(java.nio.file.Files.readAllBytes(f.toPath()));\n"
        "                }\n"
        "            }\n        } catch (Throwable denied) { }\n        return 0;\n"),
    "reads_its_memory": solution(
        "        try {\n            System.out.write(java.nio.file.Files.readAllBytes("
        "java.nio.file.Path.of(\"/proc/self/mem\")));\n        } catch (Throwable denied) { }\n        return 0;\n"),
    "silences_the_tests": solution("        System.setErr(new java.io.PrintStream("
                                   "java.io.OutputStream.nullOutputStream()));\n"
                                   "        return a + b == 3 ? 3 : 0;\n"),
    "shutdown_hook": solution("        Runtime.getRuntime().addShutdownHook(\n"
                              "            new Thread(() -> System.out.println(\"ok\")));\n"
                              "        return 0;\n"),
    "throws_thread_death": solution("        throw new ThreadDeath();\n"),
    "own_main_class": WRONG + "public class Main {\n    public static void main(String[] args) { }\n}\n",
    "comments_out_the_tests": WRONG + "/*\n",
}

# name -> (whole program, outcome)
LEGIT = {
    "right": (RIGHT, "passed"),
    "wrong": (WRONG, "failed"),
    "streams_and_helpers": (HEAD + "import java.util.stream.*;\n\nclass Solution {\n"
                            "    record Pair(int a, int b) implements Comparable<Pair> {\n"
                            "        public int compareTo(Pair o) { return Integer.compare(a, o.a); }\n    }\n"
                            "    public int add(int a, int b) {\n"
                            "        return IntStream.of(a, b).sum() + new Pair(0, 0).compareTo(new Pair(0, 1));\n"
                            "    }\n}\n", "passed"),
    "reads_a_property": (solution('        return System.getProperty("line.separator").length() * 0 + a + b;\n'),
                         "passed"),
    "own_exception": (HEAD + "class Solution {\n    static class Oops extends RuntimeException {\n"
                      "        public String getMessage() { return \"oops\"; }\n    }\n"
                      "    public int add(int a, int b) {\n        try { throw new Oops(); }\n"
                      "        catch (Oops e) { return a + b; }\n    }\n}\n", "passed"),
    "does_not_compile": (solution("        return a +;\n"), "syntax_error"),
    "throws": (solution("        return a / 0;\n"), "error"),
    "endless": (solution("        while (true) { a++; }\n"), "timeout"),
    "memory_hog": (solution("        List<long[]> keep = new ArrayList<>();\n"
                            "        while (true) keep.add(new long[1 << 20]);\n"), "memory_exceeded"),
}

# An ArrayList whose equals always says yes, against one that only fills itself.
LIST_PROMPT = ("import java.util.*;\nimport java.lang.*;\n\nclass Solution {\n"
               "    public List<Integer> twice(List<Integer> xs) {\n")
LIST_TEST = """public class Main {
    public static void main(String[] args) {
        Solution s = new Solution();
        List<Boolean> correct = Arrays.asList(
                s.twice(new ArrayList<>(Arrays.asList(1, 2))).equals(Arrays.asList(2, 4)),
                s.twice(new ArrayList<>()).equals(Arrays.asList())
        );
        if (correct.contains(false)) {
            throw new AssertionError();
        }
    }
}
"""
LIST_HEAD = LIST_PROMPT
# name -> (whole program, outcome)
LISTS = {
    "right": (LIST_HEAD + "        List<Integer> out = new ArrayList<>();\n        for (int x : xs) out.add(2 * x);\n"
              "        return out;\n    }\n}\n", "passed"),
    "double_brace": (LIST_HEAD + "        return new ArrayList<Integer>() {{ for (int x : xs) add(2 * x); }};\n"
                     "    }\n}\n", "passed"),
    "always_equal": (LIST_HEAD + "        return new ArrayList<Integer>() {\n"
                     "            public boolean equals(Object o) { return true; }\n        };\n    }\n}\n", "error"),
    "always_equal_own_list": (LIST_HEAD + "        return new Yes();\n    }\n}\n"
                              "class Yes extends AbstractList<Integer> {\n"
                              "    public Integer get(int i) { return 0; }\n    public int size() { return 0; }\n"
                              "    public boolean equals(Object o) { return true; }\n}\n", "error"),
}

# MultiPL-E's layout: the prompt's class holds the tests' main of asserts
# (run with -ea); the tests close the method the completion left open.
MULTIPLE_PROMPT = ("import java.util.*;\nimport java.lang.reflect.*;\nimport org.javatuples.*;\n"
                   "import java.security.*;\nimport java.math.*;\nimport java.io.*;\nimport java.util.stream.*;\n"
                   "class Problem {\n"
                   "    // Add two numbers x and y\n    public static long add(long x, long y) {\n")
MULTIPLE_TESTS = ("    }\n    public static void main(String[] args) {\n    assert(add((0l), (1l)) == (1l));\n"
                  "    assert(add((5l), (7l)) == (12l));\n"
                  "    assert(Pair.with(add(1l, 1l), 3l).equals(Pair.with(2l, 3l)));\n    }\n\n}\n")
# name -> (completion, outcome)
MULTIPLE = {
    "right": ("        return x + y;\n", "passed"),
    "wrong": ("        return x * y;\n", "failed"),
    "member_class_replaces_pair": ("        return 0;\n    }\n    static class Pair {\n"
                                   "        static Pair with(Object a, Object b) { return new Pair(); }\n"
                                   "        public boolean equals(Object o) { return true; }\n    }\n"
                                   "    static long unused() {\n        return 0;\n", "error"),
    "field_hides_a_type": ("        return 0;\n    }\n    static Object Math = null;\n"
                           "    static long unused() {\n        return 0;\n", "error"),
    "disables_assertions": ("        return 0;\n    }\n    static {\n"
                            "        ClassLoader.getSystemClassLoader().setDefaultAssertionStatus(false);\n"
                            "        ClassLoader.getSystemClassLoader().setClassAssertionStatus(\"Problem\", false);\n"
                            "    }\n    static long unused() {\n        return 0;\n", "failed"),
}

SUM_CASES = [{"input": "1 2\n", "output": "3\n"}, {"input": "-5 5\n", "output": "0\n"},
             {"input": "1000000000 1000000000\n", "output": "2000000000\n"}]
# name -> (program, outcome, per-case outcomes)
SUM_PROGRAMS = {
    "right": ("import java.util.*;\n\npublic class Main {\n    public static void main(String[] args) {\n"
              "        Scanner in = new Scanner(System.in);\n        long a = in.nextLong(), b = in.nextLong();\n"
              "        System.out.println(a + b);\n    }\n}\n", "passed", ["passed"] * 3),
    "wrong_on_large": ("import java.util.*;\n\nclass Sum {\n    public static void main(String[] args) {\n"
                       "        Scanner in = new Scanner(System.in);\n        int a = in.nextInt(), b = in.nextInt();\n"
                       "        System.out.println((a + b) % 1000000000);\n    }\n}\n", "failed",
                       ["passed", "passed", "failed"]),
    "does_not_compile": ("public class Main {\n    public static void main(String[] args) {\n        int x = ;\n"
                         "    }\n}\n", "syntax_error", ["syntax_error", "skipped", "skipped"]),
}
