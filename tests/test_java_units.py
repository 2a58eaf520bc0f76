"""The Java runner's pure parts, without a JVM: which source a class file
came from (how the program's classes are told from the judge's), the names
the tests' imports make visible, the file a compilation unit must be in."""

from __future__ import annotations

import base64
import re

import pytest

from harness.sandbox.agent.java import class_source_file, imports_of, java_file_name, java_judge

# javac -g:source,lines of: class Solution { int x = 1; void f(long y) { } class In {} }
SOLUTION_CLASS = base64.b64decode(
    "yv66vgAAAD0AGAoAAgADBwAEDAAFAAYBABBqYXZhL2xhbmcvT2JqZWN0AQAGPGluaXQ+AQADKClWCQAIAAkHAAoMAAsADAEACFNv"
    "bHV0aW9uAQABeAEAAUkBAARDb2RlAQAPTGluZU51bWJlclRhYmxlAQABZgEABChKKVYBAApTb3VyY2VGaWxlAQANU29sdXRpb24u"
    "amF2YQEAC05lc3RNZW1iZXJzBwAVAQALU29sdXRpb24kSW4BAAxJbm5lckNsYXNzZXMBAAJJbgAgAAgAAgAAAAEAAAALAAwAAAAC"
    "AAAABQAGAAEADQAAACIAAgABAAAACiq3AAEqBLUAB7EAAAABAA4AAAAGAAEAAAABAAAADwAQAAEADQAAABkAAAADAAAAAbEAAAAB"
    "AA4AAAAGAAEAAAABAAMAEQAAAAIAEgATAAAABAABABQAFgAAAAoAAQAUAAgAFwAA")


def test_a_class_file_names_the_source_it_came_from() -> None:
    assert class_source_file(SOLUTION_CLASS) == "Solution.java"
    assert class_source_file(b"not a class file") == ""


def test_the_tests_imports_say_which_packages_and_types_they_see() -> None:
    header = ["import java.util.*;", "import java.util.stream.Collectors;", "import static java.lang.Math.max;",
              "import org.javatuples.*;"]
    assert imports_of(header) == (["java.lang", "java.util", "org.javatuples"], ["java.util.stream.Collectors"])


@pytest.mark.parametrize(("source", "name"), [
    ("class Solution {}", "Solution.java"),
    ("import java.util.*;\npublic class Main {\n}\n", "Main.java"),
    ("public final class Helper {}\nclass Solution {}", "Helper.java"),
])
def test_a_compilation_unit_goes_in_its_public_types_file(source: str, name: str) -> None:
    assert java_file_name(source, "Solution") == name


def test_the_judges_mark_is_two_signed_byte_arrays_whose_xor_it_is() -> None:
    mark = "0123456789abcdef0123456789abcdef"
    source = java_judge("HarnessJudge_x", "Main", "/exec/b1/program/", ["import java.util.*;"], mark)
    half, mask = ([int(value) for value in re.search(name + r" = \{([^}]*)\}", source)[1].split(",")]
                  for name in ("HALF", "MASK"))
    assert all(-128 <= value < 128 for value in half + mask)
    assert bytes((a ^ b) & 0xFF for a, b in zip(half, mask, strict=True)).decode() == mark
    assert mark not in source and '"java.lang", "java.util"' in source and "Main.main(args)" in source
