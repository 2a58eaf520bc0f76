"""Rust's pure logic, no engine: HumanEvalPack rows, the judge's copy of
the tests, the signature guard, the test names libtest will report, and
what a program is refused for."""

from __future__ import annotations

import pytest

from harness.problems import TestKind, parse_problem
from harness.sandbox.agent.rust import (
    guarded_tests,
    inner_attributes_end,
    libtest_names,
    multiple_tests,
    rust_first_error,
    rust_refusal,
    rust_tokens,
    signature_guard,
)

PACK_ROW = {
    "task_id": "Rust/8",
    "prompt": "fn main(){}\n\nuse std::collections::HashMap;\nuse md5;\n\n/*\n Sum and product.\n*/\n"
              "fn sum_product(numbers:Vec<i32>) -> (i32,i32){\n",
    "declaration": "\nuse std::collections::HashMap;\nuse md5;\n\nfn sum_product(numbers:Vec<i32>) -> (i32,i32){\n",
    "test": "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn test_sum_product() {\n"
            "        assert_eq!(sum_product(vec![]), (0, 1));\n    }\n\n}\n",
    "canonical_solution": "    (numbers.iter().sum(), numbers.iter().product())\n}\n", "entry_point": "sum_product",
}


def test_humanevalpack_rust_rows() -> None:
    problem = parse_problem(PACK_ROW, "pack.jsonl:1")
    assert (problem.test_kind, problem.language, problem.entry_point) == (TestKind.PROGRAM, "rust", "sum_product")
    spec = problem.test_spec()
    assert spec["prototype"] == "fn sum_product(numbers:Vec<i32>) -> (i32,i32){"
    assert spec["header"] == ["use std::collections::HashMap;", "use md5;"]


def test_the_tests_call_std_macros_by_path_and_see_the_prelude_unshadowed() -> None:
    text = guarded_tests(PACK_ROW["test"] + "// assert_eq!(x)\nfn f() { let s = \"vec![1]\"; x.vec!(); }\n")
    assert "::std::assert_eq!(sum_product(::std::vec![]), (0, 1));" in text
    assert "use super::*; use ::std::prelude::rust_2021::*; use ::core::primitive::*;" in text
    assert text.endswith('// assert_eq!(x)\nfn f() { let s = "vec![1]"; x.vec!(); }\n')  # comments, strings, methods


def test_multipl_e_rust_rows_become_a_test_module() -> None:
    row = {"name": "HumanEval_53_add", "language": "rs", "stop_tokens": ["\n}"],
           "prompt": "/// Add.\nfn add(x: isize, y: isize) -> isize {\n",
           "tests": "}\n\nfn main() {\n    let candidate = add;\n    assert_eq!(candidate(0, 1), 1);\n}\n"}
    problem = parse_problem(row, "multiple.jsonl:1")
    assert (problem.language, problem.entry_point) == ("rust", "add")
    module = multiple_tests(problem.test.lstrip()[1:])
    assert "pub fn main() {" in module and libtest_names(module) == ["harness_multiple::multiple"]
    assert "::std::assert_eq!(candidate(0, 1), 1);" in guarded_tests(module)


def test_libtest_names_of_the_tests() -> None:
    tests = PACK_ROW["test"] + ("mod more {\n    mod deeper {\n        #[test]\n        fn a() {}\n    }\n"
                                "    fn helper() {}\n}\n")
    assert libtest_names(tests) == ["tests::test_sum_product", "more::deeper::a"]


@pytest.mark.parametrize(("line", "guard"), [
    ("fn sum_product(numbers:Vec<i32>) -> (i32,i32){", "const _: fn(Vec<i32>) -> (i32,i32) = sum_product;"),
    ("fn f(m: HashMap<String, i32>, s: &str){", "const _: fn(HashMap<String, i32>, &str) -> () = f;"),
    ("fn g<T: Clone>(v: T) -> T{", ""),
    ("fn h<'a>(s: &'a str) -> &'a str{", ""),
])
def test_the_signature_guard(line: str, guard: str) -> None:
    made = signature_guard(line, line.split("(")[0].split()[-1].split("<")[0])
    assert (guard in made) if guard else made == ""


@pytest.mark.parametrize(("program", "refused"), [
    ("fn f() { unsafe { } }", "uses unsafe"),
    ('const S: &str = include_str!("main.rs");', "include_str"),
    ('#[path = "x.rs"]\nmod m;', "#[path]"),
    ("mod m;", "loads a module from a file"),
    ('#[no_mangle]\npub extern "C" fn exit() {}', "#[no_mangle]"),
    ("#[export_name = \"write\"]\nfn w() {}", "#[export_name]"),
    ("extern crate core as std;", "extern crate"),
    ("#![feature(lang_items)]", "#![feature]"),
    ('std::arch::global_asm!("");', "inline assembly"),
    ("#![allow(unused)]\n#[derive(Debug)]\nstruct S; // unsafe\nfn f() -> &'static str { \"unsafe\" }", ""),
    ("/* nested /* unsafe */ still a comment */ fn f() -> char { 'u' }", ""),
])
def test_what_a_rust_program_is_refused_for(program: str, refused: str) -> None:
    said = rust_refusal(program)
    assert (refused.strip("#[]!") in said) if refused else said == ""


def test_tokens_and_leading_attributes() -> None:
    source = "#![allow(unused)]\n#![deny(warnings)]\nfn f<'a>(x: &'a str) -> char { let r = r#\"a\"b\"#; 'x' }"
    assert [t[3] for t in rust_tokens(source)][-4:] == ['r#"a"b"#', ";", "'x'", "}"]
    assert source[:inner_attributes_end(source)] == "#![allow(unused)]\n#![deny(warnings)]"
    kinds = {t[3]: t[2] for t in rust_tokens(source)}
    assert kinds["'a"] == "life" and kinds["'x'"] == "char" and kinds['r#"a"b"#'] == "raw"


def test_the_first_compiler_error_with_its_place() -> None:
    text = ("warning: unused import\n --> main.rs:1:5\nerror[E0308]: mismatched types\n --> main.rs:9:5\n"
            "  |\nerror: aborting")
    assert rust_first_error(text) == "error[E0308]: mismatched types --> main.rs:9:5"
